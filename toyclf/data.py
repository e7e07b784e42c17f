"""2D toy data sets: interlaced spirals, and the scikit-learn sets beside them.

``make_spirals`` follows :func:`sklearn.datasets.make_moons` (``n_samples``, ``noise``,
``shuffle``, ``random_state``; returns ``X, y``) and adds the number of arms (one class per
arm) and of turns. ``make_dataset`` gives every 2D set the command line and the figures know
by one name.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as shuffle_arrays

from toyclf.utils.validation import is_int, is_positive

DATASETS = ("spirals", "moons", "circles", "blobs")


def _per_class_counts(n_samples: int | tuple[int, ...], n_classes: int) -> list[int]:
    """Split ``n_samples`` over the classes as make_moons does (or take one count per class)."""
    if is_int(n_samples, low=0):
        if n_samples < n_classes:
            raise ValueError(f"n_samples must be at least the number of classes ({n_classes}), got {n_samples}.")
        base, extra = divmod(int(n_samples), n_classes)
        return [base + (k < extra) for k in range(n_classes)]
    counts = list(n_samples) if isinstance(n_samples, (tuple, list)) else None
    if counts is None or len(counts) != n_classes or not all(is_int(c) for c in counts):
        raise ValueError(
            f"n_samples must be an int >= {n_classes} or a tuple of {n_classes} positive ints "
            f"(one per arm), got {n_samples!r}."
        )
    return [int(c) for c in counts]


def make_spirals(
    n_samples: int | tuple[int, ...] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: int | np.random.RandomState | None = None,
    n_arms: int = 2,
    n_turns: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Make interlaced Archimedean spirals, one class per arm.

    Arm ``k`` is the curve ``r = n_arms * theta / (2 pi)``, rotated by ``2 pi k / n_arms``, for
    ``theta`` in ``[0, 2 pi n_turns]``: neighbouring arms are one unit apart along every ray,
    whatever the number of arms or turns, so ``noise`` means the same thing for all of them.
    Points are evenly spaced along each arm (as ``make_moons`` spaces them along each moon).

    Parameters
    ----------
    n_samples : int or tuple of int, default=100
        Total number of points, split as evenly as possible over the arms, or one count per arm.
    shuffle : bool, default=True
        Whether to shuffle the samples.
    noise : float or None, default=None
        Standard deviation of Gaussian noise added to every coordinate (arms are 1 apart).
    random_state : int, RandomState instance or None, default=None
        Seed for the noise and the shuffle.
    n_arms : int, default=2
        Number of arms, which is the number of classes.
    n_turns : float, default=1.5
        Number of turns of every arm.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,), the arm of every point (0 .. n_arms - 1).
    """
    if not is_int(n_arms, low=2):
        raise ValueError(f"n_arms must be an int >= 2, got {n_arms!r}.")
    if not is_positive(n_turns):
        raise ValueError(f"n_turns must be a positive finite number, got {n_turns!r}.")
    if noise is not None and (not isinstance(noise, Real) or not np.isfinite(noise) or noise < 0):
        raise ValueError(f"noise must be None or a non-negative number, got {noise!r}.")
    counts = _per_class_counts(n_samples, n_arms)
    rng = check_random_state(random_state)

    points, labels = [], []
    for arm, count in enumerate(counts):
        # sqrt spacing in theta is even spacing in arc length (arc length grows like theta^2)
        theta = 2 * np.pi * n_turns * np.sqrt(np.linspace(0.0, 1.0, count))  # [count]
        radius = n_arms * theta / (2 * np.pi)
        angle = theta + 2 * np.pi * arm / n_arms
        points.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
        labels.append(np.full(count, arm, dtype=np.int64))
    X, y = np.concatenate(points), np.concatenate(labels)  # [n, 2], [n]

    if shuffle:
        X, y = shuffle_arrays(X, y, random_state=rng)
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def make_dataset(
    name: str,
    n_samples: int = 2000,
    *,
    noise: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One of the 2D sets by name: ``spirals``, ``moons``, ``circles`` or ``blobs``.

    ``noise=None`` takes each set's own default, chosen so that the classes overlap a little
    (a visible uncertain band) but not much: spirals 0.2, moons 0.2, circles 0.1, and for the
    three overlapping blobs (centres on a triangle of side 2 sqrt(3)) the standard deviation
    of each blob, 1.0.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {', '.join(DATASETS)}.")
    if name == "spirals":
        return make_spirals(n_samples, noise=0.2 if noise is None else noise, random_state=random_state)
    if name == "moons":
        return make_moons(n_samples, noise=0.2 if noise is None else noise, random_state=random_state)
    if name == "circles":
        noise = 0.1 if noise is None else noise
        return make_circles(n_samples, noise=noise, factor=0.5, random_state=random_state)
    centres = [[0.0, 2.0], [-np.sqrt(3.0), -1.0], [np.sqrt(3.0), -1.0]]
    std = 1.0 if noise is None else noise
    return make_blobs(n_samples, centers=centres, cluster_std=std, random_state=random_state)
