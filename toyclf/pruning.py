"""How many trials each (point, class) pair gets: fixed, the paper's staged elimination, or
per-point early stopping.

The estimator (:func:`toyclf.estimator.class_errors`) scores classes in *stages*: after stage s
every (point, class) pair still active has been evaluated on the first ``stage_ends[s]`` trials
of the nested plan, and a rule decides which pairs go on. A rule is two methods:

    stage_ends(n_trials) -> [n_1 < n_2 < ... <= n_trials]   cumulative trials after each stage
    prune(stage) -> active                                 [b, K] bool: the pairs that go on

Because the plan is nested (:mod:`toyclf.plan`), every stage reuses all earlier evaluations and
the count of denoiser evaluations is exact: sum over pairs of the trials they received.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from numbers import Real
from typing import ClassVar

import torch
from scipy import stats
from sklearn.utils._param_validation import HasMethods, StrOptions
from torch import Tensor

from toyclf.utils.validation import is_int


@dataclass
class Stage:
    """What a rule sees after a stage, for a chunk of b points and K classes."""

    index: int  # s, 0-based
    n_stages: int  # S
    active: Tensor  # [b, K] bool, the pairs evaluated in this stage
    losses: Tensor  # [b, K, n] float64, w_n * loss_n on the trials so far (rows of active pairs complete)
    offsets: Tensor  # [K] float64, added to the mean error: -temperature * log p(c)

    @property
    def n_trials(self) -> int:
        """Trials every active pair has received."""
        return self.losses.shape[-1]

    def scores(self) -> Tensor:
        """Mean error plus offset, +inf for inactive pairs: lowest is best. [b, K]"""
        scores = self.losses.mean(-1) + self.offsets
        return scores.masked_fill(~self.active, math.inf)


@dataclass(frozen=True)
class FixedTrials:
    """Every class of every point gets all the trials of the plan (the paper's Algorithm 1)."""

    def stage_ends(self, n_trials: int) -> list[int]:
        return [n_trials]

    def prune(self, stage: Stage) -> Tensor:
        return torch.zeros_like(stage.active)


def _positive_ints(name: str, values: Sequence[int]) -> tuple[int, ...]:
    values = tuple(values)
    if not values or not all(is_int(v) for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints; got {values!r}.")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class StagedElimination:
    """The paper's Algorithm 2: score every class on ``trials[0]`` trials, keep the
    ``to_keep[0]`` best, score the survivors on trials up to ``trials[1]``, keep ``to_keep[1]``,
    and so on. ``trials`` counts trials cumulatively, as the paper's code counts its
    ``n_samples`` (CIFAR-10: ``trials=(50, 500), to_keep=(5, 1)``, 10 x 50 + 5 x 450 = 2,750
    evaluations; ImageNet: ``(50, 100, 500, 1000), (500, 50, 10, 1)``, 100,000). With the nested
    plan every stage reuses all earlier trials, so these counts are exact (the official code's
    timestep grids do not nest, and it evaluates more).
    """

    trials: tuple[int, ...] = (50, 500)  # cumulative trials at the end of each stage
    to_keep: tuple[int, ...] = (5, 1)  # classes kept after each stage

    def __post_init__(self) -> None:
        trials, to_keep = _positive_ints("trials", self.trials), _positive_ints("to_keep", self.to_keep)
        if len(trials) != len(to_keep):
            raise ValueError(f"trials and to_keep must have the same length; got {trials} and {to_keep}.")
        if any(b <= a for a, b in pairwise(trials)):
            raise ValueError(f"trials must increase (they count trials cumulatively); got {trials}.")
        if any(b > a for a, b in pairwise(to_keep)):
            raise ValueError(f"to_keep must not increase from stage to stage; got {to_keep}.")
        object.__setattr__(self, "trials", trials)
        object.__setattr__(self, "to_keep", to_keep)

    RENAMED_FIELDS: ClassVar[dict[str, str]] = {"n_samples": "trials"}  # old field name -> new (files, pickles)

    def __setstate__(self, state: dict) -> None:
        """Unpickle, also an object pickled before a field was renamed (:data:`RENAMED_FIELDS`)."""
        state = {self.RENAMED_FIELDS.get(name, name): value for name, value in state.items()}
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def stage_ends(self, n_trials: int) -> list[int]:
        """The stages' cumulative trials; the plan must end where the last stage does (a longer
        plan would be drawn for trials that no class ever gets, a shorter one cut a stage)."""
        last = self.trials[-1]
        if n_trials != last:
            raise ValueError(
                f"staged elimination with stages ending at {self.trials} trials needs a plan of exactly "
                f"{last} trials; the plan has {n_trials}. Use n_trials={last} (--trials {last} on a command "
                f"line), or stages that end at {n_trials}."
            )
        return list(self.trials)

    def prune(self, stage: Stage) -> Tensor:
        scores = stage.scores()  # [b, K]
        keep = min(self.to_keep[stage.index], scores.shape[1])
        best = scores.topk(keep, dim=1, largest=False).indices  # [b, keep]
        survivors = torch.zeros_like(stage.active).scatter_(1, best, True)
        return survivors & stage.active


@dataclass(frozen=True)
class EarlyStopping:
    """Per-point early stopping: a sequential paired test between the leading class and each rival.

    The trials are looked at after ``min_trials``, then after every doubling, up to the whole
    plan: n_s = min_trials * 2^s (S looks). With shared (t, eps), the per-trial differences
    d_n = w_n loss_n(rival) - w_n loss_n(leader) of a point are paired samples. Their mean's
    standard error is estimated by batch means: the n trials are cut into R = min(``batches``, n)
    consecutive blocks with means d_1 .. d_R, and after n trials

        z = (d_bar + o_rival - o_leader) / (s / sqrt(R)),      s^2 = sum_r (d_r - d_bar)^2 / (R - 1)

    (o: the offsets -temperature * log p(c), so that the test decides what the posterior decides).
    A rival is pruned when z > q_s, the 1 - error_rate / (S (K - 1)) quantile of Student's t
    with R - 1 degrees of freedom; a point stops when a single class is left. Points far from
    the boundary stop after ``min_trials``; points on it run to the end of the plan.

    Error control: if the block means were independent and normal, a union bound (Bonferroni)
    over the S looks and the K - 1 rivals makes the probability that a point stops on a class
    other than the one the plan would rank first with unlimited trials at most ``error_rate``.
    Consecutive blocks of the nested plan are evenly spaced in t and, with Sobol noise, each is a
    scrambled net; together they are negatively correlated, so s / sqrt(R) overstates the error
    of the mean and the test is conservative (batch means rather than the independent-trials
    formula, which ignores the stratification and overstates the error several times over:
    benchmarks/README.md, "Other measurements"). A
    point that reaches the end of the plan is decided by all its trials, exactly as with a fixed
    number of trials.

    Parameters
    ----------
    error_rate : float, default=0.05
        The bound on the probability that a point stops on the wrong class.
    min_trials : int, default=8
        Trials before the first look (at least 2).
    batches : int, default=8
        R, the number of blocks for the batch-means standard error (at least 2).
    """

    error_rate: float = 0.05
    min_trials: int = 8
    batches: int = 8

    def __post_init__(self) -> None:
        if not (isinstance(self.error_rate, Real) and 0 < self.error_rate < 1):
            raise ValueError(f"error_rate must be a float in (0, 1); got {self.error_rate!r}.")
        for name in ("min_trials", "batches"):
            value = getattr(self, name)
            if not is_int(value, low=2):
                raise ValueError(f"{name} must be an int >= 2; got {value!r}.")

    def stage_ends(self, n_trials: int) -> list[int]:
        ends = [min(self.min_trials, n_trials)]
        while ends[-1] < n_trials:
            ends.append(min(2 * ends[-1], n_trials))
        return ends

    def threshold(self, n_batches: int, n_stages: int, n_classes: int) -> float:
        """q_s: the Student-t quantile a z statistic must exceed to prune a rival."""
        level = self.error_rate / (n_stages * max(1, n_classes - 1))
        return float(stats.t.isf(level, df=n_batches - 1))

    def prune(self, stage: Stage) -> Tensor:
        b, K, n = stage.losses.shape
        scores = stage.scores()  # [b, K]
        leader = scores.argmin(1)  # [b]
        rows = torch.arange(b)
        margin = scores - scores[rows, leader][:, None]  # [b, K], >= 0 for active rivals
        d = stage.losses - stage.losses[rows, leader][:, None]  # [b, K, n] paired differences d_n
        R = min(self.batches, n)
        block = torch.arange(n) * R // n  # [n] consecutive blocks of (nearly) equal size
        block_means = d.new_zeros(b, K, R).index_add_(2, block, d) / torch.bincount(block, minlength=R)  # [b, K, R]
        standard_error = block_means.std(-1) / R**0.5  # [b, K]
        beaten = margin > self.threshold(R, stage.n_stages, K) * standard_error  # the leader is never beaten
        active = stage.active & ~beaten
        settled = active.sum(1) <= 1  # [b] one class left: the point stops
        return active & ~settled[:, None]


PRUNINGS = {"early_stopping": EarlyStopping, "staged": StagedElimination}

# What a ``pruning`` parameter may be, as a scikit-learn parameter constraint: None (every trial),
# the name of a rule, or a rule object (what :func:`resolve_pruning` accepts).
PRUNING_CONSTRAINT = [None, StrOptions(set(PRUNINGS)), HasMethods(["stage_ends", "prune"])]


def resolve_pruning(pruning: str | FixedTrials | StagedElimination | EarlyStopping | None):
    """None -> :class:`FixedTrials`; ``"early_stopping"`` / ``"staged"`` -> that rule with its
    defaults; a rule object is returned as it is."""
    if pruning is None:
        return FixedTrials()
    if isinstance(pruning, str):
        if pruning not in PRUNINGS:
            raise ValueError(
                f"pruning must be None, one of {', '.join(map(repr, PRUNINGS))}, or a rule object; got {pruning!r}."
            )
        return PRUNINGS[pruning]()
    if not (callable(getattr(pruning, "stage_ends", None)) and callable(getattr(pruning, "prune", None))):
        raise ValueError(
            f"pruning must be None, one of {', '.join(map(repr, PRUNINGS))}, or a rule with stage_ends and "
            f"prune methods (EarlyStopping, StagedElimination); got {pruning!r}."
        )
    return pruning
