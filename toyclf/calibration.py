"""Calibrated probabilities: fit the temperature of the posterior, measure calibration.

With the ELBO weighting the errors are a negative log-likelihood bound and temperature 1 is
the model's own posterior. With uniform weighting (the paper's best accuracy) the errors are on
another scale and the softmax is too flat by a roughly constant factor: one temperature, fitted
on held-out data by minimising the negative log-likelihood (Guo et al. 2017, temperature
scaling), removes it without changing any argmax.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.utils.validation import check_consistent_length

from toyclf.estimator import log_posterior


def fit_temperature(errors, y, *, log_prior=None, bounds: tuple[float, float] = (1e-4, 1e4)) -> float:
    """The temperature tau minimising the mean of -log p(y | x) = -log_softmax(-err / tau + log p(c))[y].

    ``errors`` is (n_samples, n_classes) (e.g. from :func:`toyclf.estimator.class_errors`), ``y``
    the true class indices 0 .. K-1. The negative log-likelihood is convex in 1 / tau, so a
    bounded one-dimensional search over log tau finds the optimum.

    Data that do not determine a temperature are refused (``ValueError``) rather than answered
    with a bound: ``y`` must hold at least two classes (with one, the likelihood only grows as
    tau -> 0), and the optimum must lie inside ``bounds``. It does not when every sample is
    ranked right by a margin (no sample near the boundary: the likelihood grows without end as
    tau -> 0) or the errors carry no information (tau -> inf).
    """
    errors = torch.as_tensor(np.asarray(errors, dtype=np.float64))
    y = np.asarray(y)
    check_consistent_length(errors, y)
    if errors.ndim != 2 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= errors.shape[1]:
        raise ValueError(
            f"errors must be (n_samples, n_classes) and y class indices in [0, {errors.shape[-1]}); "
            f"got errors of shape {tuple(errors.shape)} and y in [{y.min()}, {y.max()}]."
        )
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(
            f"calibration needs held-out samples of at least 2 classes; got {len(y)} sample(s) of class index "
            f"{present.tolist()}: the likelihood of one class only grows as the temperature goes to 0."
        )
    index = torch.as_tensor(y)[:, None]

    def nll(log_tau: float) -> float:
        log_p = log_posterior(errors, temperature=float(np.exp(log_tau)), log_prior=log_prior)
        return float(-log_p.gather(1, index).mean())

    log_bounds = np.log(bounds)
    result = minimize_scalar(nll, bounds=log_bounds, method="bounded", options={"xatol": 1e-6})
    at_low, at_high = (nll(b) <= result.fun + 1e-9 * max(1.0, abs(result.fun)) for b in log_bounds)
    if at_low or at_high:  # as good at a bound as at the optimum found: the optimum is at or beyond it
        if at_low and at_high:
            why = "the likelihood does not depend on it (the errors are the same for every class)"
        elif at_low:
            why = "the likelihood keeps improving as it goes to 0 (every sample is ranked right, by a margin)"
        else:
            why = "the likelihood keeps improving as it goes to infinity (the errors rank the classes no better than the prior)"
        raise ValueError(
            f"these {len(y)} held-out samples do not determine a temperature: {why}. Calibrate on more held-out "
            "data, with samples near the decision boundary."
        )
    return float(np.exp(result.x))


def reliability_curve(proba, y, *, n_bins: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-label reliability: for equal-width bins of confidence max_c p(c | x), the mean
    confidence, the accuracy and the number of samples in each non-empty bin."""
    proba, y = np.asarray(proba, dtype=np.float64), np.asarray(y)
    check_consistent_length(proba, y)
    confidence = proba.max(1)
    correct = proba.argmax(1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    keep = counts > 0
    mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins)[keep] / counts[keep]
    accuracy = np.bincount(bins, weights=correct, minlength=n_bins)[keep] / counts[keep]
    return mean_confidence, accuracy, counts[keep]


def expected_calibration_error(proba, y, *, n_bins: int = 15) -> float:
    """ECE = sum_b n_b / n |accuracy_b - confidence_b| over equal-width confidence bins (top label)."""
    confidence, accuracy, counts = reliability_curve(proba, y, n_bins=n_bins)
    return float(np.sum(counts * np.abs(accuracy - confidence)) / np.sum(counts))


def warn_if_stale(calibrated_for: dict[str, Any] | None, settings: dict[str, Any]) -> None:
    """Warn when a temperature fitted under ``calibrated_for`` (the settings at calibration, and
    the temperature it fitted) is used with other ``settings``. The fitted temperature undoes the
    Monte Carlo spread of the errors as much as their scale, so it depends on the number of trials
    (with uniform weighting on the spirals: 0.26 at 16 trials, 0.145 at 64, 0.126 at 256), the
    pruning, the weighting and the loss: it is stale once they change."""
    if not calibrated_for or settings["temperature"] != calibrated_for["temperature"]:
        return  # never calibrated, or the temperature was set by hand since
    changed = {k: v for k, v in settings.items() if calibrated_for[k] != v}
    if changed:
        then = ", ".join(f"{k}={calibrated_for[k]!r}" for k in changed)
        now = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        warnings.warn(
            f"temperature={settings['temperature']:.4g} was fitted by calibrate() with {then}; the settings are "
            f"now {now}. Call calibrate() again, or set the temperature yourself.",
            UserWarning,
            stacklevel=4,
        )
