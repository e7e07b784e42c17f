"""Exercises that check a student's code: the forward process, one class's denoising error, Bayes'
rule, the paper's Algorithm 1 and a decision map (notebook ``06_exercises``).

Each ``check_NAME(NAME)`` calls the student's ``NAME`` on fixed, seeded inputs, compares it with
the library's answer (:mod:`toyclf.lecture.checking`: ``torch.allclose``, rtol 1e-4, atol 1e-5)
and, when they differ, names the known mistake it made, in words::

    >>> def posterior(errors, temperature=1.0):
    ...     return torch.softmax(errors / temperature, dim=1)
    >>> check_posterior(posterior)
    ✗ posterior: the sign of the softmax is flipped: a lower error must mean a likelier class

The functions a student writes, with the names and arguments of notebook 01 and of the library:

- ``add_noise(x0, noise, t, alphas_cumprod)``: x_t, the forward process;
- ``denoising_error(denoiser, x0, noise, t, label)``: one class's error on one trial per point;
- ``posterior(errors, temperature=1.0)``: Bayes' rule, p(c | x);
- ``class_errors(denoiser, x, plan)``: Algorithm 1, the errors of every point under every class;
- ``decision_map(classifier, xx, yy)``: the decided class at every point of a grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from toyclf.denoisers import Denoiser
from toyclf.estimator import log_posterior, reference_class_errors
from toyclf.lecture.checking import (
    Case,
    CheckResult,
    Mistake,
    check,
    is_close,
    require_function,
    same_answer_as,
    shaped,
)
from toyclf.mapping import probability_map
from toyclf.plan import TrialPlan, make_plan
from toyclf.schedule import NoiseSchedule
from toyclf.training import seeded_mlp
from toyclf.weighting import denoising_loss

__all__ = ["check_add_noise", "check_class_errors", "check_decision_map", "check_denoising_error", "check_posterior"]

POINTS, TRIALS = 5, 8  # the sizes of the checks' inputs: all different, so a shape says which axis is which
DTYPE_HINT = (
    "must have the same dtype",
    "the denoiser works in float32: alphas_cumprod is float64, so make x_t float32 with .float()",
)
LABEL_HINT = ("must be Tensor", "the denoiser takes one label per row, a tensor: torch.full_like(t, label)")


def _normal(*shape: int, seed: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def example_denoiser() -> Denoiser:
    """The denoiser the checks use unless given one: a small MLP with seeded random weights (untrained:
    the arithmetic is what is checked), three classes, on the shifted cosine schedule of notebook 01."""
    return seeded_mlp(2, 3, NoiseSchedule.cosine().shifted(4.0), seed=0, hidden_size=32)


def check_add_noise(add_noise: Callable) -> CheckResult:
    """Check ``add_noise(x0, noise, t, alphas_cumprod)``, the forward process (Ho et al. 2020, eq. 4;
    the first step inside Li et al. 2023, Algorithm 1):

        x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps

    ``x0`` and ``noise`` are [B, 2], ``t`` [B] long, ``alphas_cumprod`` (abar) [T]; it returns x_t [B, 2].
    """
    require_function(add_noise, "check_add_noise", "add_noise")
    schedule = NoiseSchedule.linear()
    x0, noise, t = _normal(6, 2, seed=1), _normal(6, 2, seed=2), torch.tensor([10, 150, 300, 500, 700, 900])
    abar = schedule.alphas_cumprod.float()  # [T], as notebook 01 reads it
    a = abar[t][:, None]  # [B, 1]
    mistakes = [
        same_answer_as("you used abar instead of sqrt(abar) to scale x0", lambda: a * x0 + (1 - a).sqrt() * noise),
        same_answer_as(
            "you used 1 - abar instead of sqrt(1 - abar) to scale the noise", lambda: a.sqrt() * x0 + (1 - a) * noise
        ),
        same_answer_as(
            "you scaled by the variances abar and 1 - abar: the scales are their square roots",
            lambda: a * x0 + (1 - a) * noise,
        ),
        same_answer_as(
            "the two scales are swapped: x0 gets sqrt(abar_t) (near 1 at small t: almost clean), the noise sqrt(1 - abar_t)",
            lambda: (1 - a).sqrt() * x0 + a.sqrt() * noise,
        ),
        same_answer_as(
            "the noise's scale is sqrt(1 - abar_t), not 1 - sqrt(abar_t)",
            lambda: a.sqrt() * x0 + (1 - a.sqrt()) * noise,
        ),
        same_answer_as("you left out the noise: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps", lambda: a.sqrt() * x0),
    ]
    case = Case(
        lambda f: f(x0.clone(), noise.clone(), t.clone(), abar.clone()), schedule.add_noise(x0, noise, t), mistakes
    )
    broadcast = ("must match the size", "alphas_cumprod[t] is [B]: make it [B, 1], alphas_cumprod[t][:, None]")
    return check(
        "add_noise",
        add_noise,
        [case],
        sizes={"points": 6, "coordinates": 2},
        axes=["points", "coordinates"],
        correct="x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps.",
        hints=[broadcast],
    )


def check_denoising_error(denoising_error: Callable, denoiser: Denoiser | None = None) -> CheckResult:
    """Check ``denoising_error(denoiser, x0, noise, t, label)``: the error of one class c on one trial
    (t, eps) for each point, the term inside the sum of Li et al. (2023), eq. 5:

        || eps - eps_theta( sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t, c ) ||^2

    ``x0`` and ``noise`` are [B, 2], ``t`` [B] long, ``label`` an int; it returns [B]. ``denoiser``:
    the one to check with, on the CPU (default :func:`example_denoiser`)."""
    require_function(denoising_error, "check_denoising_error", "denoising_error")
    denoiser = example_denoiser() if denoiser is None else denoiser
    x0, noise = _normal(POINTS, 2, seed=3), _normal(POINTS, 2, seed=4)
    t = (torch.tensor([0.04, 0.2, 0.45, 0.6, 0.85]) * denoiser.schedule.num_timesteps).long()  # [B], low to high noise
    label = denoiser.n_classes - 1
    labels = torch.full_like(t, label)
    a = denoiser.schedule.alphas_cumprod.float()[t][:, None]  # [B, 1]
    x_t = denoiser.schedule.add_noise(x0, noise, t)

    def predicted(x, c=labels):
        return denoiser.predict_noise(x, t, c)

    mistakes = [
        shaped("you returned the squared error of each coordinate: sum them, one error per point", (POINTS, 2)),
        shaped("you returned one number: give one error per point, do not average over the points", ()),
        same_answer_as(
            "you averaged over the coordinates: the error is the squared norm, summed over them",
            lambda: (noise - predicted(x_t)).square().mean(1),
        ),
        same_answer_as(
            "you took the norm: the error is the squared norm", lambda: (noise - predicted(x_t)).norm(dim=1)
        ),
        same_answer_as(
            "you summed absolute values (the l1 loss): the error is the squared l2 norm",
            lambda: (noise - predicted(x_t)).abs().sum(1),
        ),
        same_answer_as(
            "you compared the prediction with x0: the denoiser predicts the noise, so compare it with eps",
            lambda: (x0 - predicted(x_t)).square().sum(1),
        ),
        same_answer_as(
            "the denoiser must see the noisy x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, not the clean x0",
            lambda: (noise - predicted(x0)).square().sum(1),
        ),
        same_answer_as(
            "your x_t is wrong: x0 is scaled by sqrt(abar_t), not abar_t (exercise 1)",
            lambda: (noise - predicted(a * x0 + (1 - a).sqrt() * noise)).square().sum(1),
        ),
        same_answer_as(
            f"you scored class 0, not the class asked for (label = {label})",
            lambda: (noise - predicted(x_t, torch.zeros_like(t))).square().sum(1),
        ),
    ]
    expected = denoising_loss(noise, predicted(x_t).detach())
    case = Case(lambda f: f(denoiser, x0.clone(), noise.clone(), t.clone(), label), expected, mistakes)
    return check(
        "denoising_error",
        denoising_error,
        [case],
        sizes={"points": POINTS, "coordinates": 2},
        axes=["points"],
        correct="||eps - eps_theta(x_t, t, c)||^2, one class, one trial per point.",
        hints=[DTYPE_HINT, LABEL_HINT],
    )


def check_posterior(posterior: Callable) -> CheckResult:
    """Check ``posterior(errors, temperature=1.0)``: Bayes' rule with the errors standing in for
    -log p(x | c) (Li et al. 2023, eqs. 1 and 4; equal priors), as :func:`toyclf.log_posterior`:

        p(c | x) = softmax_c( -err(x, c) / temperature )

    ``errors`` are [B, K] (lower is likelier); it returns [B, K], each row summing to 1."""
    require_function(posterior, "check_posterior", "posterior")
    errors = 1 + 2 * torch.rand(4, 3, generator=torch.Generator().manual_seed(5))  # [B, K]

    def case(temperature: float) -> Case:
        def softmax(logits, dim=1):
            return torch.softmax(logits, dim=dim)

        mistakes = [
            same_answer_as(
                "the sign of the softmax is flipped: a lower error must mean a likelier class",
                lambda: softmax(errors / temperature),
            ),
            same_answer_as(
                "you normalised over the points (dim 0): normalise over the classes, so each row sums to 1",
                lambda: softmax(-errors / temperature, dim=0),
            ),
            same_answer_as(
                "you returned log-probabilities (log_softmax): return the probabilities",
                lambda: torch.log_softmax(-errors / temperature, dim=1),
            ),
            same_answer_as(
                "you did not normalise: divide exp(-err / temperature) by its sum over the classes",
                lambda: (-errors / temperature).exp(),
            ),
            same_answer_as("you multiplied by the temperature: divide by it", lambda: softmax(-errors * temperature)),
            same_answer_as("you left out the temperature: softmax(-err / temperature)", lambda: softmax(-errors)),
        ]
        expected = log_posterior(errors, temperature=temperature).exp()
        call = (lambda f: f(errors.clone())) if temperature == 1 else (lambda f: f(errors.clone(), temperature))
        return Case(call, expected, mistakes, where=f"at temperature {temperature:g}")

    return check(
        "posterior",
        posterior,
        [case(1.0), case(0.5)],
        sizes={"points": 4, "classes": 3},
        axes=["points", "classes"],
        correct="p(c | x) = softmax(-err / temperature): a lower error, a likelier class.",
    )


class _ClassBlind:
    """``denoiser`` made deaf to the class: every label gets class 0's prediction. On it every class
    has exactly the same error, as long as the classes share their trials (t, eps)."""

    def __init__(self, denoiser: Denoiser) -> None:
        self.denoiser = denoiser
        self.schedule, self.n_classes, self.latent_shape = denoiser.schedule, denoiser.n_classes, denoiser.latent_shape
        self.device = denoiser.device

    def encode(self, x: Tensor) -> Tensor:
        return self.denoiser.encode(x)

    def predict_noise(self, x_t: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        return self.denoiser.predict_noise(x_t, t, torch.zeros_like(labels))

    __call__ = predict_noise


def _squared_differences(denoiser: Denoiser, x: Tensor, plan: TrialPlan) -> Tensor:
    """(eps_n - eps_theta(x_t, t_n, c))^2 for every point, class, trial and coordinate: [B, K, N, D]."""
    B, N = len(x), len(plan)
    t, noise = plan.timesteps.repeat(B), plan.noise.repeat(B, 1)  # [B*N], [B*N, D]: point by point
    x_t = denoiser.schedule.add_noise(x.repeat_interleave(N, 0), noise, t)  # [B*N, D]
    per_class = [denoiser.predict_noise(x_t, t, torch.full_like(t, c)) - noise for c in range(denoiser.n_classes)]
    return torch.stack(per_class, 1).square().view(B, N, denoiser.n_classes, -1).transpose(1, 2)


def check_class_errors(class_errors: Callable, denoiser: Denoiser | None = None) -> CheckResult:
    """Check ``class_errors(denoiser, x, plan)``: the paper's Algorithm 1 for a batch of points, as
    :func:`toyclf.reference_class_errors` (Li et al. 2023, eq. 5, uniform weights):

        err[i, k] = 1/N sum_n || eps_n - eps_theta( sqrt(abar_{t_n}) x_i + sqrt(1 - abar_{t_n}) eps_n, t_n, k ) ||^2

    with the same trials (t_n, eps_n) = (``plan.timesteps[n]``, ``plan.noise[n]``) for every point and
    every class. ``x`` is [B, 2]; it returns [B, K]. ``denoiser``: on the CPU, default :func:`example_denoiser`."""
    require_function(class_errors, "check_class_errors", "class_errors")
    denoiser = example_denoiser() if denoiser is None else denoiser
    x, K = _normal(POINTS, 2, seed=6), denoiser.n_classes
    plan = make_plan(denoiser, TRIALS, noise_sampling="gaussian", seed=7)
    squares = _squared_differences(denoiser, x, plan).detach()  # [B, K, N, D]

    def classes_drew_their_own_noise(answer: Tensor) -> bool:  # on a class-blind denoiser, the classes differ
        blind = torch.as_tensor(class_errors(_ClassBlind(denoiser), x.clone(), plan)).double()
        return answer.shape == (POINTS, K) and not torch.allclose(blind, blind[:, :1].expand_as(blind))

    def draws_its_own_noise(answer: Tensor) -> bool:
        again = torch.as_tensor(class_errors(denoiser, x.clone(), plan)).double()
        return answer.shape == (POINTS, K) and not is_close(again, answer)

    mistakes = [
        shaped("you averaged over the wrong axis (classes instead of trials)", (POINTS, TRIALS)),
        shaped("you kept every trial: take the mean over the trials", (POINTS, K, TRIALS)),
        shaped("your errors are transposed: one row per point, one column per class", (K, POINTS)),
        same_answer_as("you summed over the trials: take their mean", lambda: squares.sum(-1).sum(-1)),
        same_answer_as(
            "you averaged over the coordinates: each trial's error is the squared norm, summed over them",
            lambda: squares.mean(-1).mean(-1),
        ),
        Mistake(
            "each class drew its own eps: the classes must share the same (t, eps) so their errors differ only "
            "by the class",
            classes_drew_their_own_noise,
        ),
        Mistake(
            "two calls on the same plan give different errors: take t and eps from the plan "
            "(plan.timesteps, plan.noise) instead of drawing your own",
            draws_its_own_noise,
        ),
    ]
    case = Case(lambda f: f(denoiser, x.clone(), plan), reference_class_errors(denoiser, x, plan), mistakes)
    return check(
        "class_errors",
        class_errors,
        [case],
        sizes={"points": POINTS, "classes": K, "trials": TRIALS, "coordinates": 2},
        axes=["points", "classes"],
        correct="every class scored on the same trials (t, eps), the mean over the trials, [points, classes].",
        hints=[DTYPE_HINT, LABEL_HINT],
    )


class NearestCentres:
    """A stand-in classifier for :func:`check_decision_map`: p(c | x) = softmax_c(-||x - centre_c||^2)
    for three centres, cheap and not symmetric in x and y. Has ``predict_proba``, ``predict`` and
    ``classes_``, as a fitted scikit-learn classifier."""

    centres = np.array([[-1.0, -0.5], [1.0, 0.2], [0.3, 1.2]])
    classes_ = np.arange(3)

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = -np.square(np.asarray(X, dtype=float)[:, None, :] - self.centres).sum(-1)  # [n, 3]
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def check_decision_map(decision_map: Callable, classifier: Any = None) -> CheckResult:
    """Check ``decision_map(classifier, xx, yy)``: the class the classifier decides at every point of
    the grid ``xx, yy`` (a meshgrid, [ny, nx] each), the argmax of p(c | x) (Li et al. 2023, eq. 4),
    as ``toyclf.probability_map(classifier, xx, yy, coarse_step=1).argmax(-1)``; it returns [ny, nx].
    ``classifier``: anything with ``predict_proba`` (default :class:`NearestCentres`)."""
    require_function(decision_map, "check_decision_map", "decision_map")
    classifier = NearestCentres() if classifier is None else classifier
    xx, yy = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1.5, 1.5, 5))  # [ny, nx] = [5, 7]: not square
    ny, nx = xx.shape
    proba = probability_map(classifier, xx, yy, coarse_step=1)  # [ny, nx, K], every point classified
    K = proba.shape[-1]

    def decide(points: np.ndarray, shape=xx.shape, rule=np.argmax) -> np.ndarray:
        return rule(classifier.predict_proba(points), axis=1).reshape(shape)

    mistakes = [
        shaped("you returned the probabilities: the decision map is their argmax over the classes", (ny, nx, K)),
        shaped("your map is flat: reshape it to the grid's shape, xx.shape = (ny, nx)", (ny * nx,)),
        shaped("your map is transposed: meshgrid's arrays are (ny, nx), rows are y", (nx, ny)),
        same_answer_as(
            "you swapped x and y: the grid's point (i, j) is (xx[i, j], yy[i, j])",
            lambda: decide(np.column_stack([yy.ravel(), xx.ravel()])),
        ),
        same_answer_as(
            "the argmin of p(c | x) is the least likely class: the decision is the argmax (the argmin of the error)",
            lambda: decide(np.column_stack([xx.ravel(), yy.ravel()]), rule=np.argmin),
        ),
        same_answer_as(
            "your points and your map are in different orders: ravel xx and yy the way you reshape back "
            "(row by row, numpy's default)",
            lambda: decide(np.column_stack([xx.ravel(order="F"), yy.ravel(order="F")])),
        ),
        same_answer_as(
            "your points and your map are in different orders: reshape back to xx.shape, as xx.ravel() ran",
            lambda: decide(np.column_stack([xx.ravel(), yy.ravel()]), shape=(nx, ny)).T,
        ),
    ]
    case = Case(lambda f: f(classifier, xx.copy(), yy.copy()), torch.as_tensor(proba.argmax(-1)), mistakes)
    return check(
        "decision_map",
        decision_map,
        [case],
        sizes={"ny": ny, "nx": nx, "classes": K, "points": ny * nx},
        axes=["ny", "nx"],
        correct="the likeliest class at every grid point, [ny, nx].",
        expects="a numpy array",
    )
