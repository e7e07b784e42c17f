"""The ablations of notebook 02: results keyed by the settings that made them, labelled where drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.experiments import ablations
from toyclf.experiments.ablations import CalibrationSetting, OracleEstimate, Scoring, TrialScheme
from toyclf.plan import make_plan
from toyclf.plots import ablations as plots
from toyclf.pruning import StagedElimination


def test_prefix_accuracy_reads_every_budget_off_one_pass():
    # [B=3, K=2, N=3]; true classes 0, 1, 0
    losses = torch.tensor(
        [
            [[1.0, 1.0, 1.0], [0.0, 3.0, 3.0]],  # class 1 wins the first trial, class 0 the means of 2 and 3
            [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]],  # always class 1
            [[5.0, 0.0, 0.0], [1.0, 1.0, 1.0]],  # means 5, 2.5, 5/3 against 1: always class 1
        ],
        dtype=torch.float64,
    )
    accuracy = ablations.prefix_accuracy(losses, [0, 1, 0], [1, 2, 3])
    assert accuracy.tolist() == [1 / 3, 2 / 3, 2 / 3]


@pytest.mark.parametrize(
    "key, label",
    [
        (TrialScheme(timesteps="random", noise_sampling="gaussian"), "random t"),
        (TrialScheme(noise_sampling="gaussian"), "evenly spaced t"),
        (TrialScheme(noise_sampling="gaussian", fixed_timestep=500), "t = 500 only"),
        (TrialScheme(), "evenly spaced t, Sobol noise (toyclf)"),
        (TrialScheme(timesteps="random"), "random t, Sobol noise"),
        (TrialScheme(noise_sampling="gaussian", shared_noise=False), "evenly spaced t, independent noise per class"),
    ],
)
def test_scheme_labels(key, label):
    assert plots.scheme_label(key) == label


@pytest.mark.parametrize(
    "key, label",
    [
        (OracleEstimate("elbo", 256, noise_sampling="gaussian"), "ELBO, 256 pairs, Gaussian noise (paper)"),
        (OracleEstimate("elbo", 1000), "ELBO, 1000 pairs, Sobol noise"),
        (OracleEstimate("elbo", 256, sqrt_density=True), "ELBO, 256 pairs, Sobol noise, t ~ sqrt(w)"),
        (OracleEstimate("uniform", 256), "uniform, 256 pairs"),
        (OracleEstimate("uniform", 256, fitted_temperature=True), "uniform, 256 pairs, fitted temperature"),
    ],
)
def test_estimate_labels(key, label):
    assert plots.estimate_label(key) == label


def test_noise_scoring_calibration_and_pruning_labels():
    assert plots.noise_label(TrialScheme(noise_sampling="gaussian")) == "shared noise"
    assert plots.noise_label(TrialScheme(noise_sampling="gaussian", shared_noise=False)) == "independent noise"
    assert plots.scoring_label(Scoring("l1", "elbo")) == "l1, elbo"
    assert plots.calibration_label(CalibrationSetting("uniform", fitted_temperature=False)) == "uniform, temperature 1"
    assert plots.calibration_label(CalibrationSetting("elbo", fitted_temperature=True)) == "elbo, fitted temperature"
    assert plots.pruning_label(None, 256) == "every class, all 256 trials"
    assert plots.pruning_label(StagedElimination((32, 256), (2, 1)), 256) == "staged (32, 256), keep (2, 1)"
    assert plots.pruning_label("staged", 500) == "staged (50, 500), keep (5, 1)"
    assert plots.pruning_label("early_stopping", 64) == "early stopping, at most 64"


def test_fixed_timestep_scheme_keeps_the_noise_and_fixes_t(prototype_denoiser):
    gaussian = ablations.scheme_plan(prototype_denoiser, TrialScheme(noise_sampling="gaussian"), 8, seed=3)
    fixed = ablations.scheme_plan(
        prototype_denoiser, TrialScheme(noise_sampling="gaussian", fixed_timestep=50), 8, seed=3
    )
    assert fixed.timesteps.tolist() == [50] * 8
    assert torch.equal(fixed.noise, gaussian.noise)
    assert len(set(gaussian.timesteps.tolist())) == 8  # evenly spaced: all different


def test_results_are_keyed_by_their_settings(prototype_denoiser):
    x = torch.tensor([[-1.0, 0.1], [1.0, 0.4], [0.1, 1.9], [-0.9, -0.1]])  # [4, 2], near the prototypes
    y = [0, 1, 2, 0]
    curves = ablations.accuracy_against_trials(prototype_denoiser, x, y, [1, 2, 4], fixed_timesteps=(50,))
    assert [plots.scheme_label(key) for key in curves] == [
        "random t",
        "evenly spaced t",
        "t = 50 only",
        "evenly spaced t, Sobol noise (toyclf)",
    ]
    assert all(curve.shape == (1, 3) for curve in curves.values())  # [seeds, sizes]
    noise = ablations.shared_against_independent_noise(prototype_denoiser, x, y, [1, 2, 4], seeds=(0, 1))
    assert all(curve.shape == (2, 3) for curve in noise["curves"].values())
    assert [plots.noise_label(key) for key in noise["curves"]] == ["shared noise", "independent noise"]
    losses = ablations.loss_and_weighting_accuracy(prototype_denoiser, x, y, 4)
    assert [plots.scoring_label(key) for key in losses] == ["l2, uniform", "l2, elbo", "l1, uniform", "l1, elbo"]


def test_oracle_estimates_are_keyed_by_their_settings():
    result = ablations.oracle_against_exact(GaussianMixtureOracle.ring(), n_points=20)
    assert [plots.estimate_label(key) for key in result["estimates"]] == [
        "ELBO, 256 pairs, Gaussian noise (paper)",
        "ELBO, 1000 pairs, Sobol noise",
        "ELBO, 256 pairs, Sobol noise, t ~ sqrt(w)",
        "uniform, 256 pairs",
        "uniform, 256 pairs, fitted temperature",
    ]
    uniform = result["estimates"][OracleEstimate("uniform", 256)]
    fitted = result["estimates"][OracleEstimate("uniform", 256, fitted_temperature=True)]
    np.testing.assert_allclose(fitted, uniform / result["temperature"])


def test_each_budget_is_scored_on_the_plan_of_that_many_trials(fitted, spirals_split):
    """Not on a prefix of a longer nested plan: those start at t near 0 ({1}, {1, 501}, ...), while a
    classifier with N trials puts its N timesteps at the centres of N bins ({500}, {250, 750}, ...)."""
    X_test, y_test = spirals_split[2][:300], spirals_split[3][:300]
    x = torch.tensor(fitted.scaler_.transform(X_test), dtype=torch.float32)
    y = np.searchsorted(fitted.classes_, y_test)
    denoiser = fitted.denoiser_
    curves = ablations.accuracy_against_trials(denoiser, x, y, [1, 2], seeds=(3, 4))[ablations.TrialScheme()]
    for i, seed in enumerate((3, 4)):
        for j, n in enumerate((1, 2)):
            plan = make_plan(denoiser, n, seed=seed)
            assert plan.timesteps.tolist() == ([500] if n == 1 else [250, 750])
            errors = class_errors(denoiser, x, plan)
            assert abs(curves[i, j] - np.mean(errors.argmin(1).numpy() == y)) <= 1 / len(y)  # float32 near-ties
