"""The spirals figures (toyclf.lecture.plots.maps, toyclf.lecture.plots.keys): the boundary sits on the posterior's
0.5 level, every class is named in a legend that hides no data, every probability has a colourbar."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from toyclf.lecture.plots import maps
from toyclf.lecture.plots.keys import CLASS_COLORS, class_names, posterior_colorbar


def grid(resolution: int = 11) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.linspace(-1, 1, resolution), np.linspace(-1, 1, resolution))


def linear_posterior(xx: np.ndarray, shift: float = 0.037) -> np.ndarray:
    """p(class 1 | x) = 0.5 + 0.3 (x - shift): its 0.5 level is the vertical line x = shift. [r, r, 2]"""
    p1 = 0.5 + 0.3 * (xx - shift)
    return np.stack([1 - p1, p1], axis=-1)


def three_centres_posterior(xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softmax of -2 |x - mu_c|^2 for three centres: boundaries where two centres are equally near."""
    centres = np.array([[0.0, 0.6], [-0.5, -0.3], [0.55, -0.35]])
    return centres, _softmax_posterior(np.stack([xx, yy], axis=-1), centres)


def _softmax_posterior(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    logits = -2 * ((points[..., None, :] - centres) ** 2).sum(-1)  # [..., K]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def vertices(contours) -> np.ndarray:
    return np.concatenate([path.vertices for contour in contours for path in contour.get_paths()])


def test_two_class_boundary_is_the_smooth_half_level_not_the_cell_edges():
    xx, yy = grid(11)  # grid step 0.2: cell edges would put the boundary at x = 0.1
    fig, ax = plt.subplots()
    drawn = maps.draw_boundary(ax, xx, yy, linear_posterior(xx))
    points = vertices(drawn)
    assert len(drawn) == 1 and len(points) >= 11
    np.testing.assert_allclose(points[:, 0], 0.037, atol=1e-9)  # exactly where p(class 1 | x) = 0.5
    plt.close(fig)


def test_k_class_boundary_is_where_the_top_two_posteriors_are_equal():
    xx, yy = grid(81)
    centres, proba = three_centres_posterior(xx, yy)
    fig, ax = plt.subplots()
    points = vertices(maps.draw_boundary(ax, xx, yy, proba))
    at_vertices = _softmax_posterior(points, centres)  # [m, 3]
    top2 = np.sort(at_vertices, axis=-1)[:, -2:]  # [m, 2]
    assert len(points) > 50
    np.testing.assert_allclose(top2[:, 0], top2[:, 1], atol=0.01)
    pairs = {tuple(sorted(pair)) for pair in np.argsort(at_vertices, axis=-1)[:, -2:].tolist()}
    assert pairs == {(0, 1), (0, 2), (1, 2)}  # all three boundaries are drawn
    plt.close(fig)


def test_class_margins():
    proba = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    expected = np.array([[0.2, -0.2, -0.3], [0.0, 0.0, -0.2], [1.0, -1.0, -1.0]])
    np.testing.assert_allclose(maps.class_margins(proba), expected)


def test_class_names():
    assert class_names(2) == ["class 0", "class 1"]
    assert class_names(2, np.array([3, 7])) == ["class 3", "class 7"]
    assert class_names(2, np.array(["cat", "dog"])) == ["cat", "dog"]
    with pytest.raises(ValueError, match="name all 3 classes"):
        class_names(3, ["cat", "dog"])


def test_two_class_colourbar_is_the_map_colour_of_p():
    fig, ax = plt.subplots()
    bar = posterior_colorbar(fig, ax, 2, ["cat", "dog"])
    cmap = bar.mappable.get_cmap()
    np.testing.assert_allclose(cmap(0.0)[:3], to_rgb(CLASS_COLORS[0]), atol=0.01)  # p(dog) = 0: cat's red
    np.testing.assert_allclose(cmap(0.5)[:3], 1, atol=0.01)  # undecided: white
    np.testing.assert_allclose(cmap(1.0)[:3], to_rgb(CLASS_COLORS[1]), atol=0.01)
    assert bar.ax.get_ylabel() == "p(dog | x)"
    plt.close(fig)


def legend_texts(fig) -> list[str]:
    (legend,) = fig.legends
    return [text.get_text() for text in legend.get_texts()]


def assert_legend_hides_no_axes(fig) -> None:
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), "the legend is drawn over a map"


def colourbar_labels(fig) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]


@pytest.mark.parametrize("K", [2, 3])
def test_every_map_names_the_classes_below_and_keys_its_probabilities(K):
    xx, yy = grid(41)
    proba = linear_posterior(xx) if K == 2 else three_centres_posterior(xx, yy)[1]
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (60, 2)), rng.integers(0, K, 60)
    labels = ["cat", "dog", "emu"][:K]
    figures = {
        "decision": maps.plot_decision_map(xx, yy, proba, X, y, class_labels=labels),
        "posterior": maps.plot_posterior_map(xx, yy, proba, X, y, class_labels=labels),
        "samples": maps.plot_samples(X, y, X, y, K, class_labels=labels),
        "comparison": maps.plot_comparison(
            [
                dict(name="toy", xx=xx, yy=yy, X_train=X, y_train=y, X_test=X, y_test=y, n_classes=K)
                | dict(results=[("a", proba, 0.9), ("b", proba, 0.8)])
            ],
            class_labels=labels,
        ),
    }
    probability = "p(dog | x)" if K == 2 else "top posterior: max over c of p(c | x)"
    expected_bars = {"decision": [], "samples": [], "posterior": [probability, maps.ENTROPY_LABEL]}
    expected_bars["comparison"] = [probability]
    for name, fig in figures.items():
        assert legend_texts(fig)[:K] == labels, name
        assert_legend_hides_no_axes(fig)
        assert colourbar_labels(fig) == expected_bars[name], name
        plt.close(fig)
