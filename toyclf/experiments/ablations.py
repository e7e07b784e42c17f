"""Inside the estimator: what each of the paper's choices buys, measured (notebook 02).

Each function takes a denoiser (any :class:`~toyclf.denoisers.Denoiser`), points ``x`` [B, *S]
as the denoiser sees them and their true class ids ``y`` [B], and returns plain numbers. Most
run the whole plan once, keep every trial's loss, and read the accuracy of every smaller budget
off the prefixes of the same nested plan: one pass gives a whole accuracy-against-trials curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from toyclf.calibration import expected_calibration_error, fit_temperature
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors, log_posterior, pair_losses, timestep_weights, trial_weights
from toyclf.plan import TrialPlan, make_plan, sobol_normal


def trial_losses(denoiser, x: Tensor, plan: TrialPlan, *, loss: str = "l2", weighting: str = "uniform") -> Tensor:
    """w(t_n) loss(eps_n, eps_theta(x_t, t_n, c)) of every point, class and trial: [B, *S] -> [B, K, N] float64."""
    B, K = len(x), denoiser.n_classes
    points = torch.arange(B).repeat_interleave(K)  # [B*K], point-major
    labels = torch.arange(K).repeat(B)  # [B*K]
    losses = pair_losses(denoiser, denoiser.encode(x.to(denoiser.device)), points, labels, plan, loss=loss)
    weights = trial_weights(denoiser.schedule, plan, weighting)  # [N]
    return losses.double().cpu().view(B, K, len(plan)) * weights


def prefix_accuracy(losses: Tensor, y, sizes: Sequence[int]) -> np.ndarray:
    """Accuracy of argmin_c of the mean over the first n trials, for every n in ``sizes``. [B, K, N] -> [len(sizes)]"""
    means = losses.cumsum(-1) / torch.arange(1, losses.shape[-1] + 1)  # [B, K, N]
    y = torch.as_tensor(np.asarray(y))
    return np.array([float((means[:, :, n - 1].argmin(1) == y).double().mean()) for n in sizes])


def single_timestep_accuracy(denoiser, x: Tensor, y, timesteps: Sequence[int], *, n_noise: int = 16, seed: int = 0):
    """Accuracy when every trial uses one timestep t (and ``n_noise`` Sobol noise draws), for each t:
    where along the diffusion is the class information? [len(timesteps)]"""
    noise = sobol_normal(n_noise, tuple(denoiser.latent_shape), seed=seed)  # [n, *S]
    accuracy = []
    for t in timesteps:
        losses = trial_losses(denoiser, x, TrialPlan(torch.full((n_noise,), int(t)), noise))  # [B, K, n]
        accuracy.append(prefix_accuracy(losses, y, [n_noise])[0])
    return np.array(accuracy)


def accuracy_against_trials(
    denoiser, x: Tensor, y, sizes: Sequence[int], *, fixed_timesteps: Sequence[int] = (), seed: int = 0
) -> dict[str, np.ndarray]:
    """Accuracy against the number of trials for the paper's timestep schemes (independent
    Gaussian noise): random t, evenly spaced t (nested, so every power-of-two prefix is evenly
    spaced), and every t fixed to one value; then toyclf's default (even t, Sobol noise)."""
    N = max(sizes)
    plans = {
        "random t": make_plan(denoiser, N, timesteps="random", noise_sampling="gaussian", seed=seed),
        "evenly spaced t": make_plan(denoiser, N, noise_sampling="gaussian", seed=seed),
    }
    for t in fixed_timesteps:
        plan = make_plan(denoiser, N, noise_sampling="gaussian", seed=seed)
        plans[f"t = {t} only"] = TrialPlan(torch.full((N,), int(t)), plan.noise)
    plans["evenly spaced t, Sobol noise (toyclf)"] = make_plan(denoiser, N, seed=seed)
    return {name: prefix_accuracy(trial_losses(denoiser, x, plan), y, sizes) for name, plan in plans.items()}


def shared_against_independent_noise(denoiser, x: Tensor, y, sizes: Sequence[int], *, seed: int = 0) -> dict:
    """Accuracy against trials when every class sees the same (t, eps) (the paper) and when each
    class draws its own eps (same evenly spaced t, Gaussian noise in both), and ``variance_ratio``:
    the median over points of Var(l_c - l_c') with independent noise over the same with shared
    noise, averaged over class pairs: how many times more trials independent noise needs for
    the same precision of the comparison that decides the class."""
    N, K = max(sizes), denoiser.n_classes
    shared = trial_losses(denoiser, x, make_plan(denoiser, N, noise_sampling="gaussian", seed=seed))
    own = torch.stack(
        [
            trial_losses(denoiser, x, make_plan(denoiser, N, noise_sampling="gaussian", seed=seed + 1 + k))[:, k]
            for k in range(K)
        ],
        dim=1,
    )  # [B, K, N]: class k on its own noise
    pairs = [(a, b) for a in range(K) for b in range(a + 1, K)]
    ratios = torch.stack(
        [(own[:, a] - own[:, b]).var(-1) / (shared[:, a] - shared[:, b]).var(-1) for a, b in pairs]
    ).mean(0)  # [B]
    return {
        "shared noise": prefix_accuracy(shared, y, sizes),
        "independent noise": prefix_accuracy(own, y, sizes),
        "variance_ratio": float(ratios.median()),
    }


def loss_and_weighting_accuracy(denoiser, x: Tensor, y, n_trials: int, *, seed: int = 0) -> dict[str, float]:
    """Accuracy with n_trials of the default plan for l2 / l1 losses and uniform / ELBO weighting."""
    plan = make_plan(denoiser, n_trials, seed=seed)
    result = {}
    for loss in ("l2", "l1"):
        for weighting in ("uniform", "elbo"):
            losses = trial_losses(denoiser, x, plan, loss=loss, weighting=weighting)
            result[f"{loss}, {weighting}"] = float(prefix_accuracy(losses, y, [n_trials])[0])
    return result


def oracle_against_exact(oracle: GaussianMixtureOracle, n_points: int = 400, *, seed: int = 0) -> dict:
    """On Gaussian-mixture data, the estimated log-likelihood ratio log p(x|1) - log p(x|0) of
    several estimators against the exact one (two classes). Returns ``exact`` [n] and
    ``estimates``: name -> [n]; the uniform-weighting estimate is also given divided by the
    temperature fitted on 2000 other labelled samples (``temperature``)."""
    X, _ = oracle.sample(n_points, seed=seed + 1)
    exact = oracle.log_likelihood(X)
    x = torch.tensor(X, dtype=torch.float32)
    sqrt_elbo = timestep_weights(oracle.schedule, "elbo").sqrt()
    plans = {
        "ELBO, 256 pairs, Gaussian noise (paper)": (
            make_plan(oracle, 256, noise_sampling="gaussian", seed=seed),
            "elbo",
        ),
        "ELBO, 1000 pairs, Sobol noise": (make_plan(oracle, 1000, seed=seed), "elbo"),
        "ELBO, 256 pairs, Sobol noise, t ~ sqrt(w)": (
            make_plan(oracle, 256, timestep_density=sqrt_elbo, seed=seed),
            "elbo",
        ),
        "uniform, 256 pairs": (make_plan(oracle, 256, seed=seed), "uniform"),
    }
    estimates = {}
    for name, (plan, weighting) in plans.items():
        errors = class_errors(oracle, x, plan, weighting=weighting).double()
        estimates[name] = (errors[:, 0] - errors[:, 1]).numpy()
    X_val, y_val = oracle.sample(2000, seed=seed + 2)
    plan = plans["uniform, 256 pairs"][0]
    temperature = fit_temperature(class_errors(oracle, torch.tensor(X_val, dtype=torch.float32), plan), y_val)
    estimates["uniform, 256 pairs, fitted temperature"] = estimates["uniform, 256 pairs"] / temperature
    return {"X": X, "exact": (exact[:, 1] - exact[:, 0]).numpy(), "estimates": estimates, "temperature": temperature}


def posterior_gap(ratio: np.ndarray, exact: np.ndarray) -> float:
    """mean |p_est(1 | x) - p_exact(1 | x)| from two log-likelihood ratios (two classes)."""
    return float(np.abs(1 / (1 + np.exp(-ratio)) - 1 / (1 + np.exp(-exact))).mean())


def calibration_settings(clf, X_cal, y_cal, X_eval, y_eval) -> dict[str, dict]:
    """Probabilities on (X_eval, y_eval) for uniform weighting at temperature 1, uniform with the
    temperature fitted on (X_cal, y_cal) by :meth:`DiffusionClassifier.calibrate`, and ELBO weighting
    at temperature 1 (and fitted, for the record). name -> {"proba", "ece", "temperature"}."""
    y_eval_index = np.searchsorted(clf.classes_, y_eval)
    result = {}
    original = clf.get_params()
    try:
        for weighting in ("uniform", "elbo"):
            clf.set_params(weighting=weighting, temperature=1.0)
            proba = clf.predict_proba(X_eval)
            result[f"{weighting}, temperature 1"] = {"proba": proba, "temperature": 1.0}
            clf.calibrate(X_cal, y_cal)
            proba = clf.predict_proba(X_eval)
            result[f"{weighting}, fitted temperature"] = {"proba": proba, "temperature": clf.temperature}
    finally:
        clf.set_params(**original)
    for entry in result.values():
        entry["ece"] = expected_calibration_error(entry["proba"], y_eval_index)
    return result


def pruning_maps(clf, points, rules: dict) -> dict[str, dict]:
    """Classify ``points`` (e.g. a grid) with a fitted :class:`DiffusionClassifier` under each
    pruning rule (name -> rule, as its ``pruning`` parameter takes them). name -> {"proba"
    (n, K), "evaluations" (n,) denoiser evaluations spent on each point}."""
    original = clf.pruning
    result = {}
    try:
        for name, rule in rules.items():
            clf.set_params(pruning=rule)
            errors, trials = clf.class_errors(points, return_trials=True)
            errors = torch.as_tensor(errors)
            proba = log_posterior(errors, temperature=clf.temperature, log_prior=clf._log_prior()).exp()
            result[name] = {"proba": proba.numpy(), "evaluations": trials.sum(1)}
    finally:
        clf.set_params(pruning=original)
    return result


__all__ = [
    "accuracy_against_trials",
    "calibration_settings",
    "loss_and_weighting_accuracy",
    "oracle_against_exact",
    "posterior_gap",
    "prefix_accuracy",
    "pruning_maps",
    "shared_against_independent_noise",
    "single_timestep_accuracy",
    "trial_losses",
]
