"""Figures: decision, posterior and uncertainty maps, samples, the loss curve, comparisons.

Every map is drawn from class probabilities on a grid, with one rule for every classifier:
each pixel mixes the class colours by p(c | x) and fades to white as p(c | x) approaches
uniform, so certain regions are saturated and the uncertain band between classes is white
(red - white - blue for two classes, as in scikit-learn's classifier comparison).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, to_rgb

from toyclf.utils.files import atomic_write

# red and blue first (the two spirals), then the rest of tab10
CLASS_COLORS = [
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def class_colors(n_classes: int) -> np.ndarray:
    """An RGB colour per class: [K, 3]."""
    if n_classes <= len(CLASS_COLORS):
        return np.array([to_rgb(c) for c in CLASS_COLORS[:n_classes]])
    return plt.get_cmap("hsv")(np.linspace(0, 1, n_classes, endpoint=False))[:, :3]


def make_grid(X: np.ndarray, resolution: int = 200, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution`` x ``resolution`` grid over the 2D data plus ``margin``: xx, yy [r, r] and points [r*r, 2]."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"Maps need 2D data of shape (n_samples, 2); got shape {X.shape}.")
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def posterior_image(proba: np.ndarray) -> np.ndarray:
    """Class colours mixed by p(c | x), faded to white as p approaches uniform: [..., K] -> [..., 3]."""
    K = proba.shape[-1]
    mixed = proba @ class_colors(K)  # [..., 3]
    certainty = np.clip((proba.max(axis=-1, keepdims=True) - 1 / K) / (1 - 1 / K), 0, 1)  # [..., 1]
    return 1 - certainty * (1 - mixed)


def normalized_entropy(proba: np.ndarray) -> np.ndarray:
    """H(p(. | x)) / log K, in [0, 1]: 0 certain, 1 uniform. [..., K] -> [...]"""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=-1) / np.log(proba.shape[-1])


def _extent(xx: np.ndarray, yy: np.ndarray) -> tuple[float, float, float, float]:
    return (xx.min(), xx.max(), yy.min(), yy.max())


def scatter_classes(
    ax, X: np.ndarray, y_index: np.ndarray, n_classes: int, *, size: float = 6, alpha: float = 0.8, **kw
) -> None:
    """Points coloured by class index, with a thin white edge so they read on any background."""
    colors = class_colors(n_classes)
    ax.scatter(X[:, 0], X[:, 1], c=colors[y_index], s=size, alpha=alpha, edgecolors="white", linewidths=0.2, **kw)


def draw_posterior(ax, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray, *, boundary: bool = True) -> None:
    """The shaded posterior of a [r, r, K] probability grid, with the decision boundary in black."""
    ax.imshow(posterior_image(proba), origin="lower", extent=_extent(xx, yy), aspect="auto", interpolation="bilinear")
    if boundary:
        labels = proba.argmax(axis=-1)
        levels = np.arange(proba.shape[-1] + 1) - 0.5
        ax.contour(xx, yy, labels, levels=levels, colors="black", linewidths=0.8)


def draw_decision(ax, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray) -> None:
    """Hard class regions (argmax) in pale class colours."""
    K = proba.shape[-1]
    cmap = ListedColormap(1 - 0.35 * (1 - class_colors(K)))
    ax.imshow(
        proba.argmax(-1),
        origin="lower",
        extent=_extent(xx, yy),
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=K - 0.5,
        interpolation="nearest",
    )


def finish_map(ax, xx: np.ndarray, yy: np.ndarray, title: str | None = None) -> None:
    """Fit the axes to the grid, hide the ticks, set the title."""
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def plot_decision_map(xx, yy, proba, X, y_index, *, title: str = "Decision map"):
    """Class regions of the grid with the data on top."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5), layout="constrained")
    draw_decision(ax, xx, yy, proba)
    scatter_classes(ax, X, y_index, proba.shape[-1])
    finish_map(ax, xx, yy, title)
    return fig


def plot_posterior_map(xx, yy, proba, X=None, y_index=None, *, title: str = "Posterior"):
    """p(class | x) shaded (uncertain band white) beside the uncertainty, H(p) / log K."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
    draw_posterior(left, xx, yy, proba)
    if X is not None:
        scatter_classes(left, X, y_index, proba.shape[-1], size=3, alpha=0.35)
    finish_map(left, xx, yy, f"{title}: p(class | x)")
    image = right.imshow(
        normalized_entropy(proba), origin="lower", extent=_extent(xx, yy), aspect="auto", cmap="magma", vmin=0, vmax=1
    )
    finish_map(right, xx, yy, "Uncertainty: entropy / log K")
    fig.colorbar(image, ax=right, shrink=0.85)
    return fig


def plot_samples(X, y_index, X_generated, y_generated_index, n_classes: int, *, title: str = "Samples"):
    """The training data beside points generated from each class by the model."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True, layout="constrained")
    scatter_classes(axes[0], X, y_index, n_classes)
    axes[0].set_title("training data")
    scatter_classes(axes[1], X_generated, y_generated_index, n_classes)
    axes[1].set_title(f"{title}: generated, per class")
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
    return fig


def plot_loss_curve(losses: Sequence[float], *, window: int = 50):
    """Training loss per step, and its moving average, on a log scale."""
    losses = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    ax.plot(losses, color="0.75", linewidth=0.6, label="per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, color="C0", label=f"mean of {window} steps")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(r"$\| \epsilon - \epsilon_\theta(x_t, t, c) \|^2$ (mean per coordinate)")
    ax.set_title("Training loss")
    ax.legend()
    return fig


def plot_comparison(
    rows: Sequence[dict],
    *,
    cell_size: float = 2.8,
):
    """scikit-learn's classifier comparison: a row per data set, the input data, then a column
    per classifier, shaded the same way, test accuracy in the corner.

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
        ax.set_ylabel(row["name"])
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
    return fig


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Save atomically (write, then rename) and close the figure."""
    path = Path(path)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)
