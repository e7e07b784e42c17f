"""The adaptive map (toyclf.mapping) against the per-point map, on exact functions and a trained classifier."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from toyclf.mapping import make_grid, probability_map


class CountingFunction:
    """p(c | x) of two classes split by a circle of radius 1 (sharpness ``k``), counting the points asked."""

    def __init__(self, k: float = 6.0) -> None:
        self.k, self.asked = k, 0

    def __call__(self, points: np.ndarray) -> np.ndarray:
        self.asked += len(points)
        inside = expit(self.k * (1 - np.hypot(points[:, 0], points[:, 1])))  # [n]
        return np.column_stack([1 - inside, inside])


def grid(nx: int, ny: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xx, yy = np.meshgrid(np.linspace(-2, 2, nx), np.linspace(-1.5, 1.5, ny))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


@pytest.mark.parametrize("nx, ny", [(101, 101), (90, 67)])
def test_adaptive_map_of_an_exact_posterior(nx, ny):
    f = CountingFunction()
    xx, yy, points = grid(nx, ny)
    exact = f(points).reshape(ny, nx, 2)
    f.asked = 0
    proba, evaluated = probability_map(f, xx, yy, tolerance=0.02, return_evaluated=True)
    assert proba.shape == (ny, nx, 2) and evaluated.shape == (ny, nx)
    assert f.asked < 0.5 * nx * ny  # far fewer points than the grid
    np.testing.assert_array_equal(proba[evaluated], exact[evaluated])  # classified points as they are
    assert np.mean(proba.argmax(-1) == exact.argmax(-1)) == 1.0
    np.testing.assert_allclose(proba.sum(-1), 1.0)
    confident = exact.max(-1) >= 0.98
    assert np.abs(proba - exact)[confident].max() <= 0.02  # the tolerance, away from the band
    assert np.abs(proba - exact).max() <= 0.05  # inside the band: interpolation between two steps


def test_coarse_step_one_is_the_per_point_map():
    f = CountingFunction()
    xx, yy, points = grid(23, 17)
    proba = probability_map(f, xx, yy, coarse_step=1)
    assert f.asked == 23 * 17
    np.testing.assert_array_equal(proba, f(points).reshape(17, 23, 2))


def test_adaptive_map_agrees_with_the_per_point_map_of_a_trained_classifier(fitted, spirals_split):
    X_train = spirals_split[0]
    xx, yy, points = make_grid(X_train, 64)
    per_point = fitted.predict_proba(points).reshape(64, 64, -1)
    proba, evaluated = probability_map(fitted, xx, yy, return_evaluated=True)
    np.testing.assert_array_equal(proba[evaluated], per_point[evaluated])  # batch-independent predictions
    assert evaluated.mean() < 0.6
    assert np.mean(proba.argmax(-1) == per_point.argmax(-1)) >= 0.995


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"coarse_step": 3}, "coarse_step must be a power of two"),
        ({"coarse_step": 0}, "coarse_step must be a power of two"),
        ({"tolerance": 1.5}, "tolerance must be a probability in \\[0, 1\\]; got 1.5"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    xx, yy, _ = grid(10, 10)
    with pytest.raises(ValueError, match=message):
        probability_map(CountingFunction(), xx, yy, **kwargs)


def test_bad_grids_and_classifiers_are_refused():
    xx, yy, _ = grid(10, 10)
    with pytest.raises(ValueError, match="meshgrid"):
        probability_map(CountingFunction(), xx, yy.T)
    with pytest.raises(ValueError, match="evenly spaced"):
        probability_map(CountingFunction(), xx**3, yy)
    with pytest.raises(TypeError, match="predict_proba"):
        probability_map("a classifier", xx, yy)
    with pytest.raises(ValueError, match="one row of probabilities per point"):
        probability_map(lambda points: np.ones(len(points)), xx, yy)
