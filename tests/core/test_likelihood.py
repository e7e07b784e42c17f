"""The exact log-likelihood by the probability-flow ODE (toyclf.likelihood), against closed forms.

The Gaussian-mixture oracle's noised density is known: x_0 + sigma eps has the mixture with every
covariance widened by sigma^2 I, built here independently with torch.distributions. Measured on 200
points of the ring (6 blobs), its Gaussian end given the mixture's variance, the default solver
(RK45, rtol = atol = 1e-5) is off by 7e-5 nats at most on DDPM's linear schedule (2e-5 on average)
and 1.4e-3 on the classifier's shifted cosine one (1.4e-4 on average), the worst points far out in
the tails (log p about -14); Heun's method on every timestep by 7e-4 on both. Three classes of two
opposite blobs each (`ring(3, 2)`) are anisotropic, which the Gaussian-relative straight line
between the last, far-apart timesteps of the shifted cosine schedule (sigma 160 to 5073) follows
less well: 7.1e-3 at most, 1.4e-3 on average, the same with rtol 1e-7 or Heun's method. With the
Gaussian end of unit variance (the default, right for standardised data) the linear schedule's
error is 6e-4. The tolerances below are about twice the largest of these.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from toyclf import DiffusionClassifier, make_spirals
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.likelihood import (
    classifier_log_likelihoods,
    elbo_from_errors,
    exact_class_log_likelihoods,
    exact_log_likelihood,
    exact_log_posterior,
    noise_to_signal,
    timestep_range,
)
from toyclf.plan import make_plan
from toyclf.schedule import NoiseSchedule
from toyclf.weighting import timestep_weights

CLASSIFIER_SCHEDULE = NoiseSchedule.cosine().shifted(4.0)  # DiffusionClassifier's default path


def noised_log_likelihood(oracle: GaussianMixtureOracle, X: np.ndarray, sigma: float) -> torch.Tensor:
    """log p(x_0 + sigma eps = x | c) for every point and class, by torch.distributions: [n, K]."""
    x = torch.as_tensor(X, dtype=torch.float64)
    columns = []
    for c in range(oracle.n_classes):
        covariances = oracle.covariances[c] + sigma**2 * torch.eye(x.shape[1], dtype=torch.float64)
        components = MultivariateNormal(oracle.means[c], covariance_matrix=covariances)
        columns.append(MixtureSameFamily(Categorical(oracle.weights[c]), components).log_prob(x))
    return torch.stack(columns, 1)


def mixture_variance(oracle: GaussianMixtureOracle) -> float:
    """The variance per feature of the mixture (classes equally likely), what its Gaussian end is given."""
    X, _ = oracle.sample(20000, seed=5)
    return float(X.var(0).mean())


@pytest.fixture(scope="module")
def ring() -> tuple[GaussianMixtureOracle, np.ndarray, np.ndarray]:
    oracle = GaussianMixtureOracle.ring()  # DDPM's linear schedule, T = 1000
    X, y = oracle.sample(40, seed=0)
    return oracle, X, y


@pytest.mark.parametrize(
    ("schedule", "n_classes", "largest", "mean"),
    [
        (NoiseSchedule.linear(), 2, 1.5e-3, 2e-4),
        (CLASSIFIER_SCHEDULE, 2, 4e-3, 5e-4),
        (CLASSIFIER_SCHEDULE, 3, 0.015, 3e-3),
    ],
    ids=["linear", "shifted_cosine", "shifted_cosine_3_classes"],
)
def test_the_ode_gives_the_closed_form_of_the_noised_mixture(schedule, n_classes, largest, mean):
    oracle = GaussianMixtureOracle.ring(n_classes, 6 // n_classes, schedule=schedule)  # 6 blobs on the ring
    X, _ = oracle.sample(60, seed=0)
    ode = exact_class_log_likelihoods(oracle, X, data_variance=mixture_variance(oracle))  # [60, K]
    truth = noised_log_likelihood(oracle, X, noise_to_signal(schedule, 0))
    error = (ode - truth).abs()
    assert ode.shape == (60, n_classes) and ode.dtype == torch.float64
    assert error.max() < largest and error.mean() < mean, (error.max(), error.mean())


def test_heun_on_every_timestep_agrees_and_a_later_start_sees_more_noise():
    oracle = GaussianMixtureOracle.ring(schedule=NoiseSchedule.cosine(200))  # 199 steps: a quicker test
    X, _ = oracle.sample(20, seed=0)
    variance = mixture_variance(oracle)
    ode = exact_class_log_likelihoods(oracle, X, method="heun", data_variance=variance)
    assert (ode - noised_log_likelihood(oracle, X, noise_to_signal(oracle.schedule, 0))).abs().max() < 3e-3
    late = exact_class_log_likelihoods(oracle, X, t_min=60, data_variance=variance)
    sigma = noise_to_signal(oracle.schedule, 60)
    assert sigma > 0.3  # a density visibly wider than the data's
    assert (late - noised_log_likelihood(oracle, X, sigma)).abs().max() < 2e-3


def test_gaussian_data_are_followed_exactly_by_both_solvers():
    """For data N(0, v I) the model's eps is the Gaussian's: the ODE's state stays put, and the
    result is log N(x; 0, (v + sigma_min^2) I) to float precision, whatever the step."""
    v = 0.7
    oracle = GaussianMixtureOracle([[[0.0, 0.0]]], [[v * np.eye(2)]])
    X = np.array([[0.3, -1.2], [2.5, 0.1], [-4.0, 3.0]])
    truth = noised_log_likelihood(oracle, X, noise_to_signal(oracle.schedule, 0))[:, 0]
    for options in ({}, {"method": "heun", "n_steps": 7}, {"t_max": 500}):
        ode = exact_log_likelihood(oracle, X, [0, 0, 0], data_variance=v, **options)
        torch.testing.assert_close(ode, truth, rtol=0, atol=1e-9)


def test_one_class_at_a_time_gives_the_columns_of_every_class_within_the_tolerance(ring):
    oracle, X, y = ring
    every = exact_class_log_likelihoods(oracle, X)  # [100, 2]
    own = exact_log_likelihood(oracle, X, y)  # [100], solved in another batch
    assert (own - every[np.arange(len(X)), y]).abs().max() < 1e-3
    alone = exact_log_likelihood(oracle, X[:1], y[:1])  # the solver's steps depend on the rows beside it
    assert (alone - own[:1]).abs().max() < 1e-3
    heun = exact_log_likelihood(oracle, X, y, method="heun", n_steps=50)  # fixed steps: rows never interact
    torch.testing.assert_close(exact_log_likelihood(oracle, X[:1], y[:1], method="heun", n_steps=50), heun[:1])


def test_the_same_input_gives_the_same_output_inside_inference_mode_too(ring):
    oracle, X, y = ring
    first, evaluations = exact_log_likelihood(oracle, X[:10], y[:10], rtol=1e-3, atol=1e-3, return_evaluations=True)
    with torch.inference_mode():
        again = exact_log_likelihood(oracle, torch.tensor(X[:10]), torch.tensor(y[:10]), rtol=1e-3, atol=1e-3)
    assert torch.equal(first, again)
    assert 20 < evaluations < 1000  # two network calls per right-hand side of RK45


def test_bayes_rule_on_the_exact_likelihoods_is_the_exact_posterior(ring):
    oracle, X, _ = ring
    log_likelihood = exact_class_log_likelihoods(oracle, X)
    for log_prior in (None, torch.tensor([0.8, 0.2]).log()):
        posterior = exact_log_posterior(log_likelihood, log_prior).exp()
        bayes = oracle.log_posterior(X, log_prior).exp()  # of the clean mixture: sigma_min = 0.01 changes little
        assert (posterior - bayes).abs().max() < 2e-3
    one_class = exact_log_posterior(log_likelihood, torch.tensor([0.0, -math.inf])).exp()
    assert torch.equal(one_class[:, 0], torch.ones(len(X), dtype=torch.float64))


def test_the_elbo_with_its_constant_is_the_log_likelihood_of_the_exact_denoiser(ring):
    """With the exact denoiser the continuous-time ELBO is an equality: err turned into the ELBO
    matches the ODE's log p(x | c) up to the estimator's Monte Carlo error. The constant estimated
    on the plan's own trials removes the noise all classes share; its exact value leaves it in."""
    oracle, X, _ = ring
    x = torch.tensor(X)
    exact = exact_class_log_likelihoods(oracle, x, data_variance=mixture_variance(oracle))
    plan = make_plan(oracle, 1024, seed=0)
    errors = class_errors(oracle, x, plan, weighting="elbo")
    elbo = elbo_from_errors(errors, oracle.schedule, 2, plan=plan)
    gap = elbo - exact
    assert gap.mean().abs() < 0.05 and gap.abs().mean() < 0.2, (gap.mean(), gap.abs().mean())
    ratio_gap = (elbo[:, 1] - elbo[:, 0]) - (exact[:, 1] - exact[:, 0])
    assert ratio_gap.abs().mean() < 0.1
    plain = elbo_from_errors(errors, oracle.schedule, 2)  # the constant's exact expectation
    torch.testing.assert_close(plain - plain[:, :1], elbo - elbo[:, :1])  # the same ratios between classes
    constant = (timestep_weights(oracle.schedule, "elbo") * 2 * torch.sigmoid(oracle.schedule.log_snr)).mean()
    torch.testing.assert_close(plain, -errors.double() + constant - math.log(2 * math.pi * math.e))  # D = 2


def test_the_classifier_likelihood_is_in_the_units_of_x():
    """log p_X(x) = log p_Z(z) - sum_j log scale_j for z = (x - mean) / scale (the change of variables)."""
    X, y = make_spirals(200, noise=0.2, random_state=0)
    clf = DiffusionClassifier(max_iter=30, hidden_size=16, random_state=0).fit(3 * X, y)  # scale_ far from 1
    options = {"method": "heun", "n_steps": 40}  # a coarse solve: the identity holds for any
    in_x = classifier_log_likelihoods(clf, 3 * X[:30], **options)
    z = clf.scaler_.transform(3 * X[:30])
    in_z = exact_class_log_likelihoods(clf.denoiser_, z, **options).numpy()
    np.testing.assert_allclose(in_x, in_z - np.log(clf.scaler_.scale_).sum(), rtol=1e-12)
    assert in_x.shape == (30, 2) and np.isfinite(in_x).all() and np.log(clf.scaler_.scale_).sum() > 1
    with pytest.raises(ValueError, match="X has 1 features, but DiffusionClassifier is expecting 2 features"):
        classifier_log_likelihoods(clf, X[:, :1])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        classifier_log_likelihoods(clf, np.array([[0.0, np.nan]]))
    with pytest.raises(NotFittedError):
        classifier_log_likelihoods(DiffusionClassifier(), X[:2])
    with pytest.raises(TypeError, match="use classifier_log_likelihoods"):
        exact_class_log_likelihoods(clf, z)  # the classifier where its denoiser is meant
    with pytest.raises(ValueError, match="n_steps is for method='heun'"):
        exact_class_log_likelihoods(clf.denoiser_, z, n_steps=10)  # RK45 would ignore it


def test_noise_levels_and_ranges():
    schedule = CLASSIFIER_SCHEDULE
    t_min, t_max = timestep_range(schedule, (0.03, 10.0))
    kept = timestep_weights(schedule, "uniform", noise_range=(0.03, 10.0)).nonzero().flatten()
    assert (t_min, t_max) == (int(kept[0]), int(kept[-1]))
    assert noise_to_signal(schedule, t_min) >= 0.03 > noise_to_signal(schedule, t_min - 1)
    assert noise_to_signal(schedule, t_max) <= 10.0 < noise_to_signal(schedule, t_max + 1)
    with pytest.raises(ValueError, match="keeps no timestep"):
        timestep_range(schedule, (1e5, 1e6))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rtol": 0.0}, r"rtol must be a number in \[1e-12, 1\); got 0.0"),
        ({"rtol": 1.0}, r"rtol must be a number in \[1e-12, 1\); got 1.0"),
        ({"rtol": float("nan")}, "rtol must be a number"),
        ({"rtol": 1e-15}, "rtol must be a number"),
        ({"atol": -1e-6}, "atol must be a positive finite number; got -1e-06"),
        ({"atol": True}, "atol must be a positive finite number; got True"),
        ({"t_min": -1}, r"t_min must be an int timestep in \[0, 998\]"),
        ({"t_min": 999}, r"t_min must be an int timestep in \[0, 998\]"),
        ({"t_min": 1.5}, "t_min must be an int timestep"),
        ({"t_min": 10, "t_max": 10}, r"t_max must be None \(T - 1\) or an int timestep in \[11, 999\]; got 10"),
        ({"t_max": 1000}, "t_max must be None"),
        ({"method": "euler"}, "method must be one of 'rk45', 'heun'; got 'euler'"),
        ({"method": "heun", "n_steps": 0}, r"n_steps must be None \(every timestep\) or an int in \[1, 999\]"),
        ({"method": "heun", "t_min": 900, "n_steps": 100}, r"an int in \[1, 99\] \(t_max - t_min\); got 100"),
        ({"data_variance": 0}, "data_variance must be a positive finite number; got 0"),
    ],
)
def test_bad_settings_are_refused_by_name(ring, options, message):
    oracle, X, y = ring
    with pytest.raises(ValueError, match=message):
        exact_log_likelihood(oracle, X, y, **options)
    with pytest.raises(ValueError, match=message):
        exact_class_log_likelihoods(oracle, X, **options)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros(4), [0, 0, 0, 0], r"x must have shape \(n_points, 2\) with n_points >= 1; got \(4,\)"),
        (np.zeros((3, 3)), [0, 0, 0], r"x must have shape \(n_points, 2\).*got \(3, 3\)"),
        (np.zeros((0, 2)), [], r"got \(0, 2\)"),
        ([["a", "b"]], [0], "x must be an array of numbers"),
        ([[0.0, 1.0], [np.nan, 0.0]], [0, 1], r"x must be finite; row 1 is \[nan, 0.0\]"),
        ([[0.0, 1.0], [np.inf, 0.0]], [0, 1], "x must be finite; row 1"),
        ([[0.0, 1.0]], [2], r"y holds unknown class 2; expected class ids in \[0, 2\)"),
        ([[0.0, 1.0]], [-1], "y holds unknown class -1"),
        ([[0.0, 1.0]], [0.5], "y must be integer class ids in \\[0, 2\\); got dtype float64"),
        ([[0.0, 1.0]], [True], "y must be integer class ids"),
        ([[0.0, 1.0]], [0, 1], r"y must hold one class id per point, shape \(1,\); got shape \(2,\)"),
    ],
)
def test_bad_points_and_classes_are_refused_by_name(ring, x, y, message):
    oracle = ring[0]
    with pytest.raises(ValueError, match=message):
        exact_log_likelihood(oracle, x, y)


def test_other_bad_input_is_refused_by_name(ring):
    oracle, X, _ = ring
    with pytest.raises(ValueError, match="classes holds unknown class 5"):
        exact_class_log_likelihoods(oracle, X, classes=[0, 5])
    with pytest.raises(ValueError, match="classes must name at least one class id"):
        exact_class_log_likelihoods(oracle, X, classes=np.array([], dtype=int))
    with pytest.raises(ValueError, match=r"latent_shape \(D,\); got \(2, 2\)"):
        image_model = GaussianMixtureOracle.ring()
        image_model.latent_shape = (2, 2)
        exact_log_likelihood(image_model, X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match=r"log_likelihoods must be a finite \(n_points, n_classes\) array"):
        exact_log_posterior(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="log_prior must be 2 log-probabilities"):
        exact_log_posterior(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"errors must have shape \(n_points, n_classes\)"):
        elbo_from_errors(torch.zeros(4), oracle.schedule, 2)
    with pytest.raises(ValueError, match="n_features must be a positive int; got 0"):
        elbo_from_errors(torch.zeros(4, 2), oracle.schedule, 0)
    plan = make_plan(oracle, 8, seed=0)
    with pytest.raises(ValueError, match=r"trials must be \(n_points, n_classes\) counts in \[1, 8\]"):
        elbo_from_errors(torch.zeros(4, 2), oracle.schedule, 2, plan=plan, trials=torch.full((4, 2), 9))


def test_the_benchmark_prints_every_row_at_smoke_size():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "likelihood_benchmark.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("spirals, 2 arms", "Gaussian mixture, 3 classes"):
        assert f"{name}: the gap exact - ELBO per class" in result.stdout
    for row in ("exact, every timestep", "exact, up to sigma 10", "ELBO, the classifier's", "ELBO, every timestep"):
        assert result.stdout.count(f"  {row} ") >= 4, row  # twice in each gap table and once in each of Bayes' rule
    assert "the true density (Bayes)" in result.stdout and "moves log p by" in result.stdout
