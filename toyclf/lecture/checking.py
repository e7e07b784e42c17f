"""Checking a student's function against the library's, and saying in words what is wrong.

A check calls the student's function on fixed, seeded inputs (its *cases*) and compares each answer
with the library's (:data:`RTOL`, :data:`ATOL`). When they differ it looks through the known
*mistakes*: deliberately wrong versions of the same computation, each with the sentence that names
it, so the student reads "the sign of the softmax is flipped", not a wall of numbers. A check never
raises on a wrong answer, so a student's notebook keeps running: a function that raises, returns
None or returns the wrong shape is a failed :class:`CheckResult` that says so. It raises
``TypeError`` only when it is given something that is not a function. The exercises themselves
are in :mod:`toyclf.lecture.exercises`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

RTOL, ATOL = 1e-4, 1e-5
"""An answer is right when ``torch.allclose(got, expected, rtol=RTOL, atol=ATOL)``, both taken in
float64: float32 arithmetic done in another order stays well inside it, a wrong formula does not."""


@dataclass(frozen=True, repr=False)
class CheckResult:
    """What a check found: whether the student's function ``passed``, and a ``message`` saying why.

    Printed it is one line (a tick or a cross, the exercise, the message); a notebook shows it as a
    green or red box."""

    exercise: str
    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.exercise}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#2e7d32" if self.passed else "#c62828"
        mark = "✓" if self.passed else "✗"
        return (
            f'<div style="border-left: 4px solid {colour}; padding: 2px 8px">'
            f'<b style="color: {colour}">{mark} {html.escape(self.exercise)}</b>: {html.escape(self.message)}</div>'
        )


@dataclass(frozen=True)
class Mistake:
    """A known mistake: ``matches(answer)`` is True when the student's answer (a tensor) is the one
    this mistake gives; ``message`` says in words what is wrong."""

    message: str
    matches: Callable[[Tensor], bool]


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``call(function)`` calls it on fixed inputs, ``expected``
    is the library's answer to the same call, ``mistakes`` are looked through in order when the two
    differ, and ``where`` (e.g. "at temperature 0.5") says which call it was."""

    call: Callable[[Callable], Any]
    expected: Tensor
    mistakes: Sequence[Mistake] = ()
    where: str = ""


def same_answer_as(message: str, wrong: Callable[[], Any]) -> Mistake:
    """The mistake whose answer is ``wrong()``: a deliberately wrong version of the computation."""
    return Mistake(message, lambda answer: is_close(answer, as_tensor(wrong())[0]))


def shaped(message: str, shape: Sequence[int]) -> Mistake:
    """The mistake recognised by the shape it gives (e.g. [points, trials] for a mean over the classes)."""
    return Mistake(message, lambda answer: tuple(answer.shape) == tuple(shape))


def is_close(answer: Tensor | None, expected: Tensor) -> bool:
    """Same shape and ``torch.allclose`` within :data:`RTOL` and :data:`ATOL`, in float64."""
    if answer is None or tuple(answer.shape) != tuple(expected.shape):
        return False
    return torch.allclose(answer.double(), expected.double(), rtol=RTOL, atol=ATOL)


def as_tensor(answer: Any) -> tuple[Tensor | None, str]:
    """The student's answer as a tensor on the CPU, and what kind of thing it was ("a torch tensor",
    "a numpy array", "a list", ...); None for what holds no numbers."""
    if isinstance(answer, Tensor):
        return answer.detach().cpu(), "a torch tensor"
    kind = "a numpy array" if isinstance(answer, np.ndarray | np.generic) else f"a {type(answer).__name__}"
    try:
        array = np.asarray(answer)
    except (TypeError, ValueError, RuntimeError):  # ragged lists, objects, tensors that need grad
        return None, kind
    if array.dtype.kind not in "biuf":  # strings, objects: no numbers to compare
        return None, kind
    return torch.as_tensor(array.copy()), kind


def require_function(function: Any, checker: str, argument: str) -> None:
    """Raise a ``TypeError`` saying how to call ``checker`` unless ``function`` is callable."""
    if callable(function):
        return
    called = " (it looks like the answer of a call: pass the function itself, without brackets)"
    raise TypeError(
        f"{checker} checks a function: pass it by name, {checker}({argument}); got {type(function).__name__} "
        f"{function!r:.60}{called if isinstance(function, Tensor | np.ndarray | int | float) else ''}."
    )


def describe_shape(shape: Sequence[int], sizes: dict[str, int]) -> str:
    """A shape with each axis named by its size: (5, 8) -> "(5, 8) = [points, trials]" for
    ``sizes={"points": 5, "trials": 8}``; a size two axes share gives both names, a size of none its number."""
    if len(shape) == 0:
        return "() = one number"
    names = [" or ".join(name for name, value in sizes.items() if value == size) or str(size) for size in shape]
    return f"{tuple(shape)} = [{', '.join(names)}]"


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _matches(mistake: Mistake, answer: Tensor) -> bool:
    try:  # a mistake that cannot be tested on this answer (it calls the student's function again) is not it
        with torch.no_grad():
            return bool(mistake.matches(answer))
    except Exception:
        return False


def _difference(answer: Tensor, expected: Tensor, where: str) -> str:
    if not torch.isfinite(answer.double()).all():
        return f"your answer{where} has nan or inf values"
    gap = (answer.double() - expected.double()).abs()
    index = tuple(int(i) for i in np.unravel_index(int(gap.argmax()), tuple(gap.shape)))
    return (
        f"not the library's answer{where}: the largest difference is {gap.max():.3g}, at index {list(index)}: "
        f"yours is {answer.double()[index]:.5g}, the library's {expected.double()[index]:.5g}"
    )


def diagnose(answer: Tensor, case: Case, sizes: dict[str, int], axes: Sequence[str]) -> str:
    """Why ``answer`` is not ``case.expected`` (whose axes are ``axes``): the first known mistake it
    matches, else its shape or its numbers."""
    where = f" {case.where}" if case.where else ""
    expected = f"{tuple(case.expected.shape)} = [{', '.join(axes)}]"
    shapes = f"got {describe_shape(answer.shape, sizes)}, expected {expected}"
    same_shape = tuple(answer.shape) == tuple(case.expected.shape)
    for mistake in case.mistakes:
        if _matches(mistake, answer):
            return mistake.message if same_shape else f"{mistake.message} ({shapes})"
    if not same_shape:
        return f"wrong shape{where}: {shapes}"
    return _difference(answer, case.expected, where)


def check(
    exercise: str,
    function: Callable,
    cases: Sequence[Case],
    *,
    sizes: dict[str, int],
    axes: Sequence[str],
    correct: str,
    expects: str = "a torch tensor",
    hints: Sequence[tuple[str, str]] = (),
) -> CheckResult:
    """Run ``function`` on every case in turn and say what the first wrong answer gets wrong.

    ``sizes`` names the sizes of the inputs' axes (``{"points": 5, "classes": 3}``) and ``axes``
    those of the library's answer (``["points", "classes"]``), for messages about shapes;
    ``correct`` is the message when every answer is right; ``expects`` what the library returns
    (an answer of another kind with the right values passes, with a note); ``hints`` are
    (text, hint) pairs: an exception whose message holds ``text`` is shown with its ``hint``.
    """
    name = getattr(function, "__name__", exercise)
    notes = []
    for case in cases:
        try:
            with torch.no_grad():
                answer = case.call(function)
        except NotImplementedError:
            return CheckResult(exercise, False, f"not written yet: replace the `raise NotImplementedError` in {name}")
        except Exception as error:  # the student's bug, shown in one line: the notebook keeps running
            hint = next((f" (hint: {hint})" for text, hint in hints if text in str(error)), "")
            return CheckResult(exercise, False, f"your function raised {_one_line(error)}{hint}")
        if answer is None:
            return CheckResult(exercise, False, f"{name} returned None: did you forget the `return`?")
        tensor, kind = as_tensor(answer)
        if tensor is None:
            return CheckResult(exercise, False, f"{name} returned {kind}, not {expects}")
        if not is_close(tensor, case.expected):
            return CheckResult(exercise, False, diagnose(tensor, case, sizes, axes))
        if kind != expects:
            notes.append(f"(It returns {kind} where the library returns {expects}; the values are right.)")
    tolerance = f"(the library's answer to within rtol {RTOL:.0e}, atol {ATOL:.0e})".replace("e-0", "e-")
    return CheckResult(exercise, True, " ".join([f"correct: {correct} {tolerance}", *dict.fromkeys(notes)]))
