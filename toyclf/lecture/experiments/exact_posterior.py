"""The exact check: on a Gaussian mixture, whose optimal denoiser and Bayes posterior are known in
closed form (:class:`~toyclf.denoisers.oracle.GaussianMixtureOracle`), the log-likelihood ratio the
class errors of Algorithm 1 estimate against the exact one.

Li et al. 2023, eq. 3 to 5: with the ELBO weighting the class error is a Monte Carlo estimate of
the negative ELBO, so err(x, 0) - err(x, 1) estimates log p(x | 1) - log p(x | 0); the paper's
uniform weighting keeps the order of the points but not the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from toyclf.calibration import fit_temperature
from toyclf.denoisers.oracle import GaussianMixtureOracle
from toyclf.estimator import class_errors
from toyclf.mapping import make_grid
from toyclf.plan import make_plan
from toyclf.weighting import timestep_weights


@dataclass(frozen=True)
class OracleEstimate:
    """One estimate of log p(x | 1) - log p(x | 0) on the Gaussian-mixture oracle."""

    weighting: str  # "elbo" or "uniform"
    n_trials: int  # trials (t, eps), shared by both classes
    noise_sampling: str = "sobol"  # or "gaussian" (the paper)
    sqrt_density: bool = False  # t importance-sampled with density proportional to sqrt(w_t)
    fitted_temperature: bool = False  # divided by the temperature fitted on held-out samples


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
    """mean |p_est(1 | x) - p_exact(1 | x)| from two log-likelihood ratios (two classes), [n] each:
    how far the estimated posterior is from Bayes'."""
    return float(np.abs(1 / (1 + np.exp(-ratio)) - 1 / (1 + np.exp(-exact))).mean())
