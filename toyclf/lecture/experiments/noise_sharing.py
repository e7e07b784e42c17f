"""Shared against independent noise: why Algorithm 1 (Li et al. 2023) gives every class the same
trials (t, eps).

Only differences decide, err(x, c) - err(x, c'); when both classes see the same draw, the part of
the loss that depends on the draw and not on the class cancels. These functions measure the
accuracy either way and the variance of the class differences, from the per-trial losses of
:func:`~toyclf.lecture.experiments.per_trial.trial_losses` ([B, K, N]).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from toyclf.lecture.experiments.per_trial import TrialScheme, prefix_accuracy, trial_losses
from toyclf.plan import TrialPlan, make_plan


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
    """Var(l_c - l_c') over the trials, independent noise over shared, per point, averaged over
    every two classes c < c': how many times the trials independent noise needs. [B, K, N] x2 -> [B]"""
    rivals = itertools.combinations(range(shared.shape[1]), 2)  # (c, c'), c < c'
    return torch.stack(
        [(own[:, a] - own[:, b]).var(-1) / (shared[:, a] - shared[:, b]).var(-1) for a, b in rivals]
    ).mean(0)


def shared_against_independent_noise(
    denoiser, x: Tensor, y, sizes: Sequence[int], *, seeds: Sequence[int] = (0,), shared_curve: np.ndarray | None = None
) -> dict:
    """Shared (Algorithm 1) against independent noise per class (:func:`shared_and_independent_losses`),
    every N on its own plan. Returns ``curves``: scheme -> accuracy [len(seeds), len(sizes)],
    ``variance_ratios`` [len(seeds)]: the median over points of :func:`variance_ratio` at the
    largest N, and ``largest``: (shared, own) losses per seed there. ``shared_curve``: the shared
    accuracies if measured already (:func:`~toyclf.lecture.experiments.trials.accuracy_against_trials`'
    evenly spaced t, Gaussian noise)."""
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
