"""The ablations of notebook 02: results keyed by the settings that made them, labelled where drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.lecture.experiments.calibration_settings import CalibrationSetting
from toyclf.lecture.experiments.exact_posterior import OracleEstimate, oracle_against_exact
from toyclf.lecture.experiments.loss_and_weighting import Scoring, loss_and_weighting_accuracy
from toyclf.lecture.experiments.noise_sharing import shared_against_independent_noise, variance_ratio
from toyclf.lecture.experiments.per_trial import TrialScheme, prefix_accuracy, scheme_plan
from toyclf.lecture.experiments.trials import accuracy_against_trials, single_timestep_accuracy
from toyclf.lecture.plots import ablations as plots
from toyclf.plan import make_plan
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
    accuracy = prefix_accuracy(losses, [0, 1, 0], [1, 2, 3])
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
        (OracleEstimate("elbo", 256, noise_sampling="gaussian"), "ELBO, 256 trials, Gaussian noise (paper's plan)"),
        (OracleEstimate("elbo", 1000), "ELBO, 1000 trials, Sobol noise"),
        (OracleEstimate("elbo", 256, sqrt_density=True), "ELBO, 256 trials, Sobol noise, t ~ sqrt(w)"),
        (OracleEstimate("uniform", 256), "uniform, 256 trials"),
        (OracleEstimate("uniform", 256, fitted_temperature=True), "uniform, 256 trials, fitted temperature"),
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
    gaussian = scheme_plan(prototype_denoiser, TrialScheme(noise_sampling="gaussian"), 8, seed=3)
    fixed = scheme_plan(prototype_denoiser, TrialScheme(noise_sampling="gaussian", fixed_timestep=50), 8, seed=3)
    assert fixed.timesteps.tolist() == [50] * 8
    assert torch.equal(fixed.noise, gaussian.noise)
    assert len(set(gaussian.timesteps.tolist())) == 8  # evenly spaced: all different


def test_results_are_keyed_by_their_settings(prototype_denoiser):
    x = torch.tensor([[-1.0, 0.1], [1.0, 0.4], [0.1, 1.9], [-0.9, -0.1]])  # [4, 2], near the prototypes
    y = [0, 1, 2, 0]
    curves = accuracy_against_trials(prototype_denoiser, x, y, [1, 2, 4], fixed_timesteps=(50,))
    assert [plots.scheme_label(key) for key in curves] == [
        "random t",
        "evenly spaced t",
        "t = 50 only",
        "evenly spaced t, Sobol noise (toyclf)",
    ]
    assert all(curve.shape == (1, 3) for curve in curves.values())  # [seeds, sizes]
    noise = shared_against_independent_noise(prototype_denoiser, x, y, [2, 4], seeds=(0, 1))
    assert all(curve.shape == (2, 2) for curve in noise["curves"].values())
    assert [plots.noise_label(key) for key in noise["curves"]] == ["shared noise", "independent noise"]
    losses = loss_and_weighting_accuracy(prototype_denoiser, x, y, 4, seeds=(0, 1, 2))
    assert [plots.scoring_label(key) for key in losses] == ["l2, uniform", "l2, elbo", "l1, uniform", "l1, elbo"]
    assert all(accuracy.shape == (3,) for accuracy in losses.values())  # one per plan seed
    single = single_timestep_accuracy(prototype_denoiser, x, y, [10, 50, 90], n_noise=4, seeds=(0, 1))
    assert single.shape == (2, 3)  # [seeds, timesteps]


def test_variance_ratio_is_var_of_independent_over_var_of_shared_differences():
    # [B=1, K=3, N=4]; the classes c < c': (0, 1), (0, 2), (1, 2)
    shared = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0], [2.0, 2.0, 4.0, 4.0]]], dtype=torch.float64)
    own = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 5.0, 2.0], [3.0, 1.0, 2.0, 4.0]]], dtype=torch.float64)
    expected = np.mean(
        [
            np.var((own[0, a] - own[0, b]).numpy(), ddof=1) / np.var((shared[0, a] - shared[0, b]).numpy(), ddof=1)
            for a, b in [(0, 1), (0, 2), (1, 2)]
        ]
    )
    np.testing.assert_allclose(variance_ratio(shared, own).numpy(), [expected])


def test_sharing_eps_cannot_help_when_the_loss_ignores_eps(prototype_denoiser):
    """The prototype denoiser's loss is SNR(t) ||x - mu_c||^2, whatever eps: independent plans share the
    evenly spaced t, so the class differences are the same trial by trial and the variance ratio is 1."""
    x = torch.tensor([[-1.0, 0.1], [1.0, 0.4], [0.1, 1.9]])
    noise = shared_against_independent_noise(prototype_denoiser, x, [0, 1, 2], [4, 8], seeds=(0, 1))
    np.testing.assert_allclose(noise["variance_ratios"], [1.0, 1.0], rtol=1e-5)  # float32 losses
    shared, own = noise["largest"][1]  # seed 1, N = 8
    assert shared.shape == own.shape == (3, 3, 8)
    np.testing.assert_allclose(float(variance_ratio(shared, own).median()), noise["variance_ratios"][1])


def test_shared_noise_cuts_the_variance_on_a_denoiser_that_uses_eps():
    """On the Gaussian-mixture oracle the loss depends on eps; sharing it between classes must shrink the
    variance of the class difference (the estimator's whole reason for one plan)."""
    oracle = GaussianMixtureOracle.ring()
    X, y = oracle.sample(60, seed=0)
    noise = shared_against_independent_noise(oracle, torch.tensor(X, dtype=torch.float32), y, [64], seeds=(0,))
    assert noise["variance_ratios"][0] > 1.2


def test_oracle_estimates_are_keyed_by_their_settings():
    result = oracle_against_exact(GaussianMixtureOracle.ring(), n_points=20)
    assert [plots.estimate_label(key) for key in result["estimates"]] == [
        "ELBO, 256 trials, Gaussian noise (paper's plan)",
        "ELBO, 1000 trials, Sobol noise",
        "ELBO, 256 trials, Sobol noise, t ~ sqrt(w)",
        "uniform, 256 trials",
        "uniform, 256 trials, fitted temperature",
    ]
    assert result["grid_posterior"].shape == result["xx"].shape == (100, 100)
    cell = np.column_stack([result["xx"].ravel(), result["yy"].ravel()])[[0, 5050]]  # a corner and the middle
    exact = GaussianMixtureOracle.ring().log_posterior(cell)[:, 1].exp().numpy()
    np.testing.assert_allclose(result["grid_posterior"].ravel()[[0, 5050]], exact)
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
    curves = accuracy_against_trials(denoiser, x, y, [1, 2], seeds=(3, 4))[TrialScheme()]
    for i, seed in enumerate((3, 4)):
        for j, n in enumerate((1, 2)):
            plan = make_plan(denoiser, n, seed=seed)
            assert plan.timesteps.tolist() == ([500] if n == 1 else [250, 750])
            errors = class_errors(denoiser, x, plan)
            assert abs(curves[i, j] - np.mean(errors.argmin(1).numpy() == y)) <= 1 / len(y)  # float32 near-ties


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_reliability_figure_counts_every_bin_and_keeps_its_legend_off_the_data():
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0, 1, 500)
    proba = np.column_stack([1 - p1, p1])  # [500, 2]
    y = (rng.uniform(0, 1, 500) < p1).astype(int)
    settings = {CalibrationSetting("elbo", fitted_temperature=False): {"proba": proba, "temperature": 1.0, "ece": 0.01}}
    fig = plots.plot_reliability(settings, y, n_bins=12)
    top, bottom = fig.axes
    fig.canvas.draw()
    legend = top.get_legend().get_window_extent()
    assert not _overlaps(legend, top.get_window_extent()) and not _overlaps(legend, bottom.get_window_extent())
    (counts,) = [patch for patch in bottom.patches]  # one staircase of counts per setting
    heights = np.bincount(np.minimum((proba.max(1) * 12).astype(int), 11), minlength=12)
    assert heights.sum() == 500 and counts.get_data().values.tolist() == heights.tolist()


def test_oracle_and_pruning_figures_give_their_probabilities_and_counts_a_colourbar():
    result = oracle_against_exact(GaussianMixtureOracle.ring(), n_points=20, grid=10)
    fig = plots.plot_oracle(result)
    assert "p(class 1 | x)" in [ax.get_ylabel() for ax in fig.axes]  # the colourbar's axes
    xx, yy = np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 4))
    maps = {None: {"proba": np.full((16, 2), 0.5), "evaluations": np.arange(1, 17)}}
    fig = plots.plot_pruning_maps(xx, yy, maps, n_trials=8)
    assert any("evaluations" in ax.get_ylabel() for ax in fig.axes)
