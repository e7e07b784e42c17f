"""The suite of low-dimensional problems the defaults are chosen on: every problem draws what it
says, a seed gives the same draw, and the Gaussian mixtures' labels follow their oracle."""

from __future__ import annotations

import numpy as np
import pytest

from toyclf.lecture.experiments.suite import PROBLEMS, TEST_SEEDS, VALIDATION_SEEDS, problem

# what each problem says it draws: (features, classes)
SHAPES = {
    "moons_0.2": (2, 2),
    "moons_0.3": (2, 2),
    "circles_0.1": (2, 2),
    "circles_0.2": (2, 2),
    "blobs": (2, 3),
    "spirals_2": (2, 2),
    "spirals_3": (2, 3),
    "spirals_4": (2, 4),
    "xor": (2, 2),
    "classification_4d": (4, 3),
    "classification_8d": (8, 3),
    "moons_imbalanced": (2, 2),
    "mixture_3": (2, 3),
}


@pytest.mark.parametrize("prob", PROBLEMS, ids=lambda p: p.key)
def test_every_problem_draws_a_seeded_stratified_split(prob):
    n_features, n_classes = SHAPES[prob.key]
    split = prob.split(seed=3, n_test=200)
    assert split.X_train.shape == (prob.n_train, n_features) and split.X_test.shape == (200, n_features)
    assert np.isfinite(split.X_train).all() and np.isfinite(split.X_test).all()
    assert np.unique(split.y_train).tolist() == np.unique(split.y_test).tolist() == list(range(n_classes))
    # stratified: each class has the same share of the training and the test points, to one test point
    share_train = np.bincount(split.y_train) / prob.n_train
    share_test = np.bincount(split.y_test) / 200
    np.testing.assert_allclose(share_train, share_test, atol=1 / 200 + 1e-12)
    if prob.key == "moons_imbalanced":
        np.testing.assert_allclose(share_train, [0.9, 0.1])  # 9 : 1
    again = prob.split(seed=3, n_test=200)
    np.testing.assert_array_equal(split.X_test, again.X_test)
    assert not np.array_equal(prob.split(seed=4, n_test=200).X_test, split.X_test)


def test_validation_and_test_seeds_differ_and_keys_are_unique():
    assert not set(VALIDATION_SEEDS) & set(TEST_SEEDS)
    assert len({p.key for p in PROBLEMS}) == len(PROBLEMS) >= 8
    with pytest.raises(ValueError, match="no problem 'swiss roll' in the suite"):
        problem("swiss roll")


@pytest.mark.parametrize("key", ["xor", "mixture_3"])
def test_mixture_labels_follow_the_oracle(key):
    """The exact Bayes rule of the oracle classifies its own draws at about its Bayes accuracy
    (XOR 0.956, the 3-class mixture 0.847), far above chance."""
    prob = problem(key)
    split = prob.split(seed=0, n_test=4000)
    bayes = float(np.mean(prob.oracle.log_posterior(split.X_test).argmax(1).numpy() == split.y_test))
    assert bayes > {"xor": 0.94, "mixture_3": 0.82}[key]
