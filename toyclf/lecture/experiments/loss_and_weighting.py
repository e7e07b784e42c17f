"""The loss and the weighting of the class error: the paper's ablation of both (Li et al. 2023),
l2 / l1 losses by uniform / ELBO weights w_t, every setting on the same plans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from toyclf.lecture.experiments.per_trial import prefix_accuracy, trial_losses
from toyclf.plan import make_plan


@dataclass(frozen=True)
class Scoring:
    """The per-trial loss (l2, l1, huber) and the weighting w_t (uniform, elbo) of the class error."""

    loss: str
    weighting: str


def loss_and_weighting_accuracy(
    denoiser, x: Tensor, y, n_trials: int, *, seeds: Sequence[int] = (0,)
) -> dict[Scoring, np.ndarray]:
    """The paper's loss and weighting ablation: accuracy with ``n_trials`` of the default plan for
    the l2 / l1 losses by uniform / ELBO weighting w_t (uniform: the paper's choice), once per
    plan seed, on points ``x`` [B, *S] with class ids ``y`` [B]. scoring -> accuracy [len(seeds)]."""
    result = {Scoring(loss, weighting): [] for loss in ("l2", "l1") for weighting in ("uniform", "elbo")}
    for seed in seeds:
        plan = make_plan(denoiser, n_trials, seed=seed)
        for scoring, accuracy in result.items():
            losses = trial_losses(denoiser, x, plan, loss=scoring.loss, weighting=scoring.weighting)  # [B, K, N]
            accuracy.append(float(prefix_accuracy(losses, y, [n_trials])[0]))
    return {scoring: np.array(accuracy) for scoring, accuracy in result.items()}
