"""Closed forms against mpmath quadrature (1e-9 relative), scipy's bivariate normal, and SPEC §2's formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from sparseinit.theory import PiecewiseLinear, closed_form

CASES = [("relu", 0.0, None), ("relu_tau", 1.03643, None), ("st", 1.43953, None), ("crelu", 1.03643, 1.0),
         ("cst", 1.43953, 1.0), ("crelu", 0.3, 0.2), ("cst", 0.0, 2.5), ("st", 0.0, None)]
QS = [0.2, 1.0, 3.7]


def rel(a, b):
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


@pytest.mark.parametrize("name,tau,m", CASES)
def test_moments_match_high_precision_quadrature(name, tau, m, reference):
    f = PiecewiseLinear.from_name(name, tau, m)
    ref = reference(name, tau, m)
    for q in QS:
        assert rel(closed_form.mean_square(f, q), ref.mean_square(q)) < 1e-9
        assert rel(closed_form.mean_square_dq(f, q), ref.mean_square_dq(q)) < 1e-9
        dq2 = ref.mean_square_dq2(q)
        assert abs(closed_form.mean_square_dq2(f, q) - float(dq2)) < 1e-9 * max(abs(float(dq2)), 1e-3)


@pytest.mark.parametrize("name,tau,m", CASES)
@pytest.mark.parametrize("rho", [-0.95, -0.3, 0.0, 0.5, 0.9, 0.999])
def test_cross_moment_matches_high_precision_quadrature(name, tau, m, rho, reference):
    f = PiecewiseLinear.from_name(name, tau, m)
    ref = reference(name, tau, m)
    expected = float(ref.cross(1.3, rho))
    assert abs(closed_form.cross_moment(f, 1.3, rho) - expected) < 1e-9 * max(abs(expected), 1e-2)


def test_spec_closed_forms_for_crelu_and_relu_tau():
    """SPEC §2 writes E[φ²], E[φ'²] and V'/σ_w² of CReLU out by hand: the ramp machinery must agree."""
    tau, m = 0.8, 1.3
    q = np.array([0.3, 1.0, 2.5])
    a, b = tau / np.sqrt(q), (tau + m) / np.sqrt(q)
    pdf = lambda x: np.exp(-x * x / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    e2 = q * ((1 + a * a) * (ndtr(b) - ndtr(a)) - a * pdf(a) + (2 * a - b) * pdf(b)) + m * m * ndtr(-b)
    f = PiecewiseLinear.from_name("crelu", tau, m)
    np.testing.assert_allclose(closed_form.mean_square(f, q), e2, rtol=1e-12)
    np.testing.assert_allclose(closed_form.mean_square_derivative(f, q), ndtr(b) - ndtr(a), rtol=1e-12)
    np.testing.assert_allclose(closed_form.mean_square_dq(f, q), ndtr(b) - ndtr(a) - (b - a) * pdf(b), rtol=1e-12)
    g = PiecewiseLinear.from_name("relu_tau", tau)
    np.testing.assert_allclose(closed_form.mean_square(g, q), (q + tau**2) * ndtr(-a) - tau * np.sqrt(q) * pdf(a),
                               rtol=1e-12)
    # ST / CST are exactly twice their one-sided versions (odd symmetry).
    np.testing.assert_allclose(closed_form.mean_square(PiecewiseLinear.from_name("cst", tau, m), q), 2 * e2, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(h=st.floats(-3, 3), k=st.floats(-3, 3), rho=st.floats(-0.98, 0.98))
def test_bivariate_cdf_matches_scipy(h, k, rho):
    ref = multivariate_normal(cov=[[1, rho], [rho, 1]], abseps=1e-12, releps=1e-12).cdf([h, k])
    assert closed_form.bivariate_cdf(h, k, rho) == pytest.approx(ref, abs=1e-9)


def test_bivariate_cdf_at_a_subnormal_threshold_is_its_limit():
    # found by hypothesis: k = 5e-324 underflowed ρk and k·r, which dropped Owen's T term of k
    for tiny in (5e-324, -5e-324, 1e-310):
        assert closed_form.bivariate_cdf(0.0, tiny, 0.5) == pytest.approx(1 / 3, abs=1e-12)
        assert closed_form.bivariate_cdf(tiny, 0.0, -0.5) == pytest.approx(1 / 6, abs=1e-12)


@pytest.mark.parametrize("h,k", [(0.0, 0.7), (0.7, 0.0), (0.0, -0.7), (-0.7, 0.0), (0.0, 0.0)])
def test_bivariate_cdf_on_the_axes(h, k):
    rho = 0.35
    ref = multivariate_normal(cov=[[1, rho], [rho, 1]], abseps=1e-12, releps=1e-12).cdf([h, k])
    assert closed_form.bivariate_cdf(h, k, rho) == pytest.approx(ref, abs=1e-9)


def test_ramp_moment_is_continuous_at_perfect_correlation():
    for a, b in [(0.3, 0.5), (-0.4, 0.2), (0.0, 0.0)]:
        assert closed_form.ramp_moment(a, b, 1.0) == pytest.approx(closed_form.ramp_moment(a, b, 1 - 1e-10), abs=1e-7)
        assert closed_form.ramp_moment(a, b, -1.0) == pytest.approx(closed_form.ramp_moment(a, b, -1 + 1e-10), abs=1e-7)


def test_vectorised_over_q_and_rho():
    f = PiecewiseLinear.from_name("cst", 0.7, 1.1)
    q = np.array([[0.5], [1.0], [2.0]])
    rho = np.array([-0.5, 0.1, 0.8, 1.0])
    out = closed_form.cross_moment(f, q, rho)
    assert out.shape == (3, 4)
    assert out[1, 2] == pytest.approx(float(closed_form.cross_moment(f, 1.0, 0.8)), rel=1e-14)
    np.testing.assert_allclose(out[:, 3], closed_form.mean_square(f, q[:, 0]), rtol=1e-13)
