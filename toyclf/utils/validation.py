"""The type checks behind the package's error messages: is a value an int of at least ``low``, or a
positive finite number? (bool is neither, as in scikit-learn's parameter validation; numpy
scalars are both.)"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def is_int(value: Any, low: int = 1) -> bool:
    """True for an int (Python or numpy, not bool) of at least ``low``."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= low


def is_positive(value: Any) -> bool:
    """True for a finite real number (not bool) above zero."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0
