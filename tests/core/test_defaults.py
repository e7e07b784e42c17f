"""The defaults, as a new user meets them: accurate beside a tuned baseline where the paper's
uniform weighting is not (an imbalanced set), and calibrated against an exact Bayes posterior
(a trained model on a Gaussian mixture, and the estimator alone on the exact denoiser).

benchmarks/defaults_benchmark.py measures the same on 13 problems and three seeds; these are
smaller draws of two of them, with the full default classifier.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from toyclf import DiffusionClassifier
from toyclf.calibration import expected_calibration_error
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors, log_posterior, timestep_weights
from toyclf.lecture.experiments.suite import problem
from toyclf.plan import make_plan

DEFAULTS = DiffusionClassifier().get_params()


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Mean over points of 1/2 sum_c |p(c | x) - q(c | x)| (for two classes: mean |dp|)."""
    return float(0.5 * np.abs(p - q).sum(1).mean())


def test_defaults_match_a_tuned_baseline_on_an_imbalanced_set():
    """Moons with a 9 : 1 class ratio. The class prior enters the posterior on the scale of the
    errors only when they are log-likelihoods: with the paper's uniform weights (at temperature 1)
    the prior swamps them and the classifier trails k-NN by about six points."""
    split = problem("moons_imbalanced").split(seed=5, n_test=3000)
    knn = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [5, 15, 30]}).fit(split.X_train, split.y_train)
    clf = DiffusionClassifier(random_state=5).fit(split.X_train, split.y_train)
    accuracy, baseline = clf.score(split.X_test, split.y_test), knn.score(split.X_test, split.y_test)
    assert accuracy >= baseline - 0.005, (accuracy, baseline)
    assert clf.set_params(weighting="uniform", noise_range=None).score(split.X_test, split.y_test) < baseline - 0.02


def test_defaults_are_calibrated_against_the_exact_posterior_of_a_gaussian_mixture():
    """Three overlapping classes whose Bayes posterior is known: the trained default model is
    within a point of the Bayes accuracy and close to the exact posterior (the paper's uniform
    weighting: total variation about 0.29)."""
    prob = problem("mixture_3")
    split = prob.split(seed=5, n_test=3000)
    clf = DiffusionClassifier(random_state=5).fit(split.X_train, split.y_train)
    proba = clf.predict_proba(split.X_test)
    exact = prob.oracle.log_posterior(split.X_test).exp().numpy()
    bayes = np.mean(exact.argmax(1) == split.y_test)
    assert np.mean(proba.argmax(1) == split.y_test) >= bayes - 0.01
    assert total_variation(proba, exact) < 0.04
    assert expected_calibration_error(proba, split.y_test) < 0.03


@pytest.mark.parametrize("n_classes, bound", [(2, 0.02), (3, 0.03)])
def test_default_estimator_on_the_exact_denoiser_is_the_bayes_posterior(n_classes, bound):
    """With exact noise predictions only the estimator's own error is left: the defaults'
    weighting, noise range, trials and early stopping, over two plan seeds (measured: 0.011 for two
    classes, 0.022 for three, where early stopping leaves pruned classes a noisier estimate)."""
    oracle = GaussianMixtureOracle.ring(n_classes)
    X, _ = oracle.sample(400, seed=7)
    exact = oracle.log_posterior(X).exp().numpy()
    weights = timestep_weights(oracle.schedule, DEFAULTS["weighting"], noise_range=DEFAULTS["noise_range"])
    for seed in (0, 1):
        plan = make_plan(oracle, DEFAULTS["n_trials"], timestep_density=weights > 0, seed=seed)
        errors = class_errors(
            oracle,
            torch.tensor(X, dtype=torch.float32),
            plan,
            weighting=DEFAULTS["weighting"],
            noise_range=DEFAULTS["noise_range"],
            pruning=DEFAULTS["pruning"],
        )
        assert total_variation(log_posterior(errors).exp().numpy(), exact) < bound
