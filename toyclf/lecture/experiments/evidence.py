"""The picture that explains the method: one point's denoising error under every class, against the
noise level.

Kingma et al. 2021 (the continuous-time ELBO, :meth:`toyclf.schedule.NoiseSchedule.elbo_weights`):

    -log p(x | c) <= 1/2 int ||eps - eps_theta(x_lambda, lambda, c)||^2 d lambda + C,   lambda = log SNR,

with C the same for every class. Drawn against lambda, the error curves of two classes separate
where the noise level still leaves the class visible, and half the *signed* area between them
(positive where class b's error is the higher) is the ELBO's estimate of their log-likelihood
ratio, log p(x | a) - log p(x | b), over the classifier's noise range: what Bayes' rule (Li et al.
2023, eq. 3) is given. It is an estimate of the ratio, not the ratio: the bound's gap need not
cancel between classes (``toyclf.likelihood`` computes the exact one; benchmarks/README.md, "The
ELBO against the exact likelihood"). Algorithm 1 estimates the area with N trials (t_n, eps_n)
shared by the classes; the running mean over the plan is its estimate after n trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils.validation import validate_data

from toyclf.classifier import DiffusionClassifier
from toyclf.lecture.experiments.per_trial import trial_losses
from toyclf.weighting import trial_weights


@dataclass(frozen=True)
class ClassEvidence:
    """The trials of one plan, in the plan's order, for B points and K classes."""

    timesteps: np.ndarray  # [N] t_n
    log_snr: np.ndarray  # [N] lambda(t_n) = log(abar / (1 - abar))
    losses: np.ndarray  # [B, K, N] ||eps_n - eps_theta(x_t, t_n, c)||^2, unweighted
    weights: np.ndarray  # [N] the classifier's w(t_n)
    running_errors: np.ndarray  # [B, K, N] mean of w(t_n) loss over the first n trials: Algorithm 1 after n trials
    schedule_log_snr: np.ndarray  # [T] lambda of every timestep (to label an axis in t)
    weighting: str  # the classifier's: with "elbo", err_b - err_a estimates a log-likelihood ratio

    def log_likelihood_ratio(self, point: int, a: int = 0, b: int = 1) -> float:
        """err_b - err_a after every trial: with the ELBO weights, the ELBO's estimate of
        log p(x | a) - log p(x | b) (with others, a difference of errors on another scale)."""
        return float(self.running_errors[point, b, -1] - self.running_errors[point, a, -1])


def class_evidence(clf: DiffusionClassifier, X: ArrayLike, *, n_trials: int = 256) -> ClassEvidence:
    """Every class's error on each trial of a plan of ``n_trials`` trials drawn as a fitted
    :class:`~toyclf.DiffusionClassifier` draws its own (:meth:`~toyclf.DiffusionClassifier.trial_plan`:
    its seed and noise range; with ``n_trials=clf.n_trials`` the very plan it scores), weighted by
    its weighting, for the points ``X`` (raw features, [B, F]): the terms of Algorithm 1's mean, one
    by one, every trial scored (no early stopping)."""
    plan = clf.trial_plan(n_trials)  # refuses an unfitted classifier and a bad n_trials
    X = validate_data(clf, X, dtype=np.float64, reset=False)  # [B, F]: the features it was fitted on, finite
    x = clf._to_tensor(X)  # [B, F], standardised
    with torch.no_grad():
        losses = trial_losses(clf.denoiser_, x, plan, loss=clf.loss)  # [B, K, N], w = 1 times the importance
    if plan.importance is not None:
        losses = losses / plan.importance  # the plain ||eps - eps_theta||^2 of each trial
    weights = trial_weights(clf.denoiser_.schedule, plan, clf.weighting, noise_range=clf.noise_range)  # [N]
    terms = losses * weights  # [B, K, N]
    running = terms.cumsum(-1) / torch.arange(1, len(plan) + 1)  # [B, K, N]
    schedule_log_snr = clf.denoiser_.schedule.log_snr  # [T]
    return ClassEvidence(
        timesteps=plan.timesteps.numpy(),
        log_snr=schedule_log_snr[plan.timesteps].numpy(),
        losses=losses.numpy(),
        weights=weights.numpy(),
        running_errors=running.numpy(),
        schedule_log_snr=schedule_log_snr.numpy(),
        weighting=clf.weighting,
    )


def inside_and_boundary(clf: DiffusionClassifier, X: ArrayLike) -> tuple[int, int]:
    """Indexes of the point of ``X`` the classifier is surest about and of the one it is least sure
    about (posterior nearest 1/K): a point deep inside a class and one on the boundary."""
    proba = clf.predict_proba(X)  # [n, K]
    top = proba.max(axis=1)
    return int(np.argmax(top)), int(np.argmin(top))
