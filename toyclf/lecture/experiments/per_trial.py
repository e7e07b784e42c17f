"""What the estimator's ablations share: the trials (t, eps) a scheme draws, the loss of every
class on each of them, and the accuracy those losses give after the first n trials.

Li et al. 2023 (arXiv 2303.16203), Algorithm 1: the class error is the Monte Carlo mean (eq. 5) of
w_t ||eps - eps_theta(x_t, t, c)||^2 over N trials, the same trials for every class. The
ablations (:mod:`~toyclf.lecture.experiments.trials`,
:mod:`~toyclf.lecture.experiments.noise_sharing`,
:mod:`~toyclf.lecture.experiments.loss_and_weighting`) read those terms trial by trial, so that
one pass gives the estimate for every budget n <= N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from toyclf.estimator import pair_losses
from toyclf.plan import TrialPlan, make_plan
from toyclf.weighting import trial_weights


@dataclass(frozen=True)
class TrialScheme:
    """How the N trials (t, eps) are drawn; the defaults are toyclf's plan."""

    timesteps: str = "even"  # make_plan's timesteps: "even" (nested, evenly spaced) or "random"
    noise_sampling: str = "sobol"  # make_plan's noise_sampling: "sobol" or "gaussian" (the paper)
    fixed_timestep: int | None = None  # every trial at this one t (the noise as drawn)
    shared_noise: bool = True  # every class sees the same eps (Algorithm 1); False: each its own


def scheme_plan(denoiser, scheme: TrialScheme, n_trials: int, *, seed: int = 0) -> TrialPlan:
    """The nested plan of ``n_trials`` trials (t, eps) that ``scheme`` describes (its noise
    sharing is the caller's business: one plan is shared by every class)."""
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
