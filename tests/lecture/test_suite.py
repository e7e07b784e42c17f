"""The suite of low-dimensional problems the defaults are chosen on: every problem draws what it
says, a seed gives the same draw, and the Gaussian mixtures' labels follow their oracle."""

from __future__ import annotations

import numpy as np
import pytest

from toyclf.lecture.experiments.suite import PROBLEMS, TEST_SEEDS, VALIDATION_SEEDS, problem


@pytest.mark.parametrize("prob", PROBLEMS, ids=lambda p: p.key)
def test_every_problem_draws_a_seeded_stratified_split(prob):
    split = prob.split(seed=3, n_test=200)
    assert split.X_train.shape[0] == prob.n_train and split.X_test.shape[0] == 200
    assert split.X_train.shape[1] in (2, 4, 8) and np.isfinite(split.X_train).all()
    assert len(np.unique(split.y_train)) >= 2
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
