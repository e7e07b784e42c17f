"""Inside the estimator: what each of the paper's choices buys, measured (notebook 02).

Li et al. 2023 (arXiv 2303.16203): Algorithm 1 scores every class c by the Monte Carlo mean
(eq. 5) of w_t ||eps - eps_theta(x_t, t, c)||^2 over N trials (t, eps), the same trials for every
class; Algorithm 2 drops classes in stages; section 3.2 and its ablations study the timesteps,
shared noise, the loss and the weighting. Each function takes a denoiser (any
:class:`~toyclf.denoisers.Denoiser`), points ``x`` [B, *S] as it sees them and their class ids
``y`` [B], and returns plain numbers, keyed by the small frozen dataclasses below (the settings
that made each entry); :mod:`toyclf.lecture.plots.ablations` turns the keys into labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from toyclf.calibration import expected_calibration_error, fit_temperature
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors, log_posterior, pair_losses, timestep_weights, trial_weights
from toyclf.mapping import make_grid
from toyclf.plan import TrialPlan, make_plan, sobol_normal


@dataclass(frozen=True)
class TrialScheme:
    """How the N trials (t, eps) are drawn; the defaults are toyclf's plan."""

    timesteps: str = "even"  # make_plan's timesteps: "even" (nested, evenly spaced) or "random"
    noise_sampling: str = "sobol"  # make_plan's noise_sampling: "sobol" or "gaussian" (the paper)
    fixed_timestep: int | None = None  # every trial at this one t (the noise as drawn)
    shared_noise: bool = True  # every class sees the same eps (Algorithm 1); False: each its own


@dataclass(frozen=True)
class Scoring:
    """The per-trial loss (l2, l1, huber) and the weighting w_t (uniform, elbo) of the class error."""

    loss: str
    weighting: str


@dataclass(frozen=True)
class OracleEstimate:
    """One estimate of log p(x | 1) - log p(x | 0) on the Gaussian-mixture oracle."""

    weighting: str  # "elbo" or "uniform"
    n_pairs: int  # trials (t, eps), shared by both classes
    noise_sampling: str = "sobol"  # or "gaussian" (the paper)
    sqrt_density: bool = False  # t importance-sampled with density proportional to sqrt(w_t)
    fitted_temperature: bool = False  # divided by the temperature fitted on held-out samples


@dataclass(frozen=True)
class CalibrationSetting:
    """The weighting of the class errors, and whether the temperature was fitted (else 1)."""

    weighting: str
    fitted_temperature: bool


def scheme_plan(denoiser, scheme: TrialScheme, n_trials: int, *, seed: int = 0) -> TrialPlan:
    """The nested plan of ``n_trials`` (t, eps) pairs that ``scheme`` describes (its noise sharing
    is the caller's business: one plan is shared by every class)."""
    plan = make_plan(denoiser, n_trials, timesteps=scheme.timesteps, noise_sampling=scheme.noise_sampling, seed=seed)
    if scheme.fixed_timestep is not None:
        plan = TrialPlan(torch.full((n_trials,), int(scheme.fixed_timestep)), plan.noise)  # [N], [N, *S]
    return plan


def trial_losses(denoiser, x: Tensor, plan: TrialPlan, *, loss: str = "l2", weighting: str = "uniform") -> Tensor:
    """w(t_n) loss(eps_n, eps_theta(x_t, t_n, c)), the terms of eq. 5, of every point, class and
    trial: [B, *S] -> [B, K, N] float64."""
    B, K = len(x), denoiser.n_classes
    points = torch.arange(B).repeat_interleave(K)  # [B*K], point-major
    labels = torch.arange(K).repeat(B)  # [B*K]
    losses = pair_losses(denoiser, denoiser.encode(x.to(denoiser.device)), points, labels, plan, loss=loss)
    weights = trial_weights(denoiser.schedule, plan, weighting)  # [N]
    return losses.double().cpu().view(B, K, len(plan)) * weights


def prefix_accuracy(losses: Tensor, y, sizes: Sequence[int]) -> np.ndarray:
    """Accuracy of argmin_c of the mean over the first n trials (Algorithm 1 with n trials), for
    every n in ``sizes``. [B, K, N] -> [len(sizes)]"""
    means = losses.cumsum(-1) / torch.arange(1, losses.shape[-1] + 1)  # [B, K, N]
    y = torch.as_tensor(np.asarray(y))
    return np.array([float((means[:, :, n - 1].argmin(1) == y).double().mean()) for n in sizes])


def single_timestep_accuracy(
    denoiser, x: Tensor, y, timesteps: Sequence[int], *, n_noise: int = 16, seeds: Sequence[int] = (0,)
) -> np.ndarray:
    """Accuracy of Algorithm 1 with every trial at one t (``n_noise`` Sobol draws), for each t and
    noise seed: where is the class? (the paper, section 3.2: the middle). [len(seeds), len(timesteps)]"""

    def accuracy(t: int, noise: Tensor) -> float:  # noise [n_noise, *S]
        losses = trial_losses(denoiser, x, TrialPlan(torch.full((n_noise,), int(t)), noise))  # [B, K, n_noise]
        return prefix_accuracy(losses, y, [n_noise])[0]

    noises = [sobol_normal(n_noise, tuple(denoiser.latent_shape), seed=seed) for seed in seeds]
    return np.array([[accuracy(t, noise) for t in timesteps] for noise in noises])


def accuracy_against_trials(
    denoiser, x: Tensor, y, sizes: Sequence[int], *, fixed_timesteps: Sequence[int] = (), seeds: Sequence[int] = (0,)
) -> dict[TrialScheme, np.ndarray]:
    """The paper's timestep ablation (section 3.2): accuracy against the number of trials N of
    Algorithm 1 for its timestep schemes with independent Gaussian noise, random t, evenly spaced t
    and every t fixed to one value; then toyclf's default ``TrialScheme()`` (even t, Sobol noise).
    Each N is scored on the plan :func:`~toyclf.plan.make_plan` draws for N trials (evenly spaced
    t: N bins, each t at its bin's centre), not on a prefix of a longer plan, once per plan seed.
    scheme -> accuracy [len(seeds), len(sizes)]."""
    schemes = [
        TrialScheme(timesteps="random", noise_sampling="gaussian"),
        TrialScheme(noise_sampling="gaussian"),
        *(TrialScheme(noise_sampling="gaussian", fixed_timestep=int(t)) for t in fixed_timesteps),
        TrialScheme(),
    ]

    def accuracy(scheme: TrialScheme, n: int, seed: int) -> float:
        losses = trial_losses(denoiser, x, scheme_plan(denoiser, scheme, n, seed=seed))  # [B, K, n]
        return prefix_accuracy(losses, y, [n])[0]

    return {scheme: np.array([[accuracy(scheme, n, seed) for n in sizes] for seed in seeds]) for scheme in schemes}


def shared_and_independent_losses(
    denoiser, x: Tensor, n_trials: int, *, seed: int = 0, shared: bool = True
) -> tuple[Tensor | None, Tensor]:
    """The per-trial losses [B, K, N] with one plan shared by every class (Algorithm 1; None unless
    ``shared``), and with each class on a plan of its own (the same evenly spaced t, its own
    Gaussian eps); the shared plan is that of ``TrialScheme(noise_sampling="gaussian")``."""

    def plan(stream: int) -> TrialPlan:
        return make_plan(denoiser, n_trials, noise_sampling="gaussian", seed=seed + 1000 * stream)

    own = torch.stack([trial_losses(denoiser, x, plan(k + 1))[:, k] for k in range(denoiser.n_classes)], dim=1)
    return (trial_losses(denoiser, x, plan(0)) if shared else None), own


def variance_ratio(shared: Tensor, own: Tensor) -> Tensor:
    """Var(l_c - l_c') over the trials, independent noise over shared, per point, averaged over the
    class pairs: how many times the trials independent noise needs. [B, K, N] x2 -> [B]"""
    K = shared.shape[1]
    pairs = [(a, b) for a in range(K) for b in range(a + 1, K)]
    return torch.stack(
        [(own[:, a] - own[:, b]).var(-1) / (shared[:, a] - shared[:, b]).var(-1) for a, b in pairs]
    ).mean(0)


def shared_against_independent_noise(
    denoiser, x: Tensor, y, sizes: Sequence[int], *, seeds: Sequence[int] = (0,), shared_curve: np.ndarray | None = None
) -> dict:
    """Shared (Algorithm 1) against independent noise per class (:func:`shared_and_independent_losses`),
    every N on its own plan. Returns ``curves``: scheme -> accuracy [len(seeds), len(sizes)],
    ``variance_ratios`` [len(seeds)]: the median over points of :func:`variance_ratio` at the
    largest N, and ``largest``: (shared, own) losses per seed there. ``shared_curve``: the shared
    accuracies if measured already (:func:`accuracy_against_trials`' evenly spaced t, Gaussian noise)."""
    N = max(sizes)
    runs = {
        (n, seed): shared_and_independent_losses(denoiser, x, n, seed=seed, shared=shared_curve is None or n == N)
        for seed in seeds
        for n in sizes
    }
    ratios = [float(variance_ratio(*runs[N, seed]).median()) for seed in seeds]

    def accuracy(which: int) -> np.ndarray:
        return np.array([[prefix_accuracy(runs[n, seed][which], y, [n])[0] for n in sizes] for seed in seeds])

    return {
        "curves": {
            TrialScheme(noise_sampling="gaussian"): accuracy(0) if shared_curve is None else np.asarray(shared_curve),
            TrialScheme(noise_sampling="gaussian", shared_noise=False): accuracy(1),
        },
        "variance_ratios": np.array(ratios),
        "largest": [runs[N, seed] for seed in seeds],
    }


def loss_and_weighting_accuracy(
    denoiser, x: Tensor, y, n_trials: int, *, seeds: Sequence[int] = (0,)
) -> dict[Scoring, np.ndarray]:
    """The paper's loss and weighting ablation: accuracy with ``n_trials`` of the default plan for
    the l2 / l1 losses by uniform / ELBO weighting w_t (uniform: the paper's choice), once per
    plan seed. scoring -> accuracy [len(seeds)]."""
    result = {Scoring(loss, weighting): [] for loss in ("l2", "l1") for weighting in ("uniform", "elbo")}
    for seed in seeds:
        plan = make_plan(denoiser, n_trials, seed=seed)
        for scoring, accuracy in result.items():
            losses = trial_losses(denoiser, x, plan, loss=scoring.loss, weighting=scoring.weighting)  # [B, K, N]
            accuracy.append(float(prefix_accuracy(losses, y, [n_trials])[0]))
    return {scoring: np.array(accuracy) for scoring, accuracy in result.items()}


def oracle_against_exact(oracle: GaussianMixtureOracle, n_points: int = 400, *, seed: int = 0, grid: int = 100) -> dict:
    """On Gaussian-mixture data, the log-likelihood ratio log p(x|1) - log p(x|0) that the class
    errors of Algorithm 1 estimate (with the ELBO weighting, eq. 5 estimates the negative ELBO of
    eq. 3) against the exact one (two classes). Returns ``X`` [n, 2], ``exact``
    [n] and ``estimates``: OracleEstimate -> [n]; the uniform-weighting estimate is also given
    divided by the temperature fitted on 2000 other labelled samples (``temperature``), and the
    exact p(1 | x) on a ``grid`` x ``grid`` grid over the points (``xx``, ``yy``, ``grid_posterior``)."""
    X, _ = oracle.sample(n_points, seed=seed + 1)
    exact = oracle.log_likelihood(X)  # [n, 2]
    x = torch.tensor(X, dtype=torch.float32)
    sqrt_elbo = timestep_weights(oracle.schedule, "elbo").sqrt()  # [T]
    uniform = OracleEstimate("uniform", 256)
    plans = {
        OracleEstimate("elbo", 256, noise_sampling="gaussian"): make_plan(
            oracle, 256, noise_sampling="gaussian", seed=seed
        ),
        OracleEstimate("elbo", 1000): make_plan(oracle, 1000, seed=seed),
        OracleEstimate("elbo", 256, sqrt_density=True): make_plan(oracle, 256, timestep_density=sqrt_elbo, seed=seed),
        uniform: make_plan(oracle, 256, seed=seed),
    }
    estimates = {}
    for key, plan in plans.items():
        errors = class_errors(oracle, x, plan, weighting=key.weighting).double()  # [n, 2]
        estimates[key] = (errors[:, 0] - errors[:, 1]).numpy()
    X_val, y_val = oracle.sample(2000, seed=seed + 2)
    val_errors = class_errors(oracle, torch.tensor(X_val, dtype=torch.float32), plans[uniform])  # [2000, 2]
    temperature = fit_temperature(val_errors, y_val)
    estimates[OracleEstimate("uniform", 256, fitted_temperature=True)] = estimates[uniform] / temperature
    xx, yy, points = make_grid(X, grid)  # [grid, grid] x2, [grid * grid, 2]
    grid_posterior = oracle.log_posterior(points)[:, 1].exp().view(grid, grid)
    result = {"X": X, "exact": (exact[:, 1] - exact[:, 0]).numpy(), "estimates": estimates, "temperature": temperature}
    return {**result, "xx": xx, "yy": yy, "grid_posterior": grid_posterior.numpy()}


def posterior_gap(ratio: np.ndarray, exact: np.ndarray) -> float:
    """mean |p_est(1 | x) - p_exact(1 | x)| from two log-likelihood ratios (two classes)."""
    return float(np.abs(1 / (1 + np.exp(-ratio)) - 1 / (1 + np.exp(-exact))).mean())


def calibration_settings(clf, X_cal, y_cal, X_eval, y_eval, *, n_bins: int = 15) -> dict[CalibrationSetting, dict]:
    """Probabilities on (X_eval, y_eval) for the paper's uniform weighting (over every timestep) at
    temperature 1, the same with the temperature fitted on (X_cal, y_cal) by
    :meth:`DiffusionClassifier.calibrate`, and the classifier's ELBO weighting (over its
    ``noise_range``) at temperature 1 (and fitted, for the record): the posterior p(c | x) of the
    paper's eq. (4) is a softmax of -err(x, c) / temperature. The expected calibration error uses
    ``n_bins`` equal-width bins of confidence. setting -> {"proba" (n, K), "ece", "temperature"}."""
    y_eval_index = np.searchsorted(clf.classes_, y_eval)
    result = {}
    original = clf.get_params()
    try:
        for weighting, noise_range in (("uniform", None), ("elbo", original["noise_range"])):
            clf.set_params(weighting=weighting, noise_range=noise_range, temperature=1.0)
            proba = clf.predict_proba(X_eval)
            result[CalibrationSetting(weighting, fitted_temperature=False)] = {"proba": proba, "temperature": 1.0}
            clf.calibrate(X_cal, y_cal)
            proba = clf.predict_proba(X_eval)
            fitted = {"proba": proba, "temperature": clf.temperature}
            result[CalibrationSetting(weighting, fitted_temperature=True)] = fitted
    finally:
        clf.set_params(**original)
    for entry in result.values():
        entry["ece"] = expected_calibration_error(entry["proba"], y_eval_index, n_bins=n_bins)
    return result


def pruning_maps(clf, points, rules: Sequence) -> dict:
    """Classify ``points`` (e.g. a grid) with a fitted :class:`DiffusionClassifier` under each
    pruning rule (as its ``pruning`` parameter takes them: None for Algorithm 1 on every class,
    a :class:`~toyclf.pruning.StagedElimination` for the paper's Algorithm 2, "early_stopping").
    rule -> {"proba" (n, K), "evaluations" (n,) denoiser evaluations spent on each point}."""
    original = clf.pruning
    result = {}
    try:
        for rule in rules:
            clf.set_params(pruning=rule)
            errors, trials = clf.class_errors(points, return_trials=True)  # [n, K], [n, K]
            proba = log_posterior(torch.as_tensor(errors), temperature=clf.temperature, log_prior=clf._log_prior())
            proba = proba.exp()
            result[rule] = {"proba": proba.numpy(), "evaluations": trials.sum(1)}
    finally:
        clf.set_params(pruning=original)
    return result


__all__ = [
    "CalibrationSetting",
    "OracleEstimate",
    "Scoring",
    "TrialScheme",
    "accuracy_against_trials",
    "calibration_settings",
    "loss_and_weighting_accuracy",
    "oracle_against_exact",
    "posterior_gap",
    "prefix_accuracy",
    "pruning_maps",
    "scheme_plan",
    "shared_against_independent_noise",
    "shared_and_independent_losses",
    "single_timestep_accuracy",
    "trial_losses",
    "variance_ratio",
]
