"""Variance and correlation maps of the Gaussian-process limit of a wide random network ([A] §2, SPEC §2).

Pre-activations h^l = W^l φ(h^{l−1}) + b^l with W_ij ~ N(0, σ_w²/fan_in), b_i ~ N(0, σ_b²) are, in the
infinite-width limit, Gaussian with variance q^l, and

    V(q)  = σ_w² E[φ(√q z)²] + σ_b²                              variance map, q^{l+1} = V(q^l)
    R(ρ)  = (σ_w² E[φ(u1) φ(u2)] + σ_b²) / V(q)                  correlation map, u_k ~ N(0, q), corr ρ
    χ1    = σ_w² E[φ'(√q z)²]  (= R'(1) at a fixed point)        Edge of Chaos: χ1 = 1

``phi`` is any of: a :class:`PiecewiseLinear` (exact closed forms), a sparseinit activation module (its
``piecewise()``), an :class:`Elementwise` or a plain numpy callable (adaptive quadrature).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .._validate import check_int, check_range
from . import closed_form, quadrature
from .piecewise import PiecewiseLinear
from .quadrature import Elementwise


def _backend(phi: Any) -> tuple[Any, Any]:
    """(module of moment functions, activation in the form that module takes)."""
    if hasattr(phi, "piecewise") and callable(phi.piecewise):
        phi = phi.piecewise()
    if isinstance(phi, PiecewiseLinear):
        return closed_form, phi
    if isinstance(phi, Elementwise):
        return quadrature, phi
    if callable(phi):
        return quadrature, Elementwise(phi, kinks=getattr(phi, "kinks", ()))
    raise TypeError(f"phi must be a PiecewiseLinear, an activation module or a callable, got {type(phi).__name__}")


def _checked(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} is not finite for these arguments (q must be > 0 and finite)")
    return values[()] if isinstance(values, np.ndarray) else values


def _weights(sigma_w2: float, sigma_b2: float = 0.0) -> tuple[float, float]:
    """(σ_w², σ_b²) as floats, or a one-line ValueError: a variance is finite, σ_w² > 0 and σ_b² ≥ 0."""
    return (check_range("sigma_w2", sigma_w2, 0.0, None),
            check_range("sigma_b2", sigma_b2, 0.0, None, lo_open=False))


def _depth(depth: Any) -> int:
    whole = isinstance(depth, numbers.Real) and not isinstance(depth, (bool, np.bool_)) and math.isfinite(depth)
    if not (whole and depth == int(depth) and depth >= 0):
        raise ValueError(f"depth must be a whole number >= 0, got {depth!r}")
    return int(depth)


def _one_positive(name: str, value: Any) -> float:
    if np.ndim(value) != 0:
        raise ValueError(f"{name} must be one number, got an array of shape {np.shape(value)}")
    return check_range(name, value, 0.0, None)


def _positive(q: Any) -> np.ndarray:
    try:
        q = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"q must be a number or an array of numbers in (0, inf), got {q!r}") from None
    if np.any(~(q > 0)) or np.any(~np.isfinite(q)):
        raise ValueError("q must be in (0, inf)")
    return q


def mean_square(phi: Any, q: Any) -> np.ndarray:
    """E[φ(√q z)²], z ~ N(0, 1)."""
    mod, f = _backend(phi)
    return _checked(mod.mean_square(f, _positive(q)), "E[φ²]")


def mean_square_derivative(phi: Any, q: Any) -> np.ndarray:
    """E[φ'(√q z)²], z ~ N(0, 1)."""
    mod, f = _backend(phi)
    return _checked(mod.mean_square_derivative(f, _positive(q)), "E[φ'²]")


def variance_map(phi: Any, q: Any, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """V(q) = σ_w² E[φ(√q z)²] + σ_b²."""
    sigma_w2, sigma_b2 = _weights(sigma_w2, sigma_b2)
    return sigma_w2 * mean_square(phi, q) + sigma_b2


def variance_map_slope(phi: Any, q: Any, sigma_w2: float) -> np.ndarray:
    """V'(q) = σ_w² d/dq E[φ(√q z)²]; for CReLU σ_w²{[Φ(b)−Φ(a)] − (b−a)φ_N(b)}, a = τ/√q, b = (τ+m)/√q."""
    sigma_w2, _ = _weights(sigma_w2)
    mod, f = _backend(phi)
    return sigma_w2 * _checked(mod.mean_square_dq(f, _positive(q)), "V'(q)")


def variance_map_curvature(phi: Any, q: Any, sigma_w2: float) -> np.ndarray:
    """V''(q) = σ_w² d²/dq² E[φ(√q z)²]; for ReLU_τ σ_w² a φ_N(a)/(2q) > 0 (the instability of [A] §3)."""
    sigma_w2, _ = _weights(sigma_w2)
    mod, f = _backend(phi)
    return sigma_w2 * _checked(mod.mean_square_dq2(f, _positive(q)), "V''(q)")


def correlation_map(phi: Any, rho: Any, sigma_w2: float, sigma_b2: float, q: Any = 1.0) -> np.ndarray:
    """R(ρ) = (σ_w² E[φ(u1)φ(u2)] + σ_b²)/V(q), u1, u2 ~ N(0, q) with correlation ρ ∈ [−1, 1]; R(1) = 1.

    At a fixed point q = q* the denominator V(q*) is q* (SPEC §2).
    """
    rho = np.asarray(rho, dtype=np.float64)
    if np.any(~(np.abs(rho) <= 1.0)):
        raise ValueError("rho must be in [-1, 1]")
    sigma_w2, sigma_b2 = _weights(sigma_w2, sigma_b2)
    mod, f = _backend(phi)
    q = _positive(q)
    cross = mod.cross_moment(f, q, rho)
    return _checked((sigma_w2 * cross + sigma_b2) / variance_map(phi, q, sigma_w2, sigma_b2), "R(ρ)")


def chi1(phi: Any, q: Any, sigma_w2: float) -> np.ndarray:
    """χ1 = σ_w² E[φ'(√q z)²], the slope R'(1) of the correlation map at a fixed point; EoC ⇔ χ1 = 1."""
    sigma_w2, _ = _weights(sigma_w2)
    return sigma_w2 * mean_square_derivative(phi, q)


def propagate_variance(phi: Any, q0: float, depth: int, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """q^0 = q0, q^{l+1} = V(q^l) for l < depth; an exploding sequence is continued as inf."""
    depth = _depth(depth)
    sigma_w2, sigma_b2 = _weights(sigma_w2, sigma_b2)
    qs = np.empty(depth + 1)
    qs[0] = _one_positive("q0", q0)
    for layer in range(depth):
        prev = qs[layer]
        qs[layer + 1] = variance_map(phi, prev, sigma_w2, sigma_b2) if prev < 1e300 else np.inf
    return qs


def propagate_correlation(
    phi: Any, rho0: float, depth: int, sigma_w2: float, sigma_b2: float, q: float = 1.0
) -> np.ndarray:
    """ρ^0 = rho0, ρ^{l+1} = R(ρ^l) for l < depth: the correlation of two inputs that both sit at q ([A] §2).

    On the EoC (χ1 = R'(1) = 1) ρ^l → 1 only polynomially: for a kinked φ, R(ρ) ≈ ρ + c(1−ρ)^{3/2} near 1, so
    1 − ρ^l ≈ 4/(c² l²). The larger c, the sooner every pair of inputs looks alike at depth (ReLU: c = 2√2/(3π)).
    """
    depth = _depth(depth)
    if np.ndim(rho0) != 0:
        raise ValueError(f"rho0 must be one number, got an array of shape {np.shape(rho0)}")
    rho0 = check_range("rho0", rho0, -1.0, 1.0, lo_open=False, hi_open=False)
    sigma_w2, sigma_b2 = _weights(sigma_w2, sigma_b2)
    q = _one_positive("q", q)
    rhos = np.empty(int(depth) + 1)
    rhos[0] = rho0
    # min(1, ·): rounding can put R(ρ) a few ulps above 1 near the fixed point, outside R's domain.
    for layer in range(int(depth)):
        rhos[layer + 1] = min(1.0, float(correlation_map(phi, rhos[layer], sigma_w2, sigma_b2, q)))
    return rhos


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point q* = V(q*) with V'(q*), V''(q*) and its stability.

    ``stability`` is ``stable`` (|V'| < 1), ``unstable`` (|V'| > 1), or, when V'(q*) = 1, ``stable from below``
    (V'' > 0: perturbations above q* grow, the instability of ReLU_τ / ST_τ on the EoC), ``stable from above``
    (V'' < 0), or ``marginal`` (V'' = 0 too).
    """

    q: float
    slope: float
    curvature: float
    stability: str


def classify(slope: float, curvature: float, tol: float = 1e-7) -> str:
    """Stability of a fixed point from V'(q*) and V''(q*) (the labels of :class:`FixedPoint`)."""
    slope, curvature = check_range("slope", slope), check_range("curvature", curvature)
    tol = check_range("tol", tol, 0.0, 1.0, lo_open=False)
    if abs(slope) < 1 - tol:
        return "stable"
    if abs(slope) > 1 + tol:
        return "unstable"
    if abs(curvature) <= tol:
        return "marginal"
    return "stable from below" if curvature > 0 else "stable from above"


def fixed_points(
    phi: Any, sigma_w2: float, sigma_b2: float, q_min: float = 1e-6, q_max: float = 1e6, grid: int = 400,
) -> list[FixedPoint]:
    """All fixed points of V in [q_min, q_max]: sign changes of V(q) − q refined by Brent's method, and
    tangential (double) roots — those of the EoC for ReLU_τ / ST_τ — found as minima of |V(q) − q|, on ``grid``
    log-spaced points."""
    q_min = check_range("q_min", q_min, 0.0, None)
    q_max = check_range("q_max", q_max, q_min, None)
    grid = check_int("grid", grid, 3)
    qs = np.geomspace(q_min, q_max, grid)
    gap = variance_map(phi, qs, sigma_w2, sigma_b2) - qs
    rel = gap / qs
    roots: list[float] = []
    for i in range(grid - 1):
        if gap[i] == 0.0:
            roots.append(qs[i])
        elif gap[i] * gap[i + 1] < 0:
            roots.append(brentq(lambda q: variance_map(phi, q, sigma_w2, sigma_b2) - q, qs[i], qs[i + 1], xtol=1e-14))
    for i in range(1, grid - 1):
        local_min = abs(rel[i]) <= min(abs(rel[i - 1]), abs(rel[i + 1]))
        if local_min and np.sign(gap[i - 1]) == np.sign(gap[i + 1]):
            res = minimize_scalar(
                lambda lq: abs(variance_map(phi, np.exp(lq), sigma_w2, sigma_b2) / np.exp(lq) - 1.0),
                bounds=(np.log(qs[i - 1]), np.log(qs[i + 1])), method="bounded", options={"xatol": 1e-12},
            )
            if res.fun < 1e-8 and not any(abs(np.exp(res.x) - r) < 1e-6 * r for r in roots):
                roots.append(float(np.exp(res.x)))
    out = []
    for q in sorted(roots):
        slope = float(variance_map_slope(phi, q, sigma_w2))
        curv = float(variance_map_curvature(phi, q, sigma_w2))
        out.append(FixedPoint(float(q), slope, curv, classify(slope, curv, tol=1e-5)))
    return out
