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

from toyclf.estimator import log_posterior
from toyclf.mapping import probability_map
from toyclf.plots.maps import class_colors, finish_map, posterior_image, scatter_classes
from toyclf.pruning import resolve_pruning
from toyclf.sampling import sample
from toyclf.utils.files import atomic_write

FIGSIZE = (4.6, 4.8)  # inches, at DPI: a 368 x 384 pixel GIF
DPI = 80
LIMIT = 3.5  # the scatter animations show [-LIMIT, LIMIT]^2 of the standardised space


def _animate(ax, titles: Sequence[str], show_frame) -> FuncAnimation:
    """Frame i: ``show_frame(i)`` redraws the axes' content, ``titles[i]`` becomes the title."""
    title = ax.set_title(titles[0], fontsize=10)

    def show(i: int) -> None:
        show_frame(i)
        title.set_text(titles[i])

    return FuncAnimation(ax.figure, show, frames=len(titles))


def _scatter_animation(frames: Sequence[np.ndarray], y_index: np.ndarray, n_classes: int, titles: Sequence[str]):
    """Points [n, 2] moving through ``frames``, coloured by class, one title per frame."""
    ax = plt.figure(figsize=FIGSIZE, dpi=DPI, layout="constrained").add_subplot()
    points = ax.scatter(*frames[0].T, c=class_colors(n_classes)[y_index], s=5, alpha=0.8, linewidths=0)
    ax.set(xlim=(-LIMIT, LIMIT), ylim=(-LIMIT, LIMIT), xticks=[], yticks=[], aspect="equal")
    return _animate(ax, titles, lambda i: points.set_offsets(frames[i]))


def _evenly_in_noise(noise_std: np.ndarray, n_frames: int) -> np.ndarray:
    """Indexes into ``noise_std`` (sqrt(1 - abar_t) of each recorded step) nearest to n_frames
    evenly spaced noise levels from its smallest to its largest: frames that change evenly to
    the eye, whatever the schedule."""
    levels = np.linspace(noise_std.min(), noise_std.max(), n_frames)  # [n_frames]
    return np.abs(noise_std[None, :] - levels[:, None]).argmin(1)


def _noising_title(process: str, t: int, abar_t: float) -> str:
    """The step and its mix: x_t has sqrt(abar_t) of the signal and sqrt(1 - abar_t) of the noise."""
    return f"{process}, t = {t}: signal {np.sqrt(abar_t):.2f}, noise {np.sqrt(1 - abar_t):.2f}"


def forward_process(x0: np.ndarray, y_index: np.ndarray, schedule, *, n_frames: int = 40, seed: int = 0):
    """q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4), one fixed
    eps per point, from t = 0 to T - 1 (frames evenly spaced in the noise's size sqrt(1 - abar_t)).
    ``x0`` [n, 2] standardised points, ``y_index`` [n]."""
    eps = np.random.default_rng(seed).standard_normal(x0.shape)  # [n, 2]
    abar = schedule.alphas_cumprod.numpy()  # [T]
    steps = _evenly_in_noise(np.sqrt(1 - abar), n_frames)
    frames = [np.sqrt(abar[t]) * x0 + np.sqrt(1 - abar[t]) * eps for t in steps]
    titles = [_noising_title("forward", t, abar[t]) for t in steps]
    return _scatter_animation(frames, y_index, int(y_index.max()) + 1, titles)


def reverse_sampling(denoiser, n_per_class: int, *, clip: float | None = None, n_frames: int = 40, seed: int = 0):
    """DDPM sampling (the sampling algorithm of Ho et al. 2020) of ``n_per_class`` points of every
    class, from pure noise x_T to x_0: each class condensing out of the noise."""
    labels = torch.arange(denoiser.n_classes).repeat_interleave(n_per_class)  # [n]
    path: list[tuple[int, np.ndarray]] = []
    sample(denoiser, labels, method="ddpm", clip=clip, seed=seed, each_step=lambda t, x: path.append((t, x.numpy())))
    abar = np.append(denoiser.schedule.alphas_cumprod.numpy(), 0.0)  # t = T: pure noise
    keep = _evenly_in_noise(np.array([np.sqrt(1 - abar[t]) for t, _ in path]), n_frames)[::-1]  # noise first
    frames = [path[i][1] for i in keep]
    titles = [_noising_title("reverse (DDPM)", path[i][0], abar[path[i][0]]) for i in keep]
    return _scatter_animation(frames, labels.numpy(), denoiser.n_classes, titles)


def _map_animation(
    xx: np.ndarray, yy: np.ndarray, images: Sequence[np.ndarray], titles: Sequence[str], X=None, y_index=None
):
    """RGB images [r, r, 3] of the grid (xx, yy) in turn, the points X (if any) on top."""
    ax = plt.figure(figsize=FIGSIZE, dpi=DPI, layout="constrained").add_subplot()
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    image = ax.imshow(images[0], origin="lower", extent=extent, aspect="auto", interpolation="bilinear")
    if X is not None:
        scatter_classes(ax, X, y_index, int(y_index.max()) + 1, size=3, alpha=0.3)
    finish_map(ax, xx, yy)
    return _animate(ax, titles, lambda i: image.set_data(images[i]))


def gathering_evidence(
    classifier, xx: np.ndarray, yy: np.ndarray, X_test, y_test, *, n_trials=(1, 2, 4, 8, 16, 32, 64, 128, 256)
):
    """The posterior map with every class on N shared (t, eps) trials, N doubling, and the held-out
    accuracy of each N in the title (the paper's Algorithm 1 with more and more Monte Carlo
    evidence). ``classifier`` is a fitted DiffusionClassifier; its settings are restored afterwards."""
    saved = classifier.get_params()
    y_index = np.searchsorted(classifier.classes_, y_test)
    images, titles = [], []
    try:
        for n in n_trials:
            classifier.set_params(n_trials=n, pruning=None)
            images.append(posterior_image(probability_map(classifier, xx, yy)))
            titles.append(
                f"{n} trial{'s' if n > 1 else ''} per class: test accuracy {classifier.score(X_test, y_test):.3f}"
            )
    finally:
        classifier.set_params(**saved)
    return _map_animation(xx, yy, images, titles, X_test, y_index)


def early_stopping(classifier, xx: np.ndarray, yy: np.ndarray):
    """Per-point early stopping on a grid: after each look, the points already decided in their
    class colour, the others grey, and the evaluations spent so far against every class on every
    trial. ``classifier`` is a fitted DiffusionClassifier with an early-stopping rule."""
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # [r*r, 2]
    errors, trials = classifier.class_errors(grid, return_trials=True)  # [r*r, K] each
    log_prior = np.log(classifier.class_prior_)
    decision = log_posterior(torch.as_tensor(errors), temperature=classifier.temperature, log_prior=log_prior).argmax(1)
    ends = resolve_pruning(classifier.pruning).stage_ends(classifier.n_trials)
    stopped = trials.max(1)  # [r*r] where each point stopped (its leading class ran that long)
    colours = 1 - 0.55 * (1 - class_colors(errors.shape[1]))  # pale class colours
    K, n_points = errors.shape[1], len(grid)
    images, titles = [], []
    for end in ends:
        decided = stopped <= end if end < ends[-1] else np.ones(n_points, dtype=bool)
        rgb = np.where(decided[:, None], colours[decision.numpy()], 0.55)  # [r*r, 3]
        images.append(rgb.reshape(*xx.shape, 3))
        spent = np.minimum(trials, end).sum() / n_points
        titles.append(
            f"after {end} trials: {decided.mean():.0%} decided\n"
            f"{spent:.0f} evaluations per point (every class on all: {K * end})"
        )
    return _map_animation(xx, yy, images, titles)


def save_animation(animation: FuncAnimation, path: str | os.PathLike, *, fps: float = 8) -> Path:
    """Write ``animation`` as a GIF at ``path``, atomically, and close its figure."""
    try:
        return atomic_write(path, lambda tmp: animation.save(tmp, writer=PillowWriter(fps=fps)), suffix=".gif")
    finally:
        plt.close(animation._fig)  # FuncAnimation keeps its figure under this name only
