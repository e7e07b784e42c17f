"""The paper's settings (toyclf.paper): one argument away, and what they name is the paper's
estimator: Algorithm 1 as ``reference_class_errors`` writes it, and Algorithm 2 with its stages."""

from __future__ import annotations

import inspect

import numpy as np
import torch
from conftest import PrototypeDenoiser

from toyclf import PAPER, DiffusionClassifier, class_errors, make_plan, reference_class_errors
from toyclf.paper import PAPER_ALGORITHM_2, PAPER_ESTIMATOR, PAPER_PLAN


def test_the_presets_are_arguments_of_the_classifier_the_plan_and_the_estimator():
    assert set(PAPER) <= set(DiffusionClassifier().get_params())
    assert set(PAPER_PLAN) <= set(inspect.signature(make_plan).parameters)
    assert set(PAPER_ESTIMATOR) <= set(inspect.signature(class_errors).parameters)
    different = {name for name, value in PAPER.items() if DiffusionClassifier().get_params()[name] != value}
    assert {"weighting", "noise_range", "noise_sampling", "pruning"} <= different  # the default is not the paper's


def test_class_errors_with_the_paper_settings_are_algorithm_1(prototype_denoiser):
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    plan = make_plan(prototype_denoiser, 40, seed=3, **PAPER_PLAN)
    fast = class_errors(prototype_denoiser, x, plan, **PAPER_ESTIMATOR)
    torch.testing.assert_close(fast, reference_class_errors(prototype_denoiser, x, plan), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(fast, class_errors(prototype_denoiser, x, plan, weighting="elbo"))  # a setting matters


def test_the_classifier_with_the_paper_settings_is_algorithm_1(spirals_split):
    X_train, y_train, X_test, _ = spirals_split
    clf = DiffusionClassifier(**PAPER, max_iter=100, hidden_size=32, n_timesteps=100, n_trials=24, random_state=0)
    clf.fit(X_train, y_train)
    errors, trials = clf.class_errors(X_test[:50], return_trials=True)
    plan = make_plan(clf.denoiser_, 24, seed=clf.plan_seed_, **PAPER_PLAN)
    expected = reference_class_errors(clf.denoiser_, clf._to_tensor(X_test[:50]), plan)
    np.testing.assert_allclose(errors, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert (trials == 24).all()  # every class on every trial
    proba = clf.predict_proba(X_test[:50])
    np.testing.assert_allclose(proba, torch.softmax(-expected.double() + torch.log(torch.tensor([0.5, 0.5])), 1))


def test_algorithm_2_spends_the_papers_evaluations():
    """CIFAR-10's stages: every one of 10 classes on 50 trials, the best 5 on 450 more: 2,750
    evaluations an image (the paper's count)."""
    prototypes = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    denoiser = PrototypeDenoiser(prototypes)
    x = prototypes[:4] + 0.1
    plan = make_plan(denoiser, 500, seed=0, **PAPER_PLAN)
    errors, trials = class_errors(
        denoiser, x, plan, **{**PAPER_ESTIMATOR, "pruning": PAPER_ALGORITHM_2["pruning"]}, return_trials=True
    )
    assert trials.sum(1).tolist() == [10 * 50 + 5 * 450] * 4
    assert errors.argmin(1).tolist() == [0, 1, 2, 3]


def test_a_preset_keeps_a_fitted_temperature():
    """Applying the paper's settings changes the estimator, not a temperature ``calibrate`` fitted."""
    clf = DiffusionClassifier(temperature=0.3).set_params(**PAPER)
    assert clf.temperature == 0.3 and clf.weighting == "uniform" and clf.pruning is None
