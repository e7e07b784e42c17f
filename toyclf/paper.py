"""The paper's settings, one argument away: the estimator of Li et al. (2023) as its Algorithm 1
and its code run it.

toyclf's defaults differ where a measurement said so (the table "The paper's settings, one
argument away" in the README, each row linked to the benchmark that measured it). To run what the
paper runs instead::

    from toyclf import PAPER, PAPER_ALGORITHM_2, DiffusionClassifier, class_errors, make_plan
    from toyclf.paper import PAPER_ESTIMATOR, PAPER_PLAN

    clf = DiffusionClassifier(**PAPER)                          # Algorithm 1: every class on every trial
    clf = DiffusionClassifier(**PAPER_ALGORITHM_2, n_trials=500)  # Algorithm 2: its stages end at 500
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

The temperature is left out: it is 1 by default everywhere, p(c | x) = softmax_c(-err[c] +
log p(c)) as the paper's errors come, and applying a preset to a classifier keeps the temperature
that :meth:`~toyclf.classifier.DiffusionClassifier.calibrate` fitted (the paper reports only the
argmin, which no temperature changes).

Where toyclf still differs from the paper's code, by design:

- the l2 loss is summed over the dimensions of x (the ELBO's scale, what makes errors
  log-likelihoods); the paper's code averages over them, which ranks the classes the same and
  divides every error by the number of dimensions (16,384 for Stable Diffusion 2's latents);
- the plan is nested: the first stage of Algorithm 2 scores the first 50 trials of the 500-trial
  plan, evenly spread but not the evenly spaced grid of 50 that the paper's code draws afresh for
  each stage (its grids do not nest, so it evaluates more than the paper counts);
- the paper's printed Algorithm 1 draws t at random; its experiments and code space t evenly, as
  ``timesteps="even"`` does (``"random"`` is the printed version).

The noise schedule is not the estimator's: the paper uses the one its pretrained model was
trained with (Stable Diffusion's scaled linear), so these settings leave the toy's
``noise_schedule`` and ``schedule_shift`` alone, and a pretrained denoiser brings its own.
"""

from __future__ import annotations

from typing import Any

PAPER_PLAN: dict[str, Any] = {"timesteps": "even", "noise_sampling": "gaussian"}  # -> make_plan
PAPER_ESTIMATOR: dict[str, Any] = {"loss": "l2", "weighting": "uniform", "noise_range": None, "pruning": None}
PAPER: dict[str, Any] = {**PAPER_PLAN, **PAPER_ESTIMATOR}  # -> DiffusionClassifier: Algorithm 1
PAPER_ALGORITHM_2: dict[str, Any] = {**PAPER, "pruning": "staged"}  # the paper's stages: n_trials=500

__all__ = ["PAPER", "PAPER_ALGORITHM_2", "PAPER_ESTIMATOR", "PAPER_PLAN"]
