"""The animations (toyclf.lecture.plots.animations, python -m toyclf.animate): frames, files, sizes, settings left as they were."""

from __future__ import annotations

import inspect
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.contour import ContourSet
from PIL import Image

from toyclf import DiffusionClassifier
from toyclf.animate import ANIMATIONS, main
from toyclf.lecture.plots import animations
from toyclf.mapping import make_grid
from toyclf.pruning import resolve_pruning
from toyclf.sampling import sample


def frames_of(path) -> int:
    with Image.open(path) as gif:
        return gif.n_frames


def read_gif(path) -> tuple[list[np.ndarray], list[int], tuple[int, int], int | None]:
    """A GIF read back: its frames as RGB arrays [H, W, 3] (int), each frame's duration (ms), its
    size (width, height) and its loop count (0: for ever)."""
    with Image.open(path) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB"), dtype=int))
            durations.append(gif.info["duration"])
        return frames, durations, gif.size, gif.info.get("loop")


def changed_below_title(a: np.ndarray, b: np.ndarray, title_rows: int = 40) -> float:
    """The fraction of pixels under the title band that two frames paint clearly differently (by
    more than 64 of 255 in some channel): each GIF frame has its own palette, so a frame whose
    content stands still differs from the one before only by a few stray pixels (~0.1 %)."""
    return float((np.abs(a - b).max(-1)[title_rows:] > 64).mean())


@pytest.mark.parametrize("method, n_records", [("ddpm", 101), ("ddim", 11)])
def test_sampling_reports_every_step_and_ends_on_its_result(prototype_denoiser, method, n_records):
    path = []
    labels = torch.tensor([0, 1, 2])
    x0 = sample(
        prototype_denoiser, labels, method=method, n_steps=10, seed=0, each_step=lambda t, x: path.append((t, x))
    )
    assert len(path) == n_records  # x_T, then one record per step (T = 100 for this denoiser)
    assert path[0][0] == 100 and path[-1][0] == 0
    torch.testing.assert_close(path[-1][1], x0, rtol=0, atol=0)
    assert torch.equal(x0, sample(prototype_denoiser, labels, method=method, n_steps=10, seed=0))  # unchanged by it


def test_forward_and_reverse_process(fitted, spirals_split, tmp_path):
    X_train, y_train = spirals_split[:2]
    forward = animations.forward_process(
        fitted.scaler_.transform(X_train[:200]), y_train[:200], fitted.denoiser_.schedule, n_frames=5
    )
    reverse = animations.reverse_sampling(fitted.denoiser_, 20, n_frames=4)
    for name, anim, n in (("forward", forward, 5), ("reverse", reverse, 4)):
        path = animations.save_animation(anim, tmp_path / f"{name}.gif")
        assert frames_of(path) == n and path.stat().st_size < 2e6
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_maps_gathering_evidence_and_early_stopping(fitted, spirals_split, tmp_path):
    X_train, _, X_test, y_test = spirals_split
    xx, yy, _ = make_grid(X_train, 12)
    before = fitted.get_params()
    evidence = animations.gathering_evidence(fitted, xx, yy, X_test[:100], y_test[:100], n_trials=(1, 2, 4))
    assert fitted.get_params() == before  # the classifier's settings are restored
    stopping = animations.early_stopping(fitted, xx, yy)
    looks = len(resolve_pruning(fitted.pruning).stage_ends(fitted.n_trials))  # a frame per look of the rule
    assert frames_of(animations.save_animation(evidence, tmp_path / "evidence.gif")) == 3
    assert frames_of(animations.save_animation(stopping, tmp_path / "stopping.gif")) == looks


def keys_of(fig) -> tuple[list[str], list[str]]:
    """The legend's entries and the colourbars' labels of an animation's figure."""
    (legend,) = fig.legends
    bars = [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]
    return [text.get_text() for text in legend.get_texts()], bars


def test_frames_name_the_classes_and_key_every_probability_and_count(fitted, spirals_split, tmp_path):
    X_train, y_train, X_test, y_test = spirals_split
    forward = animations.forward_process(
        fitted.scaler_.transform(X_train[:50]), y_train[:50], fitted.denoiser_.schedule, n_frames=2, class_labels=[0, 1]
    )
    assert keys_of(plt.gcf()) == (["class 0", "class 1"], [])
    xx, yy, _ = make_grid(X_train, 16)
    evidence = animations.gathering_evidence(fitted, xx, yy, X_test[:50], y_test[:50], n_trials=(1, 4))
    fig = plt.gcf()
    assert keys_of(fig) == (["class 0", "class 1", "boundary: p(c | x) = 0.5"], ["p(class 1 | x)"])
    animations.save_animation(evidence, tmp_path / "evidence.gif")  # draws every frame
    boundaries = [artist for artist in fig.axes[0].get_children() if isinstance(artist, ContourSet)]
    assert len(boundaries) == 1  # each frame replaces the boundary of the one before
    stopping = animations.early_stopping(fitted, xx, yy)
    legend, bars = keys_of(plt.gcf())
    assert legend[:3] == ["class 0", "class 1", "not decided yet"] and bars == ["denoiser evaluations per point"]
    for anim in (forward, stopping):
        animations.save_animation(anim, tmp_path / "frames.gif")


def test_the_command_writes_every_animation(tmp_path, capsys):
    assert main(["--steps", "30", "--grid", "8", "--frames", "3", "--out", str(tmp_path), "--quiet"]) == 0
    assert "animations in" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.gif" for name in ANIMATIONS)
    default = DiffusionClassifier()  # the command's classifier: the estimator's defaults
    looks = len(resolve_pruning(default.pruning).stage_ends(default.n_trials))
    evidence_frames = len(inspect.signature(animations.gathering_evidence).parameters["n_trials"].default)
    # name: (frames, (width, height) in pixels, frames per second), as animations.py and animate.py promise:
    # --frames for the two processes, a frame per N of gathering_evidence and per look of early stopping;
    # SCATTER_SIZE 368 x 408, MAP_SIZE 448 x 408, early stopping's 8.4 x 4.6 inches at DPI 80; 10 and 1.5 fps
    expected = {
        "forward_process": (3, (368, 408), 10),
        "reverse_sampling": (3, (368, 408), 10),
        "gathering_evidence": (evidence_frames, (448, 408), 1.5),
        "early_stopping": (looks, (672, 368), 1.5),
    }
    assert (evidence_frames, looks) == (9, 6)
    for name, (n_frames, size, fps) in expected.items():
        frames, durations, gif_size, loop = read_gif(tmp_path / f"{name}.gif")
        assert len(frames) == n_frames, name
        assert gif_size == size and all(frame.shape == (size[1], size[0], 3) for frame in frames), name
        assert loop == 0, name  # it plays for ever (in the README)
        # the first and last frames held long enough to read them (HOLD_SECONDS), every frame between alike,
        # for 1 / fps (GIFs count in hundredths of a second)
        first, last = animations.HOLD_SECONDS
        assert durations[0] == max(round(1000 * first), round(1000 / fps, -1)), (name, durations)
        assert durations[-1] == max(round(1000 * last), round(1000 / fps, -1)), (name, durations)
        assert all(abs(duration - 1000 / fps) < 10 for duration in durations[1:-1]), (name, durations)
        # the animation moves: no frame repeats the one before it, and the last is far from the first
        assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(frames)), name
        assert changed_below_title(frames[0], frames[-1]) > 0.01, name
        if name in ("forward_process", "reverse_sampling"):  # the points move at every frame
            assert all(changed_below_title(a, b) > 0.01 for a, b in itertools.pairwise(frames)), name


@pytest.mark.parametrize("args", [["--grid", "1"], ["--frames", "1"], ["--steps", "0"]])
def test_the_command_refuses_bad_sizes(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert args[0] in capsys.readouterr().err


def test_no_step_is_shown_twice_however_many_frames_are_asked():
    from toyclf.lecture.plots.animations import _evenly_in_noise
    from toyclf.schedule import NoiseSchedule

    noise_std = np.sqrt(1 - NoiseSchedule.cosine(1000).shifted(4.0).alphas_cumprod.numpy())  # [T], rising
    for frames, backwards in ((40, False), (1000, False), (1000, True)):
        levels = noise_std[::-1] if backwards else noise_std  # the reverse process records noise first
        steps = _evenly_in_noise(levels, frames)
        assert len(set(steps.tolist())) == len(steps) <= frames
        assert np.all(np.diff(levels[steps]) > 0)  # from the least noise to the most, each once
    assert len(_evenly_in_noise(noise_std, 40)) == 40  # few frames: every one asked for
