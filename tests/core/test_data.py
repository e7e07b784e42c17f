import numpy as np
import pytest

from toyclf import make_dataset, make_spirals
from toyclf.data import DATASETS


def test_make_spirals_follows_make_moons():
    X, y = make_spirals(101, noise=0.1, random_state=0)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 50]  # split as make_moons splits


def test_arms_are_classes_and_one_unit_apart():
    X, y = make_spirals(3000, n_arms=3, n_turns=2, shuffle=False)
    assert sorted(np.unique(y)) == [0, 1, 2]
    radius, angle = np.hypot(*X.T), np.arctan2(X[:, 1], X[:, 0])
    # along the ray at angle 0, arm k sits at radius (3 m - k) for whole m: neighbours 1 apart
    on_ray = np.abs(np.angle(np.exp(1j * angle))) < 0.01
    r, arm = radius[on_ray], y[on_ray]
    assert on_ray.sum() >= 6
    np.testing.assert_allclose(r, np.round(r), atol=0.05)
    assert np.all((np.round(r) + arm) % 3 == 0)  # arm k is rotated by +2 pi k / 3
    assert radius.max() == pytest.approx(3 * 2, rel=1e-9)  # n_arms * n_turns


def test_per_class_counts_and_turns():
    _, y = make_spirals((10, 20, 30), n_arms=3, random_state=0)
    assert np.bincount(y).tolist() == [10, 20, 30]
    X1, _ = make_spirals(200, n_turns=1, noise=None, shuffle=False)
    X3, _ = make_spirals(200, n_turns=3, noise=None, shuffle=False)
    assert np.hypot(*X3.T).max() == pytest.approx(3 * np.hypot(*X1.T).max())


def test_determinism_and_shuffle():
    a = make_spirals(200, noise=0.2, random_state=3)
    b = make_spirals(200, noise=0.2, random_state=3)
    c = make_spirals(200, noise=0.2, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    _, y = make_spirals(200, shuffle=False)
    assert (np.diff(y) >= 0).all()  # arm by arm when not shuffled
    _, y = make_spirals(200, shuffle=True, random_state=0)
    assert (np.diff(y) < 0).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=1), "n_samples must be at least"),
        (dict(n_samples=(5,)), "one per arm"),
        (dict(n_arms=1), "n_arms must be an int >= 2, got 1"),
        (dict(n_turns=0), "n_turns must be a positive"),
        (dict(noise=-0.1), "noise must be None or a non-negative number, got -0.1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_spirals(**{"n_samples": 100, **kwargs})


# each set's classes (as equal shares of the points) and its default noise, as make_dataset's docstring gives them
DATASET_CLASSES_AND_NOISE = {"spirals": (2, 0.2), "moons": (2, 0.2), "circles": (2, 0.1), "blobs": (3, 1.0)}


@pytest.mark.parametrize("name", DATASETS)
def test_make_dataset(name):
    n_classes, noise = DATASET_CLASSES_AND_NOISE[name]
    X, y = make_dataset(name, 300, random_state=0)
    assert X.shape == (300, 2) and X.dtype == np.float64
    assert np.bincount(y).tolist() == [300 // n_classes] * n_classes
    np.testing.assert_array_equal(X, make_dataset(name, 300, random_state=0)[0])
    assert not np.array_equal(X, make_dataset(name, 300, random_state=1)[0])
    # noise=None is the documented default, and the noise is used
    np.testing.assert_array_equal(X, make_dataset(name, 300, noise=noise, random_state=0)[0])
    assert not np.allclose(X, make_dataset(name, 300, noise=2 * noise, random_state=0)[0])


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'spiral'; expected one of spirals, moons"):
        make_dataset("spiral")
