"""Exact Gaussian expectations of piecewise-linear activations (SPEC §2), vectorised, float64.

Everything reduces to one building block, the bivariate ramp moment

    F(a, b; ρ) = E[(X − a)₊ (Y − b)₊],   (X, Y) standard bivariate normal with correlation ρ,
               = (ρ + ab)·P(X>a, Y>b) − b φ(a) Φ̄(β) − a φ(b) Φ̄(α) + √(1−ρ²) φ(a) φ(β),
                 β = (b − ρa)/√(1−ρ²),  α = (a − ρb)/√(1−ρ²)

(Stein's lemma on the truncated moments), with the orthant probability P(X>a, Y>b) from Owen's T function.
For φ = Σ c_i (s_i x − α_i)₊ and u_k = √q X_k:  E[φ(u1)φ(u2)] = q Σ_ij c_i c_j F(α_i/√q, α_j/√q; s_i s_j ρ).
The derivatives of E[φ(√q z)²] in q come from the heat equation d/dq E[g(√q z)] = ½ E[g''(√q z)], whose
second derivative of a piecewise-linear φ is a sum of deltas at the kinks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, owens_t

from .piecewise import PiecewiseLinear

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _pdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * np.square(x))


def _sf(x: np.ndarray) -> np.ndarray:
    return ndtr(-x)


def bivariate_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Φ₂(h, k; ρ) = P(X ≤ h, Y ≤ k) for |ρ| < 1, through Owen's T (Owen 1956, eq. 2.1).

    Φ₂ = ½Φ(h) + ½Φ(k) − T(h, (k−ρh)/(h r)) − T(k, (h−ρk)/(k r)) − β,  r = √(1−ρ²),
    β = ½ when h and k have opposite signs; h = 0 (or k = 0) is taken as the limit from above.
    """
    h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (h, k, rho)))
    r = np.sqrt(1.0 - rho * rho)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # h = 0: T(0⁺, c/0⁺) → sign(c)/4 = T(0, sign(c)·∞), hence the infinite argument.
        # (k − ρh)/(h r) written as (k/h − ρ)/r: with a subnormal h, ρh and h r underflow, k/h does not
        arg_h = np.where(h != 0, (k / h - rho) / r, np.sign(k - rho * h) * np.inf)
        arg_k = np.where(k != 0, (h / k - rho) / r, np.sign(h - rho * k) * np.inf)
    beta = np.where(np.where(h == 0, 1.0, np.sign(h)) != np.where(k == 0, 1.0, np.sign(k)), 0.5, 0.0)
    out = 0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(h, np.nan_to_num(arg_h, nan=0.0))
    out = out - owens_t(k, np.nan_to_num(arg_k, nan=0.0)) - beta
    both_zero = (h == 0) & (k == 0)
    return np.where(both_zero, 0.25 + np.arcsin(rho) / (2 * np.pi), out)


def ramp_moment(a: np.ndarray, b: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """F(a, b; ρ) = E[(X − a)₊ (Y − b)₊] for standard normals with correlation ρ ∈ [−1, 1]."""
    a, b, rho = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, rho)))
    inner = np.abs(rho) < 1.0
    rr = np.where(inner, rho, 0.0)
    r = np.sqrt(1.0 - rr * rr)
    beta = (b - rr * a) / r
    alpha = (a - rr * b) / r
    orthant = bivariate_cdf(-a, -b, rr)
    general = (rr + a * b) * orthant - b * _pdf(a) * _sf(beta) - a * _pdf(b) * _sf(alpha) + r * _pdf(a) * _pdf(beta)
    # ρ = 1: ∫_c^∞ (x−a)(x−b) φ(x) dx with c = max(a, b).
    c = np.maximum(a, b)
    same = (1.0 + a * b) * _sf(c) + (c - a - b) * _pdf(c)
    # ρ = −1: ∫_a^{−b} (x−a)(−b−x) φ(x) dx, zero when the interval is empty.
    lo, hi = a, np.maximum(-b, a)
    mass = ndtr(hi) - ndtr(lo)
    opposite = -(lo * _pdf(lo) - hi * _pdf(hi) + mass) + (a - b) * (_pdf(lo) - _pdf(hi)) + a * b * mass
    return np.where(inner, general, np.where(rho > 0, same, opposite))


def _scaled_shifts(f: PiecewiseLinear, q: np.ndarray) -> list[tuple[int, np.ndarray, float]]:
    sq = np.sqrt(q)
    return [(r.sign, r.shift / sq, r.coef) for r in f.ramps]


def cross_moment(f: PiecewiseLinear, q: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """E[φ(u1) φ(u2)], u1, u2 ~ N(0, q) with correlation ρ."""
    q = np.asarray(q, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    ramps = _scaled_shifts(f, q)
    total = 0.0
    for si, ai, ci in ramps:
        for sj, aj, cj in ramps:
            total = total + ci * cj * ramp_moment(ai, aj, si * sj * rho)
    return q * total


def mean_square(f: PiecewiseLinear, q: np.ndarray) -> np.ndarray:
    """E[φ(√q z)²]."""
    return cross_moment(f, q, np.ones_like(np.asarray(q, dtype=np.float64)))


def _intervals(f: PiecewiseLinear, q: np.ndarray):
    """Per piece: (slope, P(√q z in the piece)) for the len(kinks)+1 pieces."""
    q = np.asarray(q, dtype=np.float64)
    k = f.kinks
    z = k[:, None] / np.sqrt(q).reshape(1, -1)
    cdf = np.concatenate([np.zeros((1, z.shape[1])), ndtr(z), np.ones((1, z.shape[1]))])
    return f.slopes(), np.diff(cdf, axis=0).reshape((len(k) + 1, *q.shape))


def mean_square_derivative(f: PiecewiseLinear, q: np.ndarray) -> np.ndarray:
    """E[φ'(√q z)²] = Σ_pieces slope² · P(piece)."""
    slopes, mass = _intervals(f, q)
    return np.tensordot(slopes**2, mass, axes=1)


def _kink_terms(f: PiecewiseLinear, q: np.ndarray):
    """Per kink k: φ(k), the jumps of φ' and of φ'² at k, and the N(0, q) density at k."""
    q = np.asarray(q, dtype=np.float64)
    k = f.kinks
    s = f.slopes()
    jump = s[1:] - s[:-1]
    jump_sq = s[1:] ** 2 - s[:-1] ** 2
    kk = k.reshape((-1,) + (1,) * q.ndim)
    density = _pdf(kk / np.sqrt(q)) / np.sqrt(q)
    return kk, f(k).reshape(kk.shape), jump.reshape(kk.shape), jump_sq.reshape(kk.shape), density


def mean_square_dq(f: PiecewiseLinear, q: np.ndarray) -> np.ndarray:
    """d/dq E[φ(√q z)²] = E[φ'²] + Σ_kinks Δφ'(k) φ(k) p_q(k)."""
    _, value, jump, _, density = _kink_terms(f, q)
    return mean_square_derivative(f, q) + np.sum(jump * value * density, axis=0)


def mean_square_dq2(f: PiecewiseLinear, q: np.ndarray) -> np.ndarray:
    """d²/dq² E[φ(√q z)²] = Σ_kinks [½ Δ(φ'²)(k) k/q + Δφ'(k) φ(k) (k²/q − 1)/(2q)] p_q(k)."""
    q = np.asarray(q, dtype=np.float64)
    k, value, jump, jump_sq, density = _kink_terms(f, q)
    terms = 0.5 * jump_sq * k / q + jump * value * (k * k / q - 1.0) / (2.0 * q)
    return np.sum(terms * density, axis=0)
