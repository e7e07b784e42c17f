"""The animations (toyclf.lecture.plots.animations, python -m toyclf.animate): frames, files, sizes, settings left as they were."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.contour import ContourSet
from PIL import Image

from toyclf.animate import ANIMATIONS, main
from toyclf.lecture.plots import animations
from toyclf.lecture.plots.maps import make_grid
from toyclf.pruning import resolve_pruning
from toyclf.sampling import sample


def frames_of(path) -> int:
    with Image.open(path) as gif:
        return gif.n_frames


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
    for name in ANIMATIONS:
        assert (tmp_path / f"{name}.gif").stat().st_size > 0
    assert "animations in" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--grid", "1"], ["--frames", "1"], ["--steps", "0"]])
def test_the_command_refuses_bad_sizes(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert args[0] in capsys.readouterr().err
