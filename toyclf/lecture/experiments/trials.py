"""How many trials, and which timesteps: the paper's timestep ablation (Li et al. 2023, section 3.2).

Each function takes a denoiser (any :class:`~toyclf.denoisers.Denoiser`), points ``x`` [B, *S] as
it sees them and their class ids ``y`` [B], and returns accuracies of Algorithm 1, keyed by the
:class:`~toyclf.lecture.experiments.per_trial.TrialScheme` that drew the trials;
:mod:`toyclf.lecture.plots.ablations` turns the keys into labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from toyclf.lecture.experiments.per_trial import TrialScheme, prefix_accuracy, scheme_plan, trial_losses
from toyclf.plan import TrialPlan, sobol_normal


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
