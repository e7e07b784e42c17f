"""Animations: diffusion as a process in time, and the classifier gathering evidence.

Each function computes its frames, then returns a matplotlib ``FuncAnimation`` that only redraws
them; :func:`save_animation` writes it as a GIF (Pillow). Points live in the denoiser's space
(the standardised data), where the noise is N(0, I).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.colors import LogNorm
from PIL import Image, ImageSequence

from toyclf.estimator import log_posterior
from toyclf.lecture.plots.keys import boundary_handle, class_colors, class_legend, patch_handle, posterior_colorbar
from toyclf.lecture.plots.maps import draw_boundary, finish_map, posterior_image, scatter_classes
from toyclf.mapping import probability_map
from toyclf.pruning import resolve_pruning
from toyclf.sampling import sample
from toyclf.utils.files import atomic_write

DPI = 80
SCATTER_SIZE = (4.6, 5.1)  # inches, at DPI: a 368 x 408 pixel GIF (the legend below the points)
MAP_SIZE = (5.6, 5.1)  # with a colourbar on the right: 448 x 408
LIMIT = 3.5  # the scatter animations show [-LIMIT, LIMIT]^2 of the standardised space
FONTSIZE = 12  # at DPI 80, 13 px; about 18 px on a slide that shows the GIF 560 px tall


def _animate(title, titles: Sequence[str], show_frame) -> FuncAnimation:
    """Frame i: ``show_frame(i)`` redraws the figure's content, ``titles[i]`` goes into the text ``title``."""

    def show(i: int) -> None:
        show_frame(i)
        title.set_text(titles[i])

    return FuncAnimation(title.figure, show, frames=len(titles))


def _scatter_animation(
    frames: Sequence[np.ndarray],
    y_index: np.ndarray,
    n_classes: int,
    titles: Sequence[str],
    class_labels: Sequence | None = None,
):
    """Points [n, 2] moving through ``frames``, coloured by class, one title per frame, the classes named below."""
    fig = plt.figure(figsize=SCATTER_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    points = ax.scatter(*frames[0].T, c=class_colors(n_classes)[y_index], s=5, alpha=0.8, linewidths=0)
    ax.set(xlim=(-LIMIT, LIMIT), ylim=(-LIMIT, LIMIT), xticks=[], yticks=[], aspect="equal")
    class_legend(fig, n_classes, class_labels, fontsize=FONTSIZE)
    return _animate(ax.set_title(titles[0], fontsize=FONTSIZE), titles, lambda i: points.set_offsets(frames[i]))


def _evenly_in_noise(noise_std: np.ndarray, n_frames: int) -> np.ndarray:
    """Indexes into ``noise_std`` (sqrt(1 - abar_t) of each recorded step) nearest to n_frames
    evenly spaced noise levels from its smallest to its largest: frames that change evenly to
    the eye, whatever the schedule. A step nearest to two levels is shown once (a GIF merges
    repeated frames anyway), so more frames than the schedule has distinct steps give fewer."""
    levels = np.linspace(noise_std.min(), noise_std.max(), n_frames)  # [n_frames]
    nearest = np.abs(noise_std[None, :] - levels[:, None]).argmin(1)  # [n_frames]
    first = np.unique(nearest, return_index=True)[1]  # where each step first appears
    return nearest[np.sort(first)]  # [<= n_frames], in the order of the levels


def _noising_title(process: str, t: int, abar_t: float) -> str:
    """The step and its mix: x_t has sqrt(abar_t) of the signal and sqrt(1 - abar_t) of the noise."""
    return f"{process}, t = {t}: signal {np.sqrt(abar_t):.2f}, noise {np.sqrt(1 - abar_t):.2f}"


def forward_process(
    x0: np.ndarray,
    y_index: np.ndarray,
    schedule,
    *,
    n_frames: int = 40,
    seed: int = 0,
    class_labels: Sequence | None = None,
):
    """q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4), one fixed
    eps per point, from t = 0 to T - 1 (frames evenly spaced in the noise's size sqrt(1 - abar_t)).
    ``x0`` [n, 2] standardised points, ``y_index`` [n]; ``class_labels`` name the classes in the legend."""
    eps = np.random.default_rng(seed).standard_normal(x0.shape)  # [n, 2]
    abar = schedule.alphas_cumprod.numpy()  # [T]
    steps = _evenly_in_noise(np.sqrt(1 - abar), n_frames)
    frames = [np.sqrt(abar[t]) * x0 + np.sqrt(1 - abar[t]) * eps for t in steps]
    titles = [_noising_title("forward", t, abar[t]) for t in steps]
    n_classes = int(y_index.max()) + 1 if class_labels is None else len(class_labels)
    return _scatter_animation(frames, y_index, n_classes, titles, class_labels)


def reverse_sampling(
    denoiser,
    n_per_class: int,
    *,
    clip: float | None = None,
    n_frames: int = 40,
    seed: int = 0,
    class_labels: Sequence | None = None,
):
    """DDPM sampling (the sampling algorithm of Ho et al. 2020) of ``n_per_class`` points of every
    class, from pure noise x_T to x_0: each class condensing out of the noise."""
    labels = torch.arange(denoiser.n_classes).repeat_interleave(n_per_class)  # [n]
    path: list[tuple[int, np.ndarray]] = []
    sample(denoiser, labels, method="ddpm", clip=clip, seed=seed, each_step=lambda t, x: path.append((t, x.numpy())))
    abar = np.append(denoiser.schedule.alphas_cumprod.numpy(), 0.0)  # t = T: pure noise
    keep = _evenly_in_noise(np.array([np.sqrt(1 - abar[t]) for t, _ in path]), n_frames)[::-1]  # noise first
    frames = [path[i][1] for i in keep]
    titles = [_noising_title("reverse (DDPM)", path[i][0], abar[path[i][0]]) for i in keep]
    return _scatter_animation(frames, labels.numpy(), denoiser.n_classes, titles, class_labels)


def gathering_evidence(
    classifier, xx: np.ndarray, yy: np.ndarray, X_test, y_test, *, n_trials=(1, 2, 4, 8, 16, 32, 64, 128, 256)
):
    """The posterior map with every class on N shared (t, eps) trials, N doubling, and the held-out
    accuracy of each N in the title (the paper's Algorithm 1 with more and more Monte Carlo
    evidence); the boundary (p = 0.5) moves as the evidence grows. ``classifier`` is a fitted
    DiffusionClassifier; its settings are restored afterwards."""
    saved = classifier.get_params()
    classes = classifier.classes_
    probas, titles = [], []
    try:
        for n in n_trials:
            classifier.set_params(n_trials=n, pruning=None)
            probas.append(probability_map(classifier, xx, yy))  # [r, r, K]
            accuracy = classifier.score(X_test, y_test)
            titles.append(f"{n} trial{'s' if n > 1 else ''} per class: test accuracy {accuracy:.3f}")
    finally:
        classifier.set_params(**saved)
    K = len(classes)
    fig = plt.figure(figsize=MAP_SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    image = ax.imshow(
        posterior_image(probas[0]), origin="lower", extent=extent, aspect="auto", interpolation="bilinear"
    )
    scatter_classes(ax, X_test, np.searchsorted(classes, y_test), K, size=3, alpha=0.3)
    finish_map(ax, xx, yy)
    posterior_colorbar(fig, ax, K, classes, fontsize=FONTSIZE)
    class_legend(fig, K, classes, extra=[boundary_handle(n_classes=K)], fontsize=FONTSIZE)
    boundary: list = []

    def show(i: int) -> None:
        image.set_data(posterior_image(probas[i]))
        for contour in boundary:
            contour.remove()
        boundary[:] = draw_boundary(ax, xx, yy, probas[i])

    return _animate(ax.set_title(titles[0], fontsize=FONTSIZE), titles, show)


def early_stopping(classifier, xx: np.ndarray, yy: np.ndarray):
    """Per-point early stopping on a grid, look by look: on the left the points already decided in
    their class colour, the others grey, and the final boundary (p = 0.5 of the posterior the
    classifier ends with); on the right the evaluations spent on each point so far, with its
    colourbar. ``classifier`` is a fitted DiffusionClassifier with an early-stopping rule."""
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # [r*r, 2]
    errors, trials = classifier.class_errors(grid, return_trials=True)  # [r*r, K] each
    log_prior = np.log(classifier.class_prior_)
    proba = log_posterior(torch.as_tensor(errors), temperature=classifier.temperature, log_prior=log_prior).exp()
    decision = proba.argmax(1).numpy()  # [r*r]
    ends = resolve_pruning(classifier.pruning).stage_ends(classifier.n_trials)
    stopped = trials.max(1)  # [r*r] where each point stopped (its leading class ran that long)
    K, n_points, undecided = errors.shape[1], len(grid), 0.55
    colours = 1 - 0.55 * (1 - class_colors(K))  # pale class colours
    images, counts, titles = [], [], []
    for end in ends:
        decided = stopped <= end if end < ends[-1] else np.ones(n_points, dtype=bool)
        images.append(np.where(decided[:, None], colours[decision], undecided).reshape(*xx.shape, 3))
        counts.append(np.minimum(trials, end).sum(1).reshape(xx.shape))  # [r, r] evaluations so far
        titles.append(
            f"after {end} trials: {decided.mean():.0%} of the points decided\n"
            f"{counts[-1].mean():.0f} evaluations per point so far (every class on every trial: {K * end})"
        )
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.6), dpi=DPI, layout="constrained")
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    decided_image = left.imshow(images[0], origin="lower", extent=extent, aspect="auto", interpolation="bilinear")
    draw_boundary(left, xx, yy, proba.numpy().reshape(*xx.shape, K), linewidth=1.0)
    finish_map(left, xx, yy, "decided so far")
    norm = LogNorm(max(1, counts[-1].min()), counts[-1].max())
    count_image = right.imshow(
        counts[0], origin="lower", extent=extent, aspect="auto", cmap="viridis", norm=norm, interpolation="bilinear"
    )
    finish_map(right, xx, yy, "evaluations spent so far")
    bar = fig.colorbar(count_image, ax=right, shrink=0.9, ticks=[K * end for end in ends], format="{x:.0f}")
    bar.ax.minorticks_off()
    bar.set_label("denoiser evaluations per point", fontsize=FONTSIZE)
    for ax in (left, right):
        ax.title.set_fontsize(FONTSIZE)
    extra = [patch_handle(str(undecided), "not decided yet"), boundary_handle(n_classes=K, name="final boundary")]
    class_legend(fig, K, classifier.classes_, extra=extra, colors=colours, fontsize=FONTSIZE)  # the regions' colours

    def show(i: int) -> None:
        decided_image.set_data(images[i])
        count_image.set_data(counts[i])

    return _animate(fig.suptitle(titles[0], fontsize=FONTSIZE), titles, show)


HOLD_SECONDS = (2.0, 3.0)  # the first and the last frame stay this long: time to read them before it moves on


def hold_ends(path: Path, hold: tuple[float, float] = HOLD_SECONDS) -> None:
    """Rewrite the GIF at ``path`` so that its first and last frames show for ``hold`` seconds
    (GIF frames each carry their own duration); the frames between keep theirs."""
    with Image.open(path) as gif:
        frames = [frame.copy() for frame in ImageSequence.Iterator(gif)]
        durations = [frame.info.get("duration", 100) for frame in frames]
        loop = gif.info.get("loop", 0)
    durations[0] = max(durations[0], round(1000 * hold[0]))
    durations[-1] = max(durations[-1], round(1000 * hold[1]))
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=loop)


def save_animation(
    animation: FuncAnimation, path: str | os.PathLike, *, fps: float = 8, hold: tuple[float, float] = HOLD_SECONDS
) -> Path:
    """Write ``animation`` as a GIF at ``path``, atomically, its first and last frames held for
    ``hold`` seconds, and close its figure."""

    def write(tmp: Path) -> None:
        animation.save(tmp, writer=PillowWriter(fps=fps))
        hold_ends(Path(tmp), hold)

    try:
        return atomic_write(path, write, suffix=".gif")
    finally:
        plt.close(animation._fig)  # FuncAnimation keeps its figure under this name only
