"""The paper's settings, one argument away: the estimator of Li et al. (2023) as its Algorithm 1
and its code run it.

toyclf's defaults differ where a measurement said so (the table "The paper's settings and
toyclf's" in the README, each row linked to the benchmark that measured it). To run what the
paper runs instead::

    from toyclf import DiffusionClassifier, make_plan, class_errors
    from toyclf.paper import PAPER, PAPER_ALGORITHM_2, PAPER_ESTIMATOR, PAPER_PLAN

    clf = DiffusionClassifier(**PAPER)                          # Algorithm 1: every class on every trial
    clf = DiffusionClassifier(**PAPER_ALGORITHM_2, n_trials=500)  # Algorithm 2 with the paper's stages
    plan = make_plan(denoiser, 500, **PAPER_PLAN)               # any denoiser, by hand
    errors = class_errors(denoiser, x, plan, **PAPER_ESTIMATOR)  # = reference_class_errors(denoiser, x, plan)

and ``python -m toyclf.zeroshot IMAGES --classes ... --paper`` on a pretrained model.

What the paper's settings are, and where they come from:

- ``timesteps="even"``: t evenly spaced over [0, T), centred in their bins (its ablation finds
  evenly spaced timesteps best; its code's ``range(start, T, T // n_trials)``).
- ``noise_sampling="gaussian"``: one independent eps ~ N(0, I) per trial, shared by every class
  (the paired comparison of its Algorithm 1).
- ``loss="l2"``, ``weighting="uniform"``, ``noise_range=None``: the plain squared noise error,
  every timestep weighted alike (eq. 5 with w_t = 1, which its ablation prefers to the ELBO's
  weights), none left out.
- ``pruning=None``: every class on every trial (Algorithm 1). ``PAPER_ALGORITHM_2`` sets
  ``pruning="staged"``: :class:`~toyclf.pruning.StagedElimination` with the paper's CIFAR-10
  schedule, every class on the first 50 trials, the best 5 on trials up to 500, then 1.
- ``temperature=1.0``: p(c | x) = softmax_c(-err[c] + log p(c)), Bayes' rule on the errors as
  they come.

The noise schedule is not the estimator's: the paper uses the one its pretrained model was
trained with (Stable Diffusion's scaled linear), so these settings leave the toy's
``noise_schedule`` and ``schedule_shift`` alone, and a pretrained denoiser brings its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# Read-only mappings: ``DiffusionClassifier(**PAPER)`` and ``{**PAPER, "n_trials": 500}`` work, and
# no assignment can change what the paper's settings are for the rest of a session.
PAPER_PLAN: Mapping[str, Any] = MappingProxyType({"timesteps": "even", "noise_sampling": "gaussian"})  # -> make_plan
PAPER_ESTIMATOR: Mapping[str, Any] = MappingProxyType(  # -> class_errors
    {"loss": "l2", "weighting": "uniform", "noise_range": None, "pruning": None, "temperature": 1.0}
)
PAPER: Mapping[str, Any] = MappingProxyType({**PAPER_PLAN, **PAPER_ESTIMATOR})  # -> DiffusionClassifier: Algorithm 1
PAPER_ALGORITHM_2: Mapping[str, Any] = MappingProxyType(
    {**PAPER, "pruning": "staged"}
)  # the paper's stages: >= 500 trials

__all__ = ["PAPER", "PAPER_ALGORITHM_2", "PAPER_ESTIMATOR", "PAPER_PLAN"]
