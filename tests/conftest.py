"""Shared fixtures: high-precision references computed with mpmath, independently of the library's formulas."""

from __future__ import annotations

import mpmath as mp
import pytest

mp.mp.dps = 30


def _phi_mp(name: str, tau: float, m: float | None):
    tau = mp.mpf(tau)
    m = None if m is None else mp.mpf(m)

    def relu_like(x):
        y = max(x - tau, 0)
        return y if m is None else min(y, m)

    if name in ("relu", "relu_tau", "crelu"):
        return relu_like
    return lambda x: mp.sign(x) * relu_like(abs(x))


def _kinks(tau: float, m: float | None, odd: bool) -> list:
    ks = [tau] + ([tau + m] if m is not None else [])
    if odd:
        ks += [-k for k in ks]
    return sorted({mp.mpf(k) for k in ks})


class Reference:
    """mpmath quadrature of E[g(√q z)] on the pieces cut by the kinks (the SPEC's 'independent adaptive
    quadrature'), plus the partial Gaussian expectation E[(μ + σZ − α)₊] for correlation references."""

    def __init__(self, name: str, tau: float, m: float | None):
        self.phi = _phi_mp(name, tau, m)
        self.kinks = _kinks(tau, m, name in ("st", "cst"))

    def expect(self, g, q: float):
        q = mp.mpf(q)
        dens = lambda x: mp.exp(-x * x / (2 * q)) / mp.sqrt(2 * mp.pi * q)  # noqa: E731
        pts = [-mp.inf, *self.kinks, mp.inf]
        return mp.quad(lambda x: g(x) * dens(x), pts)

    def mean_square(self, q):
        return self.expect(lambda x: self.phi(x) ** 2, q)

    def mean_square_dq(self, q):
        q = mp.mpf(q)
        return self.expect(lambda x: self.phi(x) ** 2 * (x * x - q) / (2 * q * q), q)

    def mean_square_dq2(self, q):
        q = mp.mpf(q)

        def w(x):
            d1 = (x * x - q) / (2 * q * q)
            return d1 * d1 - x * x / q**3 + 1 / (2 * q * q)

        return self.expect(lambda x: self.phi(x) ** 2 * w(x), q)

    def cross(self, q, rho):
        """E[φ(u1)φ(u2)]: outer quadrature over u1, inner E[φ(ρu1 + σY)] exact for a sum of ramps."""
        q, rho = mp.mpf(q), mp.mpf(rho)
        sd = mp.sqrt(q * (1 - rho * rho))

        def ramp_mean(mu, alpha, sign):  # E[(sign·(mu + sd·Y) − alpha)₊]
            d = sign * mu - alpha
            return d * mp.ncdf(d / sd) + sd * mp.npdf(d / sd)

        def inner(x):
            mu = rho * x
            total = 0
            for sign, alpha, coef in self.ramps:
                total += coef * ramp_mean(mu, alpha, sign)
            return total

        return self.expect(lambda x: self.phi(x) * inner(x), q)


@pytest.fixture
def reference():
    def make(name: str, tau: float, m: float | None = None) -> Reference:
        ref = Reference(name, tau, m)
        base = [(1, mp.mpf(tau), 1)] + ([(1, mp.mpf(tau) + m, -1)] if m is not None else [])
        if name in ("st", "cst"):
            base += [(-s, a, -c) for s, a, c in base]
        ref.ramps = base
        return ref

    return make
