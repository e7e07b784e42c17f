"""What one trial adds to a class's error: the weight w(t_n) times the denoising loss.

The error of class c is the mean over the plan's trials of w(t_n) loss(eps_n, eps_theta(x_t, t_n, c))
(Li et al. 2023, eq. 5), the loss always taken on the implied noise (:mod:`toyclf.prediction`).
With w = 1 (``"uniform"``) it is the paper's estimate, the best for accuracy; with the ELBO
weights (``"elbo"``, :meth:`toyclf.schedule.NoiseSchedule.elbo_weights`) the mean is the negative
ELBO itself, so the softmax of the errors is the model's own posterior, on any path (the ELBO
is an integral over log SNR, which both paths share); ``"velocity"`` is the plain MSE of a
flow-matching velocity, what a port of the paper's code to a flow model computes. The loss is
l2 (the ELBO's), l1 or Huber.
"""

from __future__ import annotations

from numbers import Real

import torch
from torch import Tensor

from toyclf.plan import TrialPlan, check_choice
from toyclf.schedule import NoiseSchedule

LOSSES = ("l2", "l1", "huber")
WEIGHTINGS = ("uniform", "elbo", "velocity")


def timestep_weights(
    schedule: NoiseSchedule, weighting: str = "uniform", *, noise_range: tuple[float, float] | None = None
) -> Tensor:
    """w_t for every timestep: 1 (``"uniform"``, the paper's best accuracy), the ELBO weights
    (``"elbo"``, which make the errors a real negative log-likelihood bound), or ``"velocity"``:
    ((alpha_t + sigma_t) / alpha_t)^2, which turns the noise error into the error of the velocity
    v = eps - x_0 (eps_hat - eps = alpha / (alpha + sigma) (v_hat - v)); on rectified flow
    1 / (1 - sigma_t)^2, growing without bound at the noisy end. [T], float64.

    ``noise_range=(low, high)`` keeps the timesteps whose noise-to-signal ratio sigma_t / alpha_t
    = sqrt((1 - abar_t) / abar_t) lies in [low, high] and gives the others weight 0. With the
    ELBO weights the integral over log SNR then runs from -2 log(high) to -2 log(low) (Kingma et
    al. 2021 write the bound over such a finite range): the errors bound -log p(x | c) of the
    data seen through noise of size ``low``, leaving out the prior-matching end, where the
    classes differ by about 1 / (2 high^2) nats. Both ends of a schedule carry weights that
    grow without bound (w_t at sigma / alpha = 0.002 and 5000 are about 100 times the middle
    ones), where a trained model's small errors, not the classes, decide the sum. A range that
    keeps no timestep of the schedule is refused (``ValueError``, with the schedule's own range).
    """
    check_choice("weighting", weighting, WEIGHTINGS)
    if weighting == "uniform":
        weights = torch.ones(schedule.num_timesteps, dtype=torch.float64)
    elif weighting == "velocity":
        weights = ((schedule.signal_scale + schedule.noise_scale) / schedule.signal_scale).square()
    else:
        weights = schedule.elbo_weights()
    if noise_range is None:
        return weights
    if not (
        isinstance(noise_range, tuple)
        and len(noise_range) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in noise_range)
        and 0 <= noise_range[0] < noise_range[1]
    ):
        raise ValueError(f"noise_range must be None or a pair (low, high) with 0 <= low < high; got {noise_range!r}.")
    low, high = noise_range
    noise_to_signal = schedule.noise_to_signal  # [T], sigma_t / alpha_t
    kept = (noise_to_signal >= low) & (noise_to_signal <= high)
    if not kept.any():
        raise ValueError(
            f"noise_range={noise_range!r} keeps no timestep: the schedule's noise-to-signal ratios sigma_t / alpha_t "
            f"run from {noise_to_signal.min():.3g} to {noise_to_signal.max():.3g}."
        )
    return weights * kept


def trial_weights(
    schedule: NoiseSchedule,
    plan: TrialPlan,
    weighting: str = "uniform",
    *,
    noise_range: tuple[float, float] | None = None,
) -> Tensor:
    """The weight of every trial of ``plan``: w(t_n) (:func:`timestep_weights`), times the plan's
    importance weight 1 / (T q(t_n)) when its timesteps were importance-sampled. [N] float64."""
    weights = timestep_weights(schedule, weighting, noise_range=noise_range)[plan.timesteps]  # [N]
    return weights if plan.importance is None else weights * plan.importance


def denoising_loss(noise: Tensor, predicted: Tensor, loss: str = "l2") -> Tensor:
    """|| eps - eps_hat || per row, in fp32: ``l2`` squared norm, ``l1``, or ``huber`` (delta 1),
    summed over every dimension but the first. [M, *S] x [M, *S] -> [M]"""
    diff = (predicted.float() - noise.float()).flatten(1)  # [M, prod(S)]
    if loss == "l2":
        return diff.square().sum(1)
    if loss == "l1":
        return diff.abs().sum(1)
    if loss == "huber":
        return torch.nn.functional.huber_loss(diff, torch.zeros_like(diff), reduction="none").sum(1)
    raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}.")
