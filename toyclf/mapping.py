"""Class probabilities over a 2D grid, spending evaluations only where the map changes.

A decision map is not a bag of independent points: most of a grid lies far from the decision
boundary, where every point gets the same class with near certainty. :func:`probability_map`
classifies a coarse grid, then refines (quadtree style) only the cells whose corners disagree on
the class or are not sure of it, down to single grid points; the inside of every other cell is
filled by bilinear interpolation of its four corners. The points it does classify go through
the classifier as they are (for the diffusion classifier: with its per-point early stopping), so
an evaluated point has exactly the value a full map gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from toyclf.utils.validation import is_int, is_real

CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # (row, column) offsets of a cell's corners, in cells
MIDPOINTS = np.array([[1, 0], [0, 1], [1, 1], [2, 1], [1, 2]])  # new points of a split cell, in half cells
BAND_CELL = 2
"""Cells of this many grid steps are split only where the class changes: inside the uncertain band
along a boundary every other point is interpolated from classified points two steps apart, which
moves p(c | x) by less than its own Monte Carlo error (measured: benchmarks/map_benchmark.py)."""


def make_grid(X: np.ndarray, resolution: int = 200, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution`` x ``resolution`` grid over the 2D data plus ``margin``: xx, yy [r, r] and points [r*r, 2]."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"Maps need 2D data of shape (n_samples, 2); got shape {X.shape}.")
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def _predict_function(classifier: Any) -> Callable[[np.ndarray], np.ndarray]:
    if callable(getattr(classifier, "predict_proba", None)):
        return classifier.predict_proba
    if callable(classifier):
        return classifier
    raise TypeError(
        f"classifier must have a predict_proba method or be a function of points [n, 2] -> [n, K]; "
        f"got {type(classifier).__name__}."
    )


def _grid_axes(xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The x values [nx] and y values [ny] of a meshgrid (as :func:`numpy.meshgrid` makes, xy indexing)."""
    xx, yy = np.asarray(xx, dtype=float), np.asarray(yy, dtype=float)
    if xx.ndim != 2 or xx.shape != yy.shape or min(xx.shape) < 2:
        raise ValueError(
            f"xx and yy must be meshgrid arrays of one shape (ny, nx), both >= 2; got {xx.shape}, {yy.shape}."
        )
    x, y = xx[0], yy[:, 0]
    if not (
        np.array_equal(xx, np.broadcast_to(x, xx.shape)) and np.array_equal(yy.T, np.broadcast_to(y, xx.shape[::-1]))
    ):
        raise ValueError("xx and yy must be a meshgrid: xx constant down each column, yy along each row.")
    for name, axis in (("x", x), ("y", y)):
        steps = np.diff(axis)
        if not (np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-6)):
            raise ValueError(f"the {name} values of the grid must be evenly spaced and increasing.")
    return x, y


def _extend(axis: np.ndarray, length: int) -> np.ndarray:
    """The evenly spaced ``axis`` (its own values first) continued to ``length`` values."""
    beyond = axis[-1] + (axis[1] - axis[0]) * np.arange(1, length - len(axis) + 1)
    return np.concatenate([axis, beyond])


def probability_map(
    classifier: Any,
    xx: np.ndarray,
    yy: np.ndarray,
    *,
    coarse_step: int = 4,
    tolerance: float = 0.02,
    return_evaluated: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """p(c | x) on every point of the grid (xx, yy), classifying only some of them.

    1. Classify every ``coarse_step``-th point in each direction (the corners of square cells).
    2. A cell whose four corners all give one class with probability >= 1 - ``tolerance`` is
       settled. Every other cell is split in four: its centre and edge midpoints are classified,
       and the four halves are looked at the same way, down to single grid steps. Cells of two
       steps (:data:`BAND_CELL`) are split only where their corners disagree on the class.
    3. The inside of each settled cell is filled with the bilinear interpolation of its corners.

    ``classifier`` is anything with ``predict_proba`` (a fitted scikit-learn classifier) or a
    function of points [n, 2] -> probabilities [n, K]. ``xx``, ``yy`` [ny, nx] are an evenly
    spaced meshgrid (:func:`make_grid`). Returns [ny, nx, K]; with
    ``return_evaluated=True`` also the [ny, nx] mask of the points that were classified.

    Every point next to a change of class is classified; where the leading class has probability
    below 1 - ``tolerance``, every second point is, and the points between are interpolated.
    Elsewhere the interpolated probabilities are within ``tolerance`` of the classified corners.
    A region narrower than ``coarse_step`` that no coarse point falls in can be missed.
    ``coarse_step=1`` classifies every point (the per-point map). A ``coarse_step`` wider than the
    grid's shorter side is used as the widest power of two that fits in it, so that no cell
    reaches past the grid's edge by more than its own size.
    """
    predict = _predict_function(classifier)
    if not (is_int(coarse_step) and coarse_step & (coarse_step - 1) == 0):
        raise ValueError(f"coarse_step must be a power of two (1, 2, 4, 8, ...); got {coarse_step!r}.")
    if not (is_real(tolerance) and 0 <= tolerance <= 1):
        raise ValueError(f"tolerance must be a probability in [0, 1]; got {tolerance!r}.")
    x_axis, y_axis = _grid_axes(xx, yy)
    ny, nx = xx.shape
    widest = 2 ** ((min(ny, nx) - 1).bit_length() - 1)  # the largest power of two within the grid's shorter side
    step = min(int(coarse_step), widest)
    rows, cols = step * -(-(ny - 1) // step) + 1, step * -(-(nx - 1) // step) + 1  # whole cells, past the edge
    x_axis, y_axis = _extend(x_axis, cols), _extend(y_axis, rows)

    proba = None  # [rows, cols, K], allocated when K is known
    evaluated = np.zeros((rows, cols), dtype=bool)

    def classify(index: np.ndarray) -> None:
        """Classify the grid points ``index`` [m, 2] (row, col) not classified yet."""
        nonlocal proba
        index = np.unique(index, axis=0)
        index = index[~evaluated[index[:, 0], index[:, 1]]]
        if len(index) == 0:
            return
        values = np.asarray(predict(np.column_stack([x_axis[index[:, 1]], y_axis[index[:, 0]]])), dtype=float)
        if values.ndim != 2 or len(values) != len(index):
            raise ValueError(f"predict_proba must return one row of probabilities per point; got shape {values.shape}.")
        if proba is None:
            proba = np.full((rows, cols, values.shape[1]), np.nan)
        proba[index[:, 0], index[:, 1]] = values
        evaluated[index[:, 0], index[:, 1]] = True

    cells = np.stack(np.meshgrid(np.arange((rows - 1) // step), np.arange((cols - 1) // step), indexing="ij"), -1)
    cells = cells.reshape(-1, 2)  # [m, 2] (row, column) of each coarse cell, in cells
    classify((cells[:, None] + CORNERS).reshape(-1, 2) * step)  # the coarse grid
    settled: list[tuple[int, np.ndarray]] = []  # (cell size, cells [m, 2]) whose inside is interpolated
    while step > 1 and len(cells):  # cells of one step have every point classified
        corners = (cells[:, None] + CORNERS) * step  # [m, 4, 2]
        corner_proba = proba[corners[..., 0], corners[..., 1]]  # [m, 4, K]
        labels = corner_proba.argmax(-1)  # [m, 4]
        one_class = (labels == labels[:, :1]).all(1)  # [m]
        confident = (corner_proba.max(-1) >= 1 - tolerance).all(1) | (step <= BAND_CELL)  # [m]
        sure = one_class & confident
        settled.append((step, cells[sure]))
        split, step = cells[~sure], step // 2
        classify(((split * 2)[:, None] + MIDPOINTS).reshape(-1, 2) * step)
        cells = ((split * 2)[:, None] + CORNERS).reshape(-1, 2)

    for size, cells in settled:  # coarse to fine: a finer cell's edge overwrites its coarser neighbour's
        _fill(proba, evaluated, size, cells)
    proba = proba[:ny, :nx]
    return (proba, evaluated[:ny, :nx]) if return_evaluated else proba


def _fill(proba: np.ndarray, evaluated: np.ndarray, size: int, cells: np.ndarray) -> None:
    """Bilinear interpolation of each cell's corners onto its unclassified points, in place."""
    if len(cells) == 0:
        return
    offsets = np.arange(size + 1)
    weight = (offsets / size)[:, None]  # [s+1, 1]
    top, left = cells[:, 0] * size, cells[:, 1] * size  # [m]
    p00, p01 = proba[top, left], proba[top, left + size]  # [m, K]
    p10, p11 = proba[top + size, left], proba[top + size, left + size]
    upper = p00[:, None] * (1 - weight) + p01[:, None] * weight  # [m, s+1, K] along the top edge
    lower = p10[:, None] * (1 - weight) + p11[:, None] * weight
    inside = upper[:, None] * (1 - weight[:, :, None]) + lower[:, None] * weight[:, :, None]  # [m, s+1, s+1, K]
    i = (top[:, None] + offsets)[:, :, None].repeat(size + 1, 2)  # [m, s+1, s+1]
    j = (left[:, None] + offsets)[:, None, :].repeat(size + 1, 1)
    free = ~evaluated[i, j]
    proba[i[free], j[free]] = inside[free]
