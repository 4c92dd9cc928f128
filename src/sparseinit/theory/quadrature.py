"""Gaussian expectations of any elementwise φ by adaptive quadrature, for activations the library does not know.

Same quantities as :mod:`.closed_form`, computed numerically:

    E[g(√q z)]          = ∫ g(x) N(x; 0, q) dx, split at the kinks (scipy.integrate.quad)
    d/dq E[φ(√q z)²]    = ∫ φ(x)² ∂_q N(x; 0, q) dx           (no derivative of φ needed)
    E[φ(u1) φ(u2)]      = ∫ φ(x) N(x; 0, q) E[φ(ρx + √q·√(1−ρ²) y)] dx, inner over y by Gauss–Legendre
                          on the pieces cut by the kinks.

φ' is the user's derivative if given, else a fourth-order finite difference whose stencil stays inside the
linear piece it is evaluated on, so it is exact (to rounding) for piecewise-linear φ with known kinks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy.integrate import IntegrationWarning, quad

_TAIL = 12.0  # standard deviations kept by the inner Gauss–Legendre rule (mass beyond: ~4e-33)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)
_QUAD = {"epsabs": 1e-15, "epsrel": 1e-12, "limit": 400}


@dataclass(frozen=True)
class Elementwise:
    """A user-supplied elementwise activation for the numerical path.

    ``fn`` maps a float64 numpy array to an array of the same shape; ``kinks`` are points where φ or φ' is not
    smooth (optional, but needed for full accuracy); ``derivative`` is φ' (optional).
    """

    fn: Callable[[np.ndarray], np.ndarray]
    kinks: Sequence[float] = field(default=())
    derivative: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    @property
    def breakpoints(self) -> np.ndarray:
        """The sorted distinct kinks, where quadrature splits its intervals."""
        return np.unique(np.asarray(self.kinks, dtype=np.float64))


def _pieces(points: np.ndarray) -> list[tuple[float, float]]:
    edges = [-np.inf, *points.tolist(), np.inf]
    return list(pairwise(edges))


def _quad(g: Callable[[float], float], lo: float, hi: float) -> float:
    """scipy's adaptive quad; its warnings are replaced by one that fires only if the error estimate is large
    (an integral that is exactly zero, like V'' of ReLU, makes quad warn about a relative tolerance it can't meet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        value, err = quad(g, lo, hi, **_QUAD)
    if err > 1e-8 * max(abs(value), 1e-4):
        warnings.warn(f"quadrature on [{lo}, {hi}] may be inaccurate (error estimate {err:.2g}); "
                      "give the activation's kinks", IntegrationWarning, stacklevel=3)
    return value


def _expect(g: Callable[[float], float], points: np.ndarray) -> float:
    """∫ g(x) dx over the real line, split at ``points``."""
    return sum(_quad(g, lo, hi) for lo, hi in _pieces(points))


def _density(x: float, q: float) -> float:
    return np.exp(-0.5 * x * x / q) / np.sqrt(2.0 * np.pi * q)


def _derivative_on_piece(f: Elementwise, x: float, lo: float, hi: float) -> float:
    if f.derivative is not None:
        return float(f.derivative(np.array([x]))[0])
    h = 1e-3 * max(1.0, abs(x))
    if x - 2 * h > lo and x + 2 * h < hi:
        pts, w = np.array([-2, -1, 1, 2]), np.array([1, -8, 8, -1]) / 12.0
    elif x + 4 * h < hi:
        pts, w = np.arange(5), np.array([-25, 48, -36, 16, -3]) / 12.0
    else:
        pts, w = -np.arange(5), -np.array([-25, 48, -36, 16, -3]) / 12.0
    return float(np.dot(w, f(x + h * pts)) / h)


def _per_q(fn: Callable[[float], float], q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return np.vectorize(fn, otypes=[np.float64])(q)


def mean_square(f: Elementwise, q: np.ndarray) -> np.ndarray:
    return _per_q(lambda qq: _expect(lambda x: f(np.array(x)) ** 2 * _density(x, qq), f.breakpoints), q)


def mean_square_derivative(f: Elementwise, q: np.ndarray) -> np.ndarray:
    def one(qq: float) -> float:
        return sum(
            _quad(lambda x, a=lo, b=hi: _derivative_on_piece(f, x, a, b) ** 2 * _density(x, qq), lo, hi)
            for lo, hi in _pieces(f.breakpoints)
        )

    return _per_q(one, q)


def mean_square_dq(f: Elementwise, q: np.ndarray) -> np.ndarray:
    def one(qq: float) -> float:
        return _expect(lambda x: f(np.array(x)) ** 2 * _density(x, qq) * (x * x - qq) / (2 * qq * qq), f.breakpoints)

    return _per_q(one, q)


def mean_square_dq2(f: Elementwise, q: np.ndarray) -> np.ndarray:
    def one(qq: float) -> float:
        def g(x: float) -> float:
            d1 = (x * x - qq) / (2 * qq * qq)
            return f(np.array(x)) ** 2 * _density(x, qq) * (d1 * d1 - x * x / qq**3 + 1 / (2 * qq * qq))

        return _expect(g, f.breakpoints)

    return _per_q(one, q)


def _inner_mean(f: Elementwise, mean: float, sd: float) -> float:
    """E[φ(mean + sd·y)], y ~ N(0, 1), by Gauss–Legendre on the pieces of [−12, 12] cut by the kinks."""
    if sd == 0.0:
        return float(f(np.array(mean)))
    cuts = (f.breakpoints - mean) / sd
    cuts = cuts[(cuts > -_TAIL) & (cuts < _TAIL)]
    edges = np.concatenate([[-_TAIL], cuts, [_TAIL]])
    lo, hi = edges[:-1, None], edges[1:, None]
    y = 0.5 * (hi - lo) * _NODES + 0.5 * (hi + lo)
    w = 0.5 * (hi - lo) * _WEIGHTS
    return float(np.sum(w * f(mean + sd * y) * np.exp(-0.5 * y * y)) / np.sqrt(2 * np.pi))


def cross_moment(f: Elementwise, q: np.ndarray, rho: np.ndarray) -> np.ndarray:
    def one(qq: float, rr: float) -> float:
        sd = np.sqrt(qq * max(0.0, 1.0 - rr * rr))
        return _expect(lambda x: f(np.array(x)) * _density(x, qq) * _inner_mean(f, rr * x, sd), f.breakpoints)

    q, rho = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(rho, dtype=np.float64))
    return np.vectorize(one, otypes=[np.float64])(q, rho)
