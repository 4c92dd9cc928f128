"""Argument checks shared by the public API: one-line ``ValueError`` naming the parameter and its valid range."""

from __future__ import annotations

import math
from collections.abc import Iterable


def check_range(
    name: str, value: float, lo: float | None = None, hi: float | None = None, *,
    lo_open: bool = True, hi_open: bool = True,
) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``ValueError`` naming it and the interval."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
