"""How to read a map: the class colours, the colour of a posterior, and the keys beside a figure
(a legend naming each class, a colourbar for every probability).

One colour rule serves every map: each pixel mixes the class colours by p(c | x) and fades to
white as p(c | x) approaches uniform (red - white - blue for two classes, as in scikit-learn's
classifier comparison). The posterior's colourbar is drawn from that same rule, so the key and
the map cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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
KEY_FONTSIZE = 12  # legends and colourbar labels, readable when projected


def class_colors(n_classes: int) -> np.ndarray:
    """An RGB colour per class: [K, 3]."""
    if n_classes <= len(CLASS_COLORS):
        return np.array([to_rgb(c) for c in CLASS_COLORS[:n_classes]])
    return plt.get_cmap("hsv")(np.linspace(0, 1, n_classes, endpoint=False))[:, :3]


def posterior_image(proba: np.ndarray) -> np.ndarray:
    """Class colours mixed by p(c | x), faded to white as p approaches uniform: [..., K] -> [..., 3]."""
    K = proba.shape[-1]
    mixed = proba @ class_colors(K)  # [..., 3]
    certainty = np.clip((proba.max(axis=-1, keepdims=True) - 1 / K) / (1 - 1 / K), 0, 1)  # [..., 1]
    return 1 - certainty * (1 - mixed)


def class_names(n_classes: int, class_labels: Sequence | None = None) -> list[str]:
    """What the legend calls each class: its label from ``classes_`` ("class 0" for a number), or "class k"."""
    if class_labels is None:
        return [f"class {k}" for k in range(n_classes)]
    labels = list(class_labels)
    if len(labels) != n_classes:
        raise ValueError(f"class_labels must name all {n_classes} classes; got {len(labels)}: {labels!r}.")
    return [f"class {label}" if isinstance(label, int | np.integer) else str(label) for label in labels]


def class_legend(
    fig,
    n_classes: int,
    class_labels: Sequence | None = None,
    *,
    extra: Sequence = (),
    colors: np.ndarray | None = None,
    fontsize: float = KEY_FONTSIZE,
):
    """A legend naming each class by its colour (``colors`` [K, 3], default :func:`class_colors`),
    under the axes of ``fig`` (a figure with constrained layout, which makes room for it), so it
    hides no data. ``extra`` handles follow."""
    colors = class_colors(n_classes) if colors is None else colors
    handles = [
        Line2D([], [], linestyle="none", marker="o", markersize=9, markerfacecolor=color, markeredgecolor="white")
        for color in colors
    ]
    handles = [*handles, *extra]
    labels = [*class_names(n_classes, class_labels), *(h.get_label() for h in extra)]
    return fig.legend(
        handles, labels, loc="outside lower center", ncols=min(len(handles), 5), frameon=False, fontsize=fontsize
    )


def boundary_handle(color: str = "black", *, n_classes: int = 2, name: str = "boundary") -> Line2D:
    """The legend entry of the decision boundary drawn by :func:`toyclf.lecture.plots.maps.draw_boundary`."""
    level = "p(c | x) = 0.5" if n_classes == 2 else "top two p(c | x) equal"
    return Line2D([], [], color=color, linewidth=1.5, label=f"{name}: {level}")


def patch_handle(color, label: str) -> Patch:
    """A legend entry for a filled region (e.g. the points not decided yet)."""
    return Patch(facecolor=color, edgecolor="none", label=label)


def posterior_colorbar(
    fig, ax, n_classes: int, class_labels: Sequence | None = None, *, fontsize: float = KEY_FONTSIZE
):
    """The key of :func:`posterior_image` beside ``ax`` (or a list of axes).

    Two classes: a colourbar of p(class 1 | x), from 0 (red) through 0.5 (white) to 1 (blue).
    K classes: the top posterior max_c p(c | x) from 1/K (white) to 1, one column per class in
    its colour (the other classes sharing the rest evenly), so saturation reads as confidence.
    """
    K, steps = n_classes, 256
    if K == 2:
        p = np.linspace(0, 1, steps)  # [s] p(class 1 | x)
        cmap = ListedColormap(posterior_image(np.column_stack([1 - p, p])))
        bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, shrink=0.85, ticks=[0, 0.25, 0.5, 0.75, 1])
        bar.set_label(f"p({class_names(K, class_labels)[1]} | x)", fontsize=fontsize)
        return bar
    top = np.linspace(1 / K, 1, steps)  # [s] the top posterior
    proba = np.repeat(((1 - top) / (K - 1))[:, None, None], K, axis=2).repeat(K, axis=1)  # [s, K columns, K]
    proba[:, np.arange(K), np.arange(K)] = top[:, None]
    bar = fig.colorbar(ScalarMappable(Normalize(1 / K, 1), "Greys"), ax=ax, shrink=0.85, aspect=12)
    bar.ax.imshow(posterior_image(proba), extent=(0, 1, 1 / K, 1), origin="lower", aspect="auto", zorder=3)
    bar.set_label("top posterior: max over c of p(c | x)", fontsize=fontsize)
    return bar
