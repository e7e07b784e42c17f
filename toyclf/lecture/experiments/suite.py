"""A suite of small low-dimensional classification problems: what a student might throw at the
classifier, beyond the spirals it was first built for.

Moons and circles at two noise levels, overlapping blobs, 3- and 4-arm spirals, XOR, 4-D and 8-D
``make_classification``, an imbalanced set (9 : 1), and two Gaussian mixtures whose exact Bayes
posterior is known (:class:`~toyclf.denoisers.GaussianMixtureOracle`), so that accuracy and
calibration can be measured against the best any classifier could do. The classifier's defaults
are chosen on draws with validation seeds and reported on draws with other (test) seeds
(``benchmarks/defaults_benchmark.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_blobs, make_circles, make_classification, make_moons
from sklearn.model_selection import train_test_split

from toyclf.data import make_spirals
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.lecture.experiments.comparison import Split


@dataclass(frozen=True)
class Problem:
    """A data set that can be drawn afresh with any seed: ``draw(n_samples, seed) -> X, y``."""

    key: str  # what results are keyed by
    label: str  # what tables and figures show
    draw: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    n_train: int = 2000
    oracle: GaussianMixtureOracle | None = None  # the exact p(c | x), when the data is a Gaussian mixture

    def split(self, seed: int, n_test: int = 4000) -> Split:
        """``n_train`` training and ``n_test`` test points of one draw, split stratified."""
        X, y = self.draw(self.n_train + n_test, seed)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=self.n_train, test_size=n_test, stratify=y, random_state=seed
        )
        return Split(self.key, X_train, X_test, y_train, y_test)


def xor_oracle(std: float = 0.5) -> GaussianMixtureOracle:
    """XOR: class 0 around (1, 1) and (-1, -1), class 1 around (1, -1) and (-1, 1), round blobs of ``std``."""
    means = [[[1.0, 1.0], [-1.0, -1.0]], [[1.0, -1.0], [-1.0, 1.0]]]  # [K=2, J=2, D=2]
    return GaussianMixtureOracle(means, std**2 * np.tile(np.eye(2), (2, 2, 1, 1)))


def _oracle_problem(key: str, label: str, oracle: GaussianMixtureOracle, n_train: int = 2000) -> Problem:
    return Problem(key, label, lambda n, seed: oracle.sample(n, seed=seed), n_train=n_train, oracle=oracle)


def _classification(n_features: int, n_informative: int) -> Callable[[int, int], tuple[np.ndarray, np.ndarray]]:
    def draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return make_classification(
            n,
            n_features=n_features,
            n_informative=n_informative,
            n_redundant=n_features - n_informative,
            n_classes=3,
            n_clusters_per_class=2,
            random_state=seed,
        )

    return draw


PROBLEMS: tuple[Problem, ...] = (
    Problem("moons_0.2", "moons, noise 0.2", lambda n, seed: make_moons(n, noise=0.2, random_state=seed)),
    Problem("moons_0.3", "moons, noise 0.3", lambda n, seed: make_moons(n, noise=0.3, random_state=seed)),
    Problem(
        "circles_0.1", "circles, noise 0.1", lambda n, seed: make_circles(n, noise=0.1, factor=0.5, random_state=seed)
    ),
    Problem(
        "circles_0.2", "circles, noise 0.2", lambda n, seed: make_circles(n, noise=0.2, factor=0.5, random_state=seed)
    ),
    Problem(
        "blobs",
        "blobs, overlapping",
        lambda n, seed: make_blobs(n, centers=[[0, 2], [-1.7, -1], [1.7, -1]], cluster_std=1.5, random_state=seed),
    ),
    Problem("spirals_2", "spirals, 2 arms", lambda n, seed: make_spirals(n, noise=0.2, random_state=seed)),
    Problem("spirals_3", "spirals, 3 arms", lambda n, seed: make_spirals(n, noise=0.2, n_arms=3, random_state=seed)),
    Problem("spirals_4", "spirals, 4 arms", lambda n, seed: make_spirals(n, noise=0.2, n_arms=4, random_state=seed)),
    _oracle_problem("xor", "XOR", xor_oracle()),
    Problem("classification_4d", "4-D, 3 classes", _classification(4, 3)),
    Problem("classification_8d", "8-D, 3 classes", _classification(8, 5)),
    Problem(
        "moons_imbalanced",
        "moons, imbalanced 9:1",
        lambda n, seed: make_moons((n - n // 10, n // 10), noise=0.2, random_state=seed),
    ),
    _oracle_problem(
        "mixture_3", "Gaussian mixture, 3 classes", GaussianMixtureOracle.ring(3, 2, std=0.7), n_train=4000
    ),
)

VALIDATION_SEEDS = (100, 101, 102)  # where the defaults are chosen
TEST_SEEDS = (0, 1, 2)  # where they are reported


def problem(key: str) -> Problem:
    """The problem of the suite with this ``key``."""
    for candidate in PROBLEMS:
        if candidate.key == key:
            return candidate
    raise ValueError(f"no problem {key!r} in the suite; expected one of {[p.key for p in PROBLEMS]}.")
