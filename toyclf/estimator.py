"""The Monte Carlo Bayes estimator of Li et al. (2023): a diffusion model used as a classifier.

For every class c the denoising error estimates the negative ELBO, -log p(x | c) + C (the
paper's eq. 3), by a Monte Carlo average over N trials (t_n, eps_n) (eq. 5):

    err(x, c) = 1/N sum_n  w(t_n) || eps_n - eps_theta( sqrt(abar_{t_n}) x + sqrt(1 - abar_{t_n}) eps_n, t_n, c ) ||^2

and Bayes' rule (eq. 1) with the errors in place of -log p(x | c) gives the posterior (eq. 4):

    p(c | x) = softmax_c( -err(x, c) / temperature + log p(c) ),      prediction: argmax_c p(c | x)

The same N trials (the *plan*, :mod:`toyclf.plan`) serve every class and every point; a *pair* is
one (point, class) whose error is estimated.

The computation is written twice. :func:`reference_class_errors` is the paper's Algorithm 1 as
a lecturer would write it on a slide: a loop over the trials and the classes. :func:`class_errors`
is the one the package runs: the same arithmetic over chunks of points and batches of
(point, class, trial) rows, in stages so that a pruning rule (:mod:`toyclf.pruning`: the paper's
Algorithm 2, or per-point early stopping) can stop spending trials on settled classes and points.
With every trial for every class the two agree to float precision (``tests/core/test_reference.py``,
on the spirals MLP, the digits MLP and a tiny Stable Diffusion pipeline). Both talk to the model
only through the :class:`~toyclf.denoisers.Denoiser` protocol.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm import tqdm

from toyclf.denoisers.base import Denoiser
from toyclf.plan import NOISE_SAMPLINGS, TIMESTEPS, TrialPlan, check_choice, make_plan
from toyclf.pruning import EarlyStopping, FixedTrials, Stage, StagedElimination, resolve_pruning
from toyclf.utils.threads import torch_threads
from toyclf.utils.validation import is_int, is_positive
from toyclf.weighting import LOSSES, WEIGHTINGS, denoising_loss, timestep_weights, trial_weights

__all__ = [
    "LOSSES",
    "NOISE_SAMPLINGS",
    "TIMESTEPS",
    "WEIGHTINGS",
    "EarlyStopping",
    "FixedTrials",
    "StagedElimination",
    "TrialPlan",
    "class_errors",
    "denoising_loss",
    "log_posterior",
    "make_plan",
    "pair_losses",
    "reference_class_errors",
    "timestep_weights",
    "trial_weights",
]


@torch.inference_mode()
def reference_class_errors(
    denoiser: Denoiser,
    x: Tensor,
    plan: TrialPlan,
    *,
    loss: str = "l2",
    weighting: str = "uniform",
    noise_range: tuple[float, float] | None = None,
) -> Tensor:
    """The paper's Algorithm 1, written plainly: the error of every point under every class.

    For each shared trial (t_n, eps_n) of ``plan``, noise the points once (the forward process,
    Ho et al. eq. 4), ask the denoiser for every class, and add the weighted error: the Monte
    Carlo estimate of eq. 5 of Li et al. (2023), with weights w(t_n) (1 for ``"uniform"``, the
    paper's). [B, ...] raw inputs -> [B, K] float32, lower is likelier (-log p(x | c) + C, eq. 3).
    No chunks, no pruning: :func:`class_errors` computes the same numbers, faster.
    """
    x0 = denoiser.encode(x.to(denoiser.device))  # [B, *S]
    B, K = len(x0), denoiser.n_classes
    weights = trial_weights(denoiser.schedule, plan, weighting, noise_range=noise_range)  # [N]
    errors = torch.zeros(B, K, dtype=torch.float64)  # [B, K]
    for t_n, eps_n, w_n in zip(plan.timesteps, plan.noise, weights, strict=True):
        t = t_n.repeat(B).to(denoiser.device)  # [B], the same t_n for every point
        eps = eps_n.expand_as(x0).to(denoiser.device)  # [B, *S], the same eps_n for every point
        x_t = denoiser.schedule.add_noise(x0, eps, t)  # [B, *S], shared by every class
        for c in range(K):
            eps_hat = denoiser.predict_noise(x_t, t, torch.full_like(t, c))  # [B, *S]
            errors[:, c] += w_n * denoising_loss(eps, eps_hat, loss).double().cpu()  # [B]
    return (errors / len(plan)).float()


DEFAULT_EVAL_BATCH_SIZE = 4096  # rows per call of a denoiser that does not say (the toy MLP: a few MB)


@torch.inference_mode()
def pair_losses(
    denoiser: Denoiser,
    x0: Tensor,
    points: Tensor,
    labels: Tensor,
    plan: TrialPlan,
    *,
    loss: str = "l2",
    eval_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
) -> Tensor:
    """The loss of P (point, class) pairs on every trial of ``plan``: [P] x [N] -> [P, N].

    ``x0`` is [b, *S] encoded points, ``points`` [P] indexes it and ``labels`` [P] are the class
    ids. The P * N rows are enumerated in order and sent to the denoiser ``eval_batch_size`` at a time,
    so memory stays bounded however many pairs and trials there are. Every pair sees the same
    (t_n, eps_n): the noisy input of a point on trial n is the same under every class.
    """
    P, N = len(points), len(plan)
    device = x0.device
    all_t, all_noise = plan.timesteps.to(device), plan.noise.to(device)
    points, labels = points.to(device), labels.to(device)
    losses = torch.empty(P * N, device=device)  # [P*N]
    for start in range(0, P * N, eval_batch_size):
        rows = torch.arange(start, min(start + eval_batch_size, P * N), device=device)  # [M]
        pair, n = rows // N, rows % N  # [M] each
        t, noise = all_t[n], all_noise[n]  # [M], [M, *S]
        x_t = denoiser.schedule.add_noise(x0[points[pair]], noise, t)  # [M, *S]
        predicted = denoiser.predict_noise(x_t, t, labels[pair])  # [M, *S]
        losses[start : start + len(rows)] = denoising_loss(noise, predicted, loss)
    return losses.view(P, N)


def resolve_eval_batch_size(denoiser: Denoiser, eval_batch_size: int | None) -> int:
    """``eval_batch_size``, else the denoiser's own (``denoiser.eval_batch_size``: a pretrained one measures
    what fills its GPU), else :data:`DEFAULT_EVAL_BATCH_SIZE`. A denoiser written when the attribute
    was called ``batch_size`` is read with a warning, never silently sent 4096 rows."""
    if eval_batch_size is None:
        if not hasattr(denoiser, "eval_batch_size") and hasattr(denoiser, "batch_size"):
            warnings.warn(
                f"{type(denoiser).__name__}.batch_size is read as its eval_batch_size (the rows per call); "
                "rename the attribute to eval_batch_size.",
                FutureWarning,
                stacklevel=3,
            )
            return int(denoiser.batch_size)
        return getattr(denoiser, "eval_batch_size", DEFAULT_EVAL_BATCH_SIZE)
    if not is_int(eval_batch_size):
        raise ValueError(
            f"eval_batch_size must be a positive int or None (the denoiser's own); got {eval_batch_size!r}."
        )
    return int(eval_batch_size)


# How many points the fast path scores together (a chunk). Two limits, the smaller wins:
LOSS_TABLE_BYTES = 16 * 2**20
"""Memory for one chunk's table of per-trial losses, [b, K, N] float64 (8 bytes a number): the
pruning rules look at every trial's loss of every pair, so the whole table is kept (16 MiB)."""
BATCHES_PER_FIRST_STAGE = 16
"""A chunk holds enough points that its first stage, when every class is still in, fills this
many denoiser batches: the batches stay full, and the denoiser busy, as pruning thins them."""


def points_per_chunk(n_classes: int, stage_ends: Sequence[int], eval_batch_size: int) -> int:
    """The number of points scored together: as many as fill :data:`BATCHES_PER_FIRST_STAGE`
    batches of ``eval_batch_size`` rows in the first stage, at most as many as fit their loss table
    in :data:`LOSS_TABLE_BYTES`, at least one."""
    to_fill_batches = BATCHES_PER_FIRST_STAGE * eval_batch_size // (n_classes * stage_ends[0])
    to_fit_memory = LOSS_TABLE_BYTES // (8 * n_classes * stage_ends[-1])
    return max(1, min(to_fill_batches, to_fit_memory))


@dataclass(frozen=True)
class ChunkScoring:
    """One call's settings, fixed before the first chunk of points is scored."""

    denoiser: Denoiser
    plan: TrialPlan  # N shared trials (t, eps)
    classes: Tensor  # [K] label ids
    weights: Tensor  # [N] float64, w(t_n) times the plan's importance weights
    rule: FixedTrials | StagedElimination | EarlyStopping
    stage_ends: list[int]  # cumulative trials after each stage, from the rule
    offsets: Tensor  # [K] float64, -temperature * log p(c): what the rule compares besides the errors
    loss: str
    eval_batch_size: int  # rows (point, class, trial) per denoiser call


def _score_chunk(scoring: ChunkScoring, x0: Tensor) -> tuple[Tensor, Tensor]:
    """Run the stages of the rule on b encoded points [b, *S]: errors [b, K] float64, trials [b, K] long.

    Stage s evaluates the still-active (point, class) pairs on trials stage_ends[s-1] ..
    stage_ends[s] of the plan, then the rule prunes. A class dropped after n_k trials is carried
    to the end by its paired difference to the point's anchor class r (the one that ran
    longest, best first), a control variate: err_k = err_r + 1/n_k sum_{n <= n_k} (l_nk - l_nr).
    Classes that ran to the end keep their plain mean: with every trial for every class, the
    errors of :func:`reference_class_errors`.
    """
    ends, offsets = scoring.stage_ends, scoring.offsets
    b, K = len(x0), len(scoring.classes)
    losses = torch.zeros(b, K, ends[-1], dtype=torch.float64)  # [b, K, n] w_n l_n, 0 where not evaluated
    counts = torch.zeros(b, K, dtype=torch.long)  # [b, K] trials each pair received
    active = torch.ones(b, K, dtype=torch.bool)  # [b, K]
    start = 0
    for s, end in enumerate(ends):
        pairs = active.nonzero()  # [P, 2] (point, class)
        if len(pairs) == 0:
            break
        stage_losses = pair_losses(
            scoring.denoiser,
            x0,
            pairs[:, 0],
            scoring.classes[pairs[:, 1]],
            scoring.plan[start:end],
            loss=scoring.loss,
            eval_batch_size=scoring.eval_batch_size,
        )  # [P, n_s]
        losses[pairs[:, 0], pairs[:, 1], start:end] = stage_losses.double().cpu() * scoring.weights[start:end]
        counts[active] = end
        if s < len(ends) - 1:
            active = scoring.rule.prune(Stage(s, len(ends), active, losses[:, :, :end], offsets))
        start = end

    own = losses.sum(-1) / counts  # [b, K] plain means
    longest = counts == counts.max(1, keepdim=True).values  # [b, K]
    anchor = (own + offsets).masked_fill(~longest, torch.inf).argmin(1)  # [b], the control variate's class
    rows = torch.arange(b)
    anchor_cumsum = losses[rows, anchor].cumsum(-1)  # [b, n]
    anchor_then = anchor_cumsum.gather(1, counts - 1) / counts  # [b, K] its mean on each pair's trials
    errors = own + (own[rows, anchor][:, None] - anchor_then)  # [b, K]
    return errors, counts


def class_errors(
    denoiser: Denoiser,
    x: Tensor,
    plan: TrialPlan,
    *,
    classes: Sequence[int] | Tensor | None = None,
    loss: str = "l2",
    weighting: str = "uniform",
    noise_range: tuple[float, float] | None = None,
    pruning: str | FixedTrials | StagedElimination | EarlyStopping | None = None,
    log_prior: Tensor | None = None,
    temperature: float = 1.0,
    eval_batch_size: int | None = None,
    num_threads: int | None = None,
    progress: bool = False,
    return_trials: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Monte Carlo denoising error of every point under every class: the fast path of
    Algorithm 1 (equal to :func:`reference_class_errors` with every trial), and Algorithm 2.

    err[i, k] = 1/N sum_n w(t_n) loss( eps_n, eps_theta(x_t, t_n, classes[k]) ) (eq. 5), the same
    plan (t_n, eps_n) for every point and class. ``x`` is [B, ...] raw inputs, encoded a chunk of
    points at a time; ``classes`` are label ids (default: all). Returns [B, K] float32 on the CPU.
    Lower is better: it estimates -log p(x | c) up to a constant (exactly so with ``"elbo"``).
    Errors that are not finite are refused (:func:`check_finite_errors`), never ranked.

    The defaults are the paper's estimator (l2, uniform weights over every timestep, every
    trial: ``toyclf.paper.PAPER_ESTIMATOR``), the same as the zero-shot command's;
    :class:`~toyclf.classifier.DiffusionClassifier` defaults to ELBO weights over a band of noise
    levels and early stopping, chosen on low-dimensional data (:mod:`toyclf.paper` says why).

    ``pruning`` spends fewer trials where the answer is settled: None (every pair gets the whole
    plan), ``"staged"`` / :class:`StagedElimination` (Algorithm 2) or ``"early_stopping"`` /
    :class:`EarlyStopping` (a sequential test per point). Their decisions compare
    err(x, c) - temperature * log p(c), what :func:`log_posterior` compares, given ``log_prior``
    [K] and ``temperature``. ``eval_batch_size``: rows (point, class, trial) per denoiser call; None:
    the denoiser's own ``eval_batch_size`` (a pretrained one measures what fills its GPU), else 4096.
    With ``return_trials=True`` also returns the number of trials
    (denoiser evaluations) each (point, class) pair received, [B, K] long. ``num_threads``: CPU
    threads while scoring (None: torch's setting; :func:`toyclf.utils.threads.threads_for_load`).
    """
    check_choice("loss", loss, LOSSES)
    rule = resolve_pruning(pruning)
    if classes is None:
        classes = torch.arange(denoiser.n_classes)
    classes = torch.as_tensor(classes, dtype=torch.long)
    if classes.ndim != 1 or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty 1D list of label ids; got shape {tuple(classes.shape)}.")
    if classes.min() < 0 or classes.max() >= denoiser.n_classes:
        raise ValueError(f"classes must be label ids in [0, {denoiser.n_classes}); got {classes.tolist()}.")
    K = len(classes)
    if not is_positive(temperature):
        raise ValueError(f"temperature must be a positive finite number; got {temperature!r}.")
    log_prior = torch.zeros(K) if log_prior is None else torch.as_tensor(log_prior)
    if log_prior.shape != (K,):
        raise ValueError(f"log_prior must have one value per class, shape ({K},); got {tuple(log_prior.shape)}.")
    offsets = -temperature * log_prior.double().nan_to_num(neginf=-1e300)  # [K]; prior 0: never chosen
    weights = trial_weights(denoiser.schedule, plan, weighting, noise_range=noise_range)  # [N] float64

    stage_ends = rule.stage_ends(len(plan))
    eval_batch_size = resolve_eval_batch_size(denoiser, eval_batch_size)
    scoring = ChunkScoring(
        denoiser=denoiser,
        plan=plan,
        classes=classes,
        weights=weights,
        rule=rule,
        stage_ends=stage_ends,
        offsets=offsets,
        loss=loss,
        eval_batch_size=eval_batch_size,
    )
    chunk_size = points_per_chunk(K, stage_ends, eval_batch_size)
    errors, trials = torch.empty(len(x), K), torch.empty(len(x), K, dtype=torch.long)  # [B, K] each
    with torch_threads(num_threads), tqdm(total=len(x), desc="classifying", disable=not progress, leave=False) as bar:
        for start in range(0, len(x), chunk_size):
            x0 = denoiser.encode(x[start : start + chunk_size].to(denoiser.device))  # [b, *S]
            chunk = slice(start, start + len(x0))
            errors[chunk], trials[chunk] = _score_chunk(scoring, x0)
            bar.update(len(x0))
    check_finite_errors(errors)
    return (errors, trials) if return_trials else errors


def check_finite_errors(errors: Tensor) -> None:
    """Refuse (``ValueError``) errors that are not finite: a network that gives inf or nan (an
    overflow in float16, diverged weights) ranks nothing, and an argmin over nan would quietly
    answer the first class."""
    bad = ~torch.isfinite(errors).all(1)  # [B]
    if bad.any():
        rows = bad.nonzero().flatten().tolist()
        raise ValueError(
            f"the denoiser's errors are not finite for {len(rows)} of {len(errors)} inputs (rows {rows[:5]}"
            f"{', ...' if len(rows) > 5 else ''}): its predictions overflowed or are nan, so no class can be chosen."
        )


def log_posterior(errors: Tensor, *, temperature: float = 1.0, log_prior: Tensor | None = None) -> Tensor:
    """log p(c | x) = log_softmax_c( -err(x, c) / temperature + log p(c) ): Bayes' rule with the
    errors standing in for -log p(x | c). Note the minus sign: lower error, likelier class.
    [B, K] -> [B, K] float64. With ``"elbo"`` weighting, temperature 1 is the model's own posterior;
    with ``"uniform"`` weighting the errors are on another scale and the temperature must be fitted.

    Computed as -(err(x, c) - min_c' err(x, c')) / temperature + log p(c), the same numbers
    shifted by a constant per row (the minimum over the classes of nonzero prior), so that no
    temperature overflows them: a tiny one (1e-320) gives its limit, all the mass on the best
    class, and a huge one (1e308) the prior, not 0 / 0 = nan. A class of prior 0 gets p = 0.
    """
    if not is_positive(temperature):
        raise ValueError(f"temperature must be a positive finite number; got {temperature!r}.")
    errors = errors.double()  # [B, K]
    log_prior = torch.zeros(errors.shape[-1]) if log_prior is None else log_prior
    log_prior = torch.as_tensor(log_prior, dtype=torch.float64, device=errors.device)  # [K]
    possible = torch.isfinite(log_prior)  # [K]: prior above 0
    best = errors.masked_fill(~possible, torch.inf).min(-1, keepdim=True).values  # [B, 1]
    logits = (-(errors - best) / temperature + log_prior).masked_fill(~possible, -torch.inf)  # [B, K]
    return torch.log_softmax(logits, dim=-1)
