"""Argument checks shared by the public API: one-line ``ValueError`` naming the parameter and its valid range."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

MAX_SEED = 2**32 - 1  # what every generator the library seeds (torch, numpy) accepts


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """Return ``value`` if it is an integer (not a bool) in [lo, hi], else raise ``ValueError`` naming the range."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not (ok and value >= lo and (hi is None or value <= hi)):
        where = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {where}, got {value!r}")
    return int(value)


def _bound(x: float) -> str:
    """A bound as a reader writes it: 0 not 0.0, 1e+12 not 1000000000000.0 (repr where %g would round it)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def check_range(
    name: str, value: float, lo: float | None = None, hi: float | None = None, *,
    lo_open: bool = True, hi_open: bool = True,
) -> float:
    """Return ``float(value)`` if it lies in the interval, else raise ``ValueError`` naming it and the interval."""
    if isinstance(value, (str, bytes, bool)) or type(value).__name__ == "bool_":  # float("0.8"), float(True)
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{'-inf' if lo is None else _bound(lo)}, {'inf' if hi is None else _bound(hi)}{right}"
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_module(name: str, value: object) -> None:
    """Raise a one-line ``TypeError`` unless ``value`` is a ``torch.nn.Module``."""
    from torch import nn

    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
