"""Spending less: the decisions and the cost of each pruning rule over a whole grid, Algorithm 1
on every class and trial against the paper's Algorithm 2 (staged elimination, Li et al. 2023) and
per-point early stopping."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from toyclf.estimator import log_posterior


def pruning_maps(clf, points, rules: Sequence) -> dict:
    """Classify ``points`` (e.g. a grid) with a fitted :class:`DiffusionClassifier` under each
    pruning rule (as its ``pruning`` parameter takes them: None for Algorithm 1 on every class,
    a :class:`~toyclf.pruning.StagedElimination` for the paper's Algorithm 2, "early_stopping").
    rule -> {"proba" (n, K), "evaluations" (n,) denoiser evaluations spent on each point}."""
    original = clf.pruning
    result = {}
    try:
        for rule in rules:
            clf.set_params(pruning=rule)
            errors, trials = clf.class_errors(points, return_trials=True)  # [n, K], [n, K]
            proba = log_posterior(torch.as_tensor(errors), temperature=clf.temperature, log_prior=clf._log_prior())
            proba = proba.exp()
            result[rule] = {"proba": proba.numpy(), "evaluations": trials.sum(1)}
    finally:
        clf.set_params(pruning=original)
    return result
