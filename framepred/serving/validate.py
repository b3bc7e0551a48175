"""Request values -> checked numbers. Every refusal is a ``ValueError`` naming the input and its range.

API clients can send anything (strings, NaN, booleans, lists); nothing here trusts a type.
"""

from __future__ import annotations

import math

from .. import data

MAX_HORIZON = 30  # frames a request may predict
DEFAULT_HORIZON = 10
MAX_SEED = 2**32 - 1
N_DIGITS_MIN, N_DIGITS_MAX = data.DIGITS_RANGE  # the generator's digit counts ...
SPEED_MIN, SPEED_MAX = data.SPEED_RANGE  # ... and speeds: the range the v2 training covers
SPEED_STEP = 0.25


def number(value) -> float:
    """A real number as float; NaN for anything else (strings, booleans, None, lists, ...)."""
    if isinstance(value, (str, bytes, bool)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def shown(value) -> str:
    """A bounded repr of a user-supplied value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def whole(value, name: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi] (floats like 3.0 are fine), else ``ValueError``."""
    f = number(value)
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {shown(value)}.")
    return int(f)


def real(value, name: str, lo: float, hi: float) -> float:
    """A finite number in [lo, hi], else ``ValueError``."""
    f = number(value)
    if not (math.isfinite(f) and lo <= f <= hi):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {shown(value)}.")
    return f


def horizon(value) -> int:
    """Frames to predict: 1..MAX_HORIZON."""
    return whole(value, "Frames to predict", 1, MAX_HORIZON)


def speed(value) -> float:
    return real(value, "Speed", SPEED_MIN, SPEED_MAX)


def angle(value) -> float:
    """A direction in degrees, 0..360 (0 = to the right, 90 = up)."""
    return real(value, "Direction", 0.0, 360.0)
