"""Figures: decision, posterior and uncertainty maps, samples, the loss curve, comparisons.

Every map is drawn from class probabilities on a grid, with one rule for every classifier
(:func:`toyclf.lecture.plots.keys.posterior_image`: certain regions saturated in the class colour, the
uncertain band between classes white), one decision boundary (:func:`draw_boundary`: the level
where the top two posteriors are equal, p(c | x) = 0.5 for two classes), a legend naming each
class under the axes, and a colourbar for every probability.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from toyclf.lecture.plots.keys import (
    KEY_FONTSIZE,
    boundary_handle,
    class_colors,
    class_legend,
    posterior_colorbar,
    posterior_image,
)
from toyclf.utils.files import atomic_write

TITLE_FONTSIZE = 13
ENTROPY_LABEL = r"$H(p(\cdot \mid x))\ /\ \log K$"


def normalized_entropy(proba: np.ndarray) -> np.ndarray:
    """H(p(. | x)) / log K, in [0, 1]: 0 certain, 1 uniform. [..., K] -> [...]"""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=-1) / np.log(proba.shape[-1])


def _extent(xx: np.ndarray, yy: np.ndarray) -> tuple[float, float, float, float]:
    return (xx.min(), xx.max(), yy.min(), yy.max())


def scatter_classes(
    ax,
    X: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    *,
    size: float = 6,
    alpha: float = 0.8,
    edgecolors="white",
    linewidths: float = 0.2,
    **kw,
) -> None:
    """Points coloured by class index, with a thin edge (white by default) so they read on any
    background; a dark edge keeps them visible on a map shaded in their own colour."""
    colors = class_colors(n_classes)
    ax.scatter(
        X[:, 0], X[:, 1], c=colors[y_index], s=size, alpha=alpha, edgecolors=edgecolors, linewidths=linewidths, **kw
    )


def class_margins(proba: np.ndarray) -> np.ndarray:
    """p(c | x) - max_{c' != c} p(c' | x) for every class: positive where c leads, zero on its
    boundary. [..., K] -> [..., K]"""
    top2 = np.sort(proba, axis=-1)[..., -2:]  # [..., 2] second, first
    best_other = np.where(proba >= top2[..., 1:], top2[..., :1], top2[..., 1:])  # [..., K]
    return proba - best_other


def draw_boundary(ax, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, *, color="black", linewidth: float = 1.5):
    """The decision boundary of the Bayes classifier (argmax_c p(c | x), the paper's prediction) as
    a smooth contour of the posterior, not of blocky argmax cells: the zero level of
    p(c | x) - max_{c' != c} p(c' | x), which for two classes is p(class 1 | x) = 0.5. Every
    boundary in toyclf's figures is drawn here. Returns the contour sets (to remove in an animation)."""
    margins = class_margins(np.asarray(proba, dtype=float))  # [r, r, K]
    drawn = []
    for c in range(margins.shape[-1] - 1):  # every boundary touches a class other than the last
        m = margins[..., c]
        if np.nanmin(m) < 0 < np.nanmax(m):
            drawn.append(ax.contour(xx, yy, m, levels=[0], colors=[color], linewidths=linewidth))
    return drawn


def draw_posterior(ax, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, *, boundary: bool = True) -> None:
    """The shaded posterior of a [r, r, K] probability grid, with the decision boundary in black."""
    ax.imshow(posterior_image(proba), origin="lower", extent=_extent(xx, yy), aspect="auto", interpolation="bilinear")
    if boundary:
        draw_boundary(ax, xx, yy, proba)


def draw_decision(ax, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, *, boundary: bool = True) -> None:
    """Class regions (where each class has the top posterior) in pale class colours, filled up to
    the smooth boundary of :func:`draw_boundary`."""
    margins = class_margins(np.asarray(proba, dtype=float))  # [r, r, K]
    pale = 1 - 0.35 * (1 - class_colors(proba.shape[-1]))  # [K, 3]
    for c in range(margins.shape[-1]):
        if np.nanmax(margins[..., c]) > 0:
            ax.contourf(xx, yy, margins[..., c], levels=[0, 2], colors=[pale[c]], antialiased=False)
    if boundary:
        draw_boundary(ax, xx, yy, proba)


def finish_map(ax, xx: np.ndarray, yy: np.ndarray, title: str | None = None) -> None:
    """Fit the axes to the grid, hide the ticks, set the title."""
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=TITLE_FONTSIZE)


def plot_decision_map(xx, yy, proba, X, y_index, *, title: str = "Decision map", class_labels: Sequence | None = None):
    """Class regions of the grid, the boundary, the data on top, a legend of the classes below."""
    K = proba.shape[-1]
    fig, ax = plt.subplots(figsize=(5.5, 6.1), layout="constrained")
    draw_decision(ax, xx, yy, proba)
    scatter_classes(ax, X, y_index, K)
    finish_map(ax, xx, yy, title)
    ax.set_aspect("equal", adjustable="box")
    class_legend(fig, K, class_labels, extra=[boundary_handle(n_classes=K)])
    return fig


def plot_posterior_map(
    xx, yy, proba, X=None, y_index=None, *, title: str = "Posterior", class_labels: Sequence | None = None
):
    """p(class | x) shaded (uncertain band white) with its colourbar, beside the uncertainty,
    H(p) / log K, with its own; the classes named below."""
    K = proba.shape[-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6), layout="constrained")
    draw_posterior(left, xx, yy, proba)
    if X is not None:
        scatter_classes(left, X, y_index, K, size=3, alpha=0.35)
    finish_map(left, xx, yy, f"{title}: p(class | x)")
    posterior_colorbar(fig, left, K, class_labels)
    image = right.imshow(
        normalized_entropy(proba),
        origin="lower",
        extent=_extent(xx, yy),
        aspect="auto",
        cmap="magma",
        vmin=0,
        vmax=1,
        interpolation="bilinear",
    )
    finish_map(right, xx, yy, "Uncertainty: entropy / log K")
    fig.colorbar(image, ax=right, shrink=0.85).set_label(ENTROPY_LABEL, fontsize=KEY_FONTSIZE)
    for ax in (left, right):
        ax.set_aspect("equal", adjustable="box")
    class_legend(fig, K, class_labels, extra=[boundary_handle(n_classes=K)])
    return fig


def plot_samples(
    X,
    y_index,
    X_generated,
    y_generated_index,
    n_classes: int,
    *,
    title: str = "Samples",
    class_labels: Sequence | None = None,
):
    """The training data beside points generated from each class by the model, the classes named below."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.6), sharex=True, sharey=True, layout="constrained")
    scatter_classes(axes[0], X, y_index, n_classes)
    axes[0].set_title("training data", fontsize=TITLE_FONTSIZE)
    scatter_classes(axes[1], X_generated, y_generated_index, n_classes)
    axes[1].set_title(f"{title}: generated, per class", fontsize=TITLE_FONTSIZE)
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=11)
    class_legend(fig, n_classes, class_labels)
    return fig


def plot_loss_curve(losses: Sequence[float], *, window: int = 50):
    """Training loss per step, and its moving average (a linear axis: the loss of a 2D denoiser
    spans less than a factor of three, where a log axis only labels its ticks 6 x 10^-1)."""
    losses = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    ax.plot(losses, color="0.75", linewidth=0.6, label="per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, color="C0", label=f"mean of {window} steps")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$\| \epsilon - \epsilon_\theta(x_t, t, c) \|^2$ (mean per coordinate)")
    ax.set_title("Training loss")
    ax.legend()
    return fig


def plot_comparison(
    rows: Sequence[dict],
    *,
    cell_size: float = 2.8,
    class_labels: Sequence | None = None,
):
    """scikit-learn's classifier comparison: a row per data set, the input data, then a column
    per classifier, shaded the same way, test accuracy in the corner; the colourbar of the
    shading and a legend of the classes (``class_labels``, if all rows share them) below.

    Each row is ``{"name", "xx", "yy", "X_train", "y_train", "X_test", "y_test", "n_classes",
    "results": [(classifier name, proba grid [r, r, K], accuracy), ...]}`` (labels as indices).
    """
    n_cols = 1 + max(len(row["results"]) for row in rows)
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(cell_size * n_cols, cell_size * len(rows)), squeeze=False, layout="constrained"
    )
    for r, row in enumerate(rows):
        xx, yy, K = row["xx"], row["yy"], row["n_classes"]
        ax = axes[r, 0]
        scatter_classes(ax, row["X_train"], row["y_train"], K, size=5)
        scatter_classes(ax, row["X_test"], row["y_test"], K, size=5, alpha=0.25)
        finish_map(ax, xx, yy, "Input data" if r == 0 else None)
        ax.set_ylabel(row["name"], fontsize=TITLE_FONTSIZE)
        for c, (name, proba, accuracy) in enumerate(row["results"], start=1):
            ax = axes[r, c]
            draw_posterior(ax, xx, yy, proba, boundary=False)
            scatter_classes(ax, row["X_train"], row["y_train"], K, size=4, alpha=0.6)
            finish_map(ax, xx, yy, name if r == 0 else None)
            ax.text(
                0.97,
                0.03,
                f"{accuracy:.3f}".lstrip("0"),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=12,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", alpha=0.8, edgecolor="none"),
            )
    K = max(row["n_classes"] for row in rows)
    posterior_colorbar(fig, axes[:, -1], K, class_labels)
    class_legend(fig, K, class_labels)
    return fig


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Save atomically (write, then rename) and close the figure."""
    path = Path(path)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)
