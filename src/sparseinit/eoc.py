"""Edge-of-Chaos initialisation at a target activation sparsity ([A] §3, [B]; SPEC §3).

Given the activation, the target sparsity s and the fixed-point variance q* (default 1; [B] argues for larger):

    τ     = √q*·Φ⁻¹(s)            (relu_tau, crelu)     τ = √q*·Φ⁻¹((1+s)/2)   (st, cst)
    σ_w²  = 1 / E[φ'(√q* z)²]     (χ1 = 1: the Edge of Chaos; 1/(1−s) when unclipped)
    σ_b²  = q* − σ_w² E[φ(√q* z)²] (q* is a fixed point of V); σ_b² < 0 means no EoC point exists.

On the EoC, ReLU_τ and ST_τ have V'(q*) = 1 and V''(q*) > 0: q* is stable only from below and any upward
fluctuation grows with depth. A finite clip m makes V'(q*) < 1 — an attracting fixed point ([A] §3.1). For
crelu / cst give either m or the target slope V'(q*) ∈ (0, 1), from which m is solved (V'(q*) rises
monotonically with m). With neither, m = 1 (``DEFAULT_M``): the clip of [A]'s reference configuration at
s = 0.85, where V'(q*) ≈ 0.61 (crelu) / 0.70 (cst) and the variance map is nearly linear (|V''| < 0.4).
``clip="relative"`` reads m in units of √q*, so that (τ, m) scale together and the maps are scale-equivariant.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq
from torch import nn

from . import theory
from ._validate import check_choice, check_range
from .activations import activation as _activation_module
from .theory.piecewise import ACTIVATIONS, PiecewiseLinear, threshold_for_sparsity

DEFAULT_M = 1.0
# q* spans 12 decades: [B]'s values are O(1–100); beyond these the moments under- or overflow in float64
Q_STAR_RANGE = (1e-6, 1e6)
CLIP_MODES = ("absolute", "relative")
_CLIPPED = ("crelu", "cst")


@dataclass(frozen=True)
class EdgeOfChaos:
    """An Edge-of-Chaos initialisation point: the activation (τ, m) and the weight/bias variances.

    ``slope`` is V'(q*), ``curvature`` V''(q*), ``chi1`` = σ_w² E[φ'(√q* z)²] (= 1 up to rounding). ``m`` is
    absolute (in the units of the pre-activations) whatever ``clip`` mode it was given in.
    """

    activation: str
    sparsity: float
    tau: float
    m: float | None
    q_star: float
    sigma_w2: float
    sigma_b2: float
    slope: float
    curvature: float
    chi1: float

    def piecewise(self) -> PiecewiseLinear:
        """The activation in the form the exact theory takes."""
        return PiecewiseLinear.from_name(self.activation, self.tau, self.m)

    def module(self) -> nn.Module:
        """The configured activation as an nn.Module."""
        return _activation_module(self.activation, self.tau, self.m)

    def variance_map(self, q: float | np.ndarray) -> np.ndarray:
        """V(q) = σ_w² E[φ(√q z)²] + σ_b²."""
        return theory.variance_map(self.piecewise(), q, self.sigma_w2, self.sigma_b2)

    def correlation_map(self, rho: float | np.ndarray) -> np.ndarray:
        """R(ρ) at q*: (σ_w² E[φ(u1)φ(u2)] + σ_b²)/q*."""
        return theory.correlation_map(self.piecewise(), rho, self.sigma_w2, self.sigma_b2, self.q_star)

    def propagate(self, q0: float, depth: int) -> np.ndarray:
        """Pre-activation variances q^0 = q0, q^{l+1} = V(q^l), l < depth (length depth + 1)."""
        return theory.propagate_variance(self.piecewise(), q0, depth, self.sigma_w2, self.sigma_b2)

    def propagate_correlation(self, rho0: float, depth: int) -> np.ndarray:
        """Correlations ρ^0 = rho0, ρ^{l+1} = R(ρ^l) of two inputs at q*, l < depth (length depth + 1)."""
        return theory.propagate_correlation(
            self.piecewise(), rho0, depth, self.sigma_w2, self.sigma_b2, self.q_star
        )

    def zero_fraction(self, q: float | np.ndarray) -> np.ndarray:
        """Predicted activation sparsity at pre-activation variance q (= ``sparsity`` at q*)."""
        return self.piecewise().zero_fraction(q)

    def to_dict(self) -> dict:
        """All fields as plain Python numbers (JSON-ready)."""
        return asdict(self)


def _moments(name: str, tau: float, m: float | None, q_star: float) -> tuple[float, float, float, float]:
    """(σ_w², σ_b², V'(q*), V''(q*)) of the EoC point for this (τ, m)."""
    f = PiecewiseLinear.from_name(name, tau, m)
    passing = float(theory.mean_square_derivative(f, q_star))
    if not passing > 0:
        raise ValueError(f"no Edge-of-Chaos point for {name} with absolute m={m:.4g} at q_star={q_star:g}: the "
                         "linear piece is too narrow for any pre-activation to fall on it; use a larger m")
    sigma_w2 = 1.0 / passing
    sigma_b2 = q_star - sigma_w2 * float(theory.mean_square(f, q_star))
    slope = float(theory.variance_map_slope(f, q_star, sigma_w2))
    curvature = float(theory.variance_map_curvature(f, q_star, sigma_w2))
    return sigma_w2, sigma_b2, slope, curvature


def clip_for_slope(activation: str, sparsity: float, slope: float, q_star: float = 1.0) -> float:
    """The absolute clip m at which the EoC variance map has V'(q*) = ``slope`` ∈ (0, 1)."""
    check_choice("activation", activation, _CLIPPED)
    slope = check_range("slope", slope, 0.0, 1.0)
    q_star = check_range("q_star", q_star, *Q_STAR_RANGE, lo_open=False, hi_open=False)
    tau = threshold_for_sparsity(activation, sparsity, q_star)
    root = math.sqrt(q_star)

    def gap(log_m: float) -> float:
        return _moments(activation, tau, math.exp(log_m) * root, q_star)[2] - slope

    lo, hi = math.log(1e-6), math.log(1e3)
    if gap(lo) > 0 or gap(hi) < 0:  # V'(q*) rises with m: these are the slopes of m from 1e-6 √q* to 1e3 √q*
        raise ValueError(f"slope {slope} is not reachable for {activation} at sparsity {sparsity}: V'(q*) must be "
                         f"in [{gap(lo) + slope:.3g}, {gap(hi) + slope:.6g}] (m from 1e-06 to 1e+03 √q*)")
    return math.exp(brentq(gap, lo, hi, xtol=1e-13)) * root


def edge_of_chaos(
    activation: str,
    sparsity: float | None = None,
    *,
    m: float | None = None,
    slope: float | None = None,
    q_star: float = 1.0,
    clip: str = "absolute",
) -> EdgeOfChaos:
    """The EoC initialisation of ``activation`` at the target ``sparsity`` and fixed point ``q_star``.

    relu: sparsity is 1/2 whatever is asked (σ_w² = 2, σ_b² = 0). relu_tau / st: τ from the sparsity, no m.
    crelu / cst: give ``m`` (> 0, absolute or, with ``clip="relative"``, in units of √q*) or ``slope`` = V'(q*)
    ∈ (0, 1), not both; neither means m = ``DEFAULT_M``. Raises ``ValueError`` for arguments out of range and
    for an (s, m, q*) with no EoC point (σ_b² < 0).
    """
    check_choice("activation", activation, ACTIVATIONS)
    q_star = check_range("q_star", q_star, *Q_STAR_RANGE, lo_open=False, hi_open=False)
    check_choice("clip", clip, CLIP_MODES)
    if activation == "relu":
        if sparsity is not None and check_range("sparsity", sparsity, 0.0, 1.0) != 0.5:
            warnings.warn(f"relu has sparsity 0.5 at any variance; ignoring sparsity={sparsity}", stacklevel=2)
        sparsity = 0.5
    elif sparsity is None:
        raise ValueError(f"{activation} needs a target sparsity in (0, 1)")
    sparsity = check_range("sparsity", sparsity, 0.0, 1.0)
    if activation != "relu":
        threshold_for_sparsity(activation, sparsity, q_star)  # its range checks first: crelu's s >= 0.5

    if activation in _CLIPPED:
        if m is not None and slope is not None:
            raise ValueError("give either m or slope, not both")
        if slope is not None:
            m = clip_for_slope(activation, sparsity, slope, q_star)
        else:
            m = check_range("m", DEFAULT_M if m is None else m, 0.0, None)
            if clip == "relative":
                m *= math.sqrt(q_star)
    elif m is not None or slope is not None:
        raise ValueError(f"{activation} takes no m or slope (they clip crelu / cst)")

    tau = 0.0 if activation == "relu" else threshold_for_sparsity(activation, sparsity, q_star)
    sigma_w2, sigma_b2, v1, v2 = _moments(activation, tau, m, q_star)
    if sigma_b2 < -1e-12 * q_star:
        raise ValueError(
            f"no Edge-of-Chaos point for {activation} at sparsity={sparsity}, m={m:.4g}, q_star={q_star}: "
            f"it needs sigma_b2 = {sigma_b2:.4g} < 0; use a larger m or a lower sparsity"
        )
    sigma_b2 = max(sigma_b2, 0.0)
    chi = sigma_w2 * float(theory.mean_square_derivative(PiecewiseLinear.from_name(activation, tau, m), q_star))
    return EdgeOfChaos(activation, sparsity, tau, m, q_star, sigma_w2, sigma_b2, v1, v2, chi)
