"""Strips of small panels for slides: what a notebook's sliders do, frozen in a row of maps, and the
forward process as a row of snapshots. Drawn for a 1280 x 720 slide at 100 dpi."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from toyclf.lecture.plots.keys import boundary_handle, class_legend, posterior_colorbar
from toyclf.lecture.plots.maps import draw_posterior, finish_map, scatter_classes


def plot_map_strip(
    xx: np.ndarray,
    yy: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    X: np.ndarray | None = None,
    y_index: np.ndarray | None = None,
    n_columns: int | None = None,
    figsize: tuple[float, float] = (12.8, 4.4),
) -> Figure:
    """One posterior map per ``(title, proba [r, r, K])`` panel, in rows of ``n_columns`` (default:
    one row), the data (``X``, ``y_index``) faintly on each, one colourbar and one legend."""
    K = panels[0][1].shape[-1]
    n_columns = n_columns or len(panels)
    n_rows = -(-len(panels) // n_columns)
    fig, axes = plt.subplots(n_rows, n_columns, figsize=figsize, squeeze=False, layout="constrained")
    for ax, (title, proba) in zip(axes.flat, panels, strict=False):
        draw_posterior(ax, xx, yy, proba)
        if X is not None:
            scatter_classes(ax, X, y_index, K, size=3, alpha=0.3)
        finish_map(ax, xx, yy)
        ax.set_title(title, fontsize="medium")
        ax.set_aspect("equal", adjustable="box")
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    posterior_colorbar(fig, list(axes[:, -1]), K, fontsize=plt.rcParams["font.size"])
    class_legend(fig, K, extra=[boundary_handle(n_classes=K)], fontsize=plt.rcParams["font.size"])
    return fig


def plot_noising_strip(
    x0: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    signal: Sequence[float],
    noise: np.ndarray,
    steps: Sequence[int],
    *,
    limit: float = 3.0,
    figsize: tuple[float, float] = (12.8, 3.4),
) -> Figure:
    """q(x_t | x_0) as snapshots: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. 2020,
    eq. 4) for each of ``steps``, ``signal`` holding sqrt(abar_t) of each, one fixed eps per point
    (``noise``, like x0 [n, 2]), in the standardised space."""
    fig, axes = plt.subplots(1, len(steps), figsize=figsize, sharex=True, sharey=True, layout="constrained")
    for ax, t, a in zip(axes, steps, signal, strict=True):
        x_t = a * x0 + np.sqrt(1 - a**2) * noise  # [n, 2]
        scatter_classes(ax, x_t, y_index, n_classes, size=3)
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), xticks=[], yticks=[], aspect="equal")
        ax.set_title(f"t = {t}\nsignal {a:.2f}", fontsize="medium")
    return fig
