"""Piecewise-linear activations written as sums of ramps, φ(x) = Σ_i c_i (s_i x − α_i)₊  ([A] §2).

Every activation of [A] is such a sum, which is what makes their Gaussian expectations closed-form:

    relu_tau  (x − τ)₊
    crelu     (x − τ)₊ − (x − τ − m)₊
    st        (x − τ)₊ − (−x − τ)₊
    cst       (x − τ)₊ − (x − τ − m)₊ − (−x − τ)₊ + (−x − τ − m)₊

(``relu`` is ``relu_tau`` with τ = 0.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .._validate import check_choice, check_range

ACTIVATIONS = ("relu", "relu_tau", "st", "crelu", "cst")
_CLIPPED = ("crelu", "cst")
_ODD = ("st", "cst")


@dataclass(frozen=True)
class Ramp:
    """One term c·(s·x − α)₊ of a piecewise-linear activation."""

    sign: int
    shift: float
    coef: float

    @property
    def kink(self) -> float:
        return self.sign * self.shift


@dataclass(frozen=True)
class PiecewiseLinear:
    """A named activation of [A] as a sum of ramps; callable on numpy arrays (float64).

    Build it with :meth:`from_name`; the theory functions use its closed forms.
    """

    name: str
    tau: float
    m: float | None
    ramps: tuple[Ramp, ...]

    @classmethod
    def from_name(cls, name: str, tau: float = 0.0, m: float | None = None) -> PiecewiseLinear:
        """The activation ``name`` ∈ {relu, relu_tau, st, crelu, cst} with threshold τ and clip m."""
        check_choice("activation", name, ACTIVATIONS)
        tau = check_range("tau", tau, 0.0, None, lo_open=False)
        if name == "relu" and tau != 0.0:
            raise ValueError(f"relu has no threshold (tau must be 0, got {tau}); use relu_tau")
        if name in _CLIPPED:
            if m is None:
                raise ValueError(f"{name} needs the clip m, a number in (0, inf)")
            m = check_range("m", m, 0.0, None)
        elif m is not None:
            raise ValueError(f"{name} takes no clip m (got m={m}); use crelu or cst")
        ramps = [Ramp(1, tau, 1.0)]
        if name in _CLIPPED:
            ramps.append(Ramp(1, tau + m, -1.0))
        if name in _ODD:
            ramps += [Ramp(-r.sign, r.shift, -r.coef) for r in ramps]
        return cls(name, tau, m, tuple(ramps))

    @property
    def odd(self) -> bool:
        """True for the symmetric (soft-threshold) family."""
        return self.name in _ODD

    @property
    def kinks(self) -> np.ndarray:
        """Sorted distinct kink locations."""
        return np.unique([r.kink for r in self.ramps])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return sum(r.coef * np.maximum(r.sign * x - r.shift, 0.0) for r in self.ramps)

    def derivative(self, x: np.ndarray) -> np.ndarray:
        """φ'(x): the slope of the linear piece x lies on (right-continuous at kinks)."""
        x = np.asarray(x, dtype=np.float64)
        return sum(r.coef * r.sign * (r.sign * x > r.shift) for r in self.ramps) + 0.0 * x

    def slopes(self) -> np.ndarray:
        """Slopes on the len(kinks)+1 intervals cut by the kinks, left to right."""
        k = self.kinks
        mids = np.concatenate([[k[0] - 1.0], (k[:-1] + k[1:]) / 2, [k[-1] + 1.0]])
        return self.derivative(mids)

    def zero_fraction(self, q: np.ndarray) -> np.ndarray:
        """P(φ(√q z) = 0), z ~ N(0,1): the activation sparsity at pre-activation variance q (SPEC §3)."""
        a = self.tau / np.sqrt(np.asarray(q, dtype=np.float64))
        return 2.0 * ndtr(a) - 1.0 if self.odd else ndtr(a)

    def describe(self) -> str:
        """Short label, e.g. ``crelu(τ=1.036, m=1)``."""
        args = [] if self.name == "relu" else [f"τ={self.tau:.4g}"]
        if self.m is not None:
            args.append(f"m={self.m:.4g}")
        return f"{self.name}({', '.join(args)})" if args else self.name


def threshold_for_sparsity(name: str, sparsity: float, q: float = 1.0) -> float:
    """τ giving zero fraction ``sparsity`` at variance q: √q·Φ⁻¹(s), or √q·Φ⁻¹((1+s)/2) for st/cst (SPEC §3).

    relu_tau / crelu need s ∈ [0.5, 1) (τ ≥ 0); relu has no threshold (τ = 0, s = 1/2 at any q).
    """
    from scipy.special import ndtri

    check_choice("activation", name, [a for a in ACTIVATIONS if a != "relu"])
    s = check_range("sparsity", sparsity, 0.0, 1.0)
    q = check_range("q", q, 0.0, None)
    if name not in _ODD and s < 0.5:
        raise ValueError(f"sparsity for {name} must be in [0.5, 1) (τ ≥ 0), got {sparsity}")
    p = (1.0 + s) / 2.0 if name in _ODD else s
    return math.sqrt(q) * float(ndtri(p))
