"""Flow matching: the rectified-flow path, the three prediction types mapped to one noise error (checked against
each other on the exact denoiser of a Gaussian mixture, whose velocity has a closed form of its own), and the toy
classifier trained with the flow-matching objective, classified by the same estimator, sampled with Euler steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from toyclf import DiffusionClassifier
from toyclf.denoisers import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.plan import make_plan
from toyclf.prediction import epsilon_from_prediction, prediction_target
from toyclf.schedule import NoiseSchedule, RectifiedFlowSchedule
from toyclf.weighting import timestep_weights

PATHS = {"ddpm": NoiseSchedule.linear(), "rectified_flow": RectifiedFlowSchedule.linear()}


def test_rectified_flow_path_its_snr_and_stable_diffusion_3s_shift():
    schedule = RectifiedFlowSchedule.linear(100)
    torch.testing.assert_close(schedule.signal_scale + schedule.noise_scale, torch.ones(100, dtype=torch.float64))
    torch.testing.assert_close(
        schedule.log_snr, 2 * torch.log(schedule.signal_scale / schedule.noise_scale)
    )  # SNR = (a / s)^2
    shifted = schedule.shifted(2.0)  # every SNR times 4, still on the straight path
    torch.testing.assert_close(shifted.log_snr, schedule.log_snr + 2 * np.log(2.0))
    assert isinstance(shifted, RectifiedFlowSchedule)
    sd3 = 3.0 * schedule.noise_scale / (1 + 2.0 * schedule.noise_scale)  # Stable Diffusion 3's shift 3
    torch.testing.assert_close(RectifiedFlowSchedule.linear(100, shift=1 / 3).noise_scale, sd3)
    x0, eps, t = torch.ones(3, 2), torch.zeros(3, 2), torch.tensor([0, 50, 99])
    torch.testing.assert_close(
        schedule.add_noise(x0, eps, t), (1 - schedule.noise_scale[t].float())[:, None].expand(3, 2)
    )
    with pytest.raises(ValueError, match="sigmas must be strictly increasing and inside"):
        RectifiedFlowSchedule(torch.tensor([0.2, 0.1]))


@pytest.mark.parametrize("path", PATHS)
def test_every_prediction_type_of_the_exact_denoiser_implies_the_same_noise(path):
    """Tweedie's eps* (from the score) against the velocity v* = E[eps - x | x_t] (from the posterior mean of x),
    converted by epsilon_from_prediction; and v-prediction built from eps* and x0* converted back."""
    schedule = PATHS[path]
    oracle = GaussianMixtureOracle.ring(schedule=schedule)
    X, y = oracle.sample(300, seed=0)
    generator = torch.Generator().manual_seed(1)
    t = torch.randint(schedule.num_timesteps, (300,), generator=generator)
    x_t = schedule.add_noise(torch.tensor(X), torch.randn(300, 2, generator=generator, dtype=torch.float64), t)
    labels = torch.tensor(y)
    alpha, sigma = schedule.signal_scale[t], schedule.noise_scale[t]
    eps = oracle.predict_noise(x_t, t, labels)  # [300, 2]
    velocity = oracle.predict_velocity(x_t, t, labels)
    torch.testing.assert_close(epsilon_from_prediction(velocity, x_t, alpha, sigma, "velocity"), eps)
    x0 = (x_t - sigma[:, None] * eps) / alpha[:, None]
    v_prediction = prediction_target(x0, eps, alpha, sigma, "v_prediction")  # alpha eps - sigma x0
    torch.testing.assert_close(epsilon_from_prediction(v_prediction, x_t, alpha, sigma, "v_prediction"), eps)
    with pytest.raises(
        ValueError, match="prediction_type must be one of 'epsilon', 'v_prediction', 'velocity'; got 'x0'"
    ):
        prediction_target(x0, eps, alpha, sigma, "x0")


def test_velocity_weighting_is_the_velocity_error():
    """sum_n w_t ||eps - eps_hat||^2 with the velocity weights equals the plain velocity MSE, on either path."""
    for schedule in PATHS.values():
        t = torch.tensor([10, 500, 990])
        alpha, sigma = schedule.signal_scale[t], schedule.noise_scale[t]
        v, v_hat, x_t = (
            torch.randn(3, 2, dtype=torch.float64),
            torch.randn(3, 2, dtype=torch.float64),
            torch.zeros(3, 2),
        )
        eps_error = epsilon_from_prediction(v_hat, x_t, alpha, sigma, "velocity") - epsilon_from_prediction(
            v, x_t, alpha, sigma, "velocity"
        )
        weights = timestep_weights(schedule, "velocity")[t]
        torch.testing.assert_close(weights * eps_error.square().sum(1), (v_hat - v).square().sum(1))


def test_the_estimator_on_rectified_flow_recovers_the_exact_posterior_with_elbo_weights():
    """The ELBO is an integral over log SNR, which both paths share: the same weighting is exact on either."""
    for schedule in PATHS.values():
        oracle = GaussianMixtureOracle.ring(schedule=schedule)
        X, _ = oracle.sample(200, seed=2)
        plan = make_plan(oracle, 512, seed=0)
        errors = class_errors(oracle, torch.tensor(X), plan, weighting="elbo")  # [200, 2]
        estimated = torch.softmax(-errors.double(), dim=1)[:, 1]
        exact = oracle.log_posterior(X).exp()[:, 1]
        assert (estimated - exact).abs().mean() < 0.02, (type(schedule).__name__, (estimated - exact).abs().mean())


def test_flow_matching_classifier_trains_classifies_samples_and_saves(spirals_split, tmp_path):
    X_train, y_train, X_test, y_test = spirals_split
    clf = DiffusionClassifier(objective="flow", random_state=0, max_iter=600, hidden_size=64, n_trials=16)
    clf.fit(X_train, y_train)
    assert isinstance(clf.denoiser_.schedule, RectifiedFlowSchedule) and clf.denoiser_.prediction_type == "velocity"
    accuracy = clf.score(X_test, y_test)
    knn = KNeighborsClassifier(15).fit(X_train, y_train).score(X_test, y_test)
    assert accuracy >= knn - 0.04, (accuracy, knn)
    X, y = clf.sample(60, n_steps=50, random_state=0)  # Euler steps of the flow ODE
    nearest = np.argmin(((X[:, None] - X_train[None]) ** 2).sum(-1), axis=1)
    assert np.mean(y_train[nearest] == y) > 0.8
    with pytest.raises(ValueError, match="method='ddpm' samples DDPM's variance-preserving path"):
        clf.sample(4, method="ddpm")
    loaded = DiffusionClassifier.load(clf.save(tmp_path / "flow.pt"))
    assert isinstance(loaded.denoiser_.schedule, RectifiedFlowSchedule)
    np.testing.assert_array_equal(loaded.predict_proba(X_test[:200]), clf.predict_proba(X_test[:200]))
    with pytest.raises(ValueError, match="objective"):
        DiffusionClassifier(objective="score").fit(X_train, y_train)
