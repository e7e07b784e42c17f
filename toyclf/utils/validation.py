"""The checks behind the package's error messages: is a value an int of at least ``low``, or a
positive finite number? (bool is neither; numpy scalars are both.) Are class priors a
probability vector, and are labels among those seen in fit?

:class:`NumberInterval` is scikit-learn's ``Interval`` without bool: ``True`` is an ``Integral``
to Python, so ``Interval(Integral, 1, None)`` takes ``n_trials=True`` as 1 trial; a number
parameter of toyclf refuses it. :data:`POSITIVE_FINITE` is the one definition of "a positive
finite number", behind ``DiffusionClassifier``'s parameter constraints, :func:`is_positive` and
the command lines' ``--temperature``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval


class NumberInterval(Interval):
    """A scikit-learn ``Interval`` constraint that refuses bool (``True``, ``np.True_``): an int or
    real number in the interval, Python's or numpy's. Its message is ``Interval``'s ("an int in
    the range [1, inf)")."""

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def int_at_least(low: int) -> NumberInterval:
    """The constraint "an int >= ``low``" (Python or numpy, not bool)."""
    return NumberInterval(Integral, low, None, closed="left")


POSITIVE_FINITE = NumberInterval(Real, 0, None, closed="neither")  # (0, inf): refuses 0, negatives, nan, inf, bool
FINITE_REAL = NumberInterval(Real, None, None, closed="neither")  # (-inf, inf): refuses nan, inf, bool


def is_int(value: Any, low: int = 1) -> bool:
    """True for an int (Python or numpy, not bool) of at least ``low``."""
    return int_at_least(low).is_satisfied_by(value)


def is_positive(value: Any) -> bool:
    """True for a finite real number (Python or numpy, not bool) above zero: :data:`POSITIVE_FINITE`."""
    return POSITIVE_FINITE.is_satisfied_by(value)


def is_real(value: Any) -> bool:
    """True for a finite real number (Python or numpy, not bool)."""
    return FINITE_REAL.is_satisfied_by(value)


def check_priors(priors: Any, counts: np.ndarray) -> np.ndarray:
    """Class prior probabilities: ``priors`` checked (one per class, non-negative, finite, summing to
    1; as :class:`sklearn.naive_bayes.GaussianNB`), or by default the class frequencies ``counts / n``."""
    if priors is None:
        return counts / counts.sum()
    priors = np.asarray(priors, dtype=np.float64)
    if priors.shape != counts.shape:
        raise ValueError(f"Number of priors ({priors.size}) must match the number of classes ({counts.size}).")
    if not np.all(np.isfinite(priors)) or np.any(priors < 0):
        raise ValueError(f"Priors must be non-negative and finite; got {priors.tolist()}.")
    if not np.isclose(priors.sum(), 1.0):
        raise ValueError(f"The sum of the priors should be 1; got {priors.sum():.6g}.")
    return priors


def check_known_labels(y: Any, classes: np.ndarray) -> np.ndarray:
    """``y`` as an array, refused if it holds labels that are not among ``classes`` (those seen in fit)."""
    y = np.asarray(y)
    unseen = np.setdiff1d(y, classes)
    if len(unseen):
        raise ValueError(
            f"y contains labels not seen in fit: {unseen.tolist()[:5]}; expected labels among {classes.tolist()}."
        )
    return y
