"""Maps, χ1 and fixed points: identities that tie them together, and the instability of [A] §3."""

import numpy as np
import pytest

from sparseinit import theory
from sparseinit.theory import PiecewiseLinear


def eoc_variances(f, q=1.0):
    sw = 1.0 / theory.mean_square_derivative(f, q)
    return sw, q - sw * theory.mean_square(f, q)


@pytest.mark.parametrize("name,tau,m", [("relu_tau", 1.0, None), ("crelu", 1.0, 1.0), ("cst", 1.4, 0.7)])
def test_correlation_map_identities(name, tau, m):
    f = PiecewiseLinear.from_name(name, tau, m)
    sw, sb = eoc_variances(f)
    assert theory.correlation_map(f, 1.0, sw, sb) == pytest.approx(1.0, abs=1e-13)
    # χ1 = R'(1): one-sided differences of the exact correlation map at ρ = 1. R has a (1−ρ)^{3/2} term for
    # kinked φ, so the difference quotient D(h) = χ1 + c√h + O(h): Richardson in √h removes c.
    def quotient(h):
        return (1.0 - theory.correlation_map(f, 1 - h, sw, sb)) / h

    slope = 2 * quotient(2.5e-7) - quotient(1e-6)
    assert slope == pytest.approx(float(theory.chi1(f, 1.0, sw)), rel=1e-4)
    # R is increasing on [−1, 1] and ρ = 1 is its fixed point.
    r = theory.correlation_map(f, np.linspace(-1, 1, 41), sw, sb)
    assert np.all(np.diff(r) > 0)


def test_variance_map_derivatives_match_finite_differences():
    f = PiecewiseLinear.from_name("cst", 0.9, 0.8)
    q, h = 1.7, 1e-4
    v = lambda x: theory.variance_map(f, x, 3.0, 0.2)  # noqa: E731
    assert theory.variance_map_slope(f, q, 3.0) == pytest.approx((v(q + h) - v(q - h)) / (2 * h), rel=1e-7)
    assert theory.variance_map_curvature(f, q, 3.0) == pytest.approx((v(q + h) - 2 * v(q) + v(q - h)) / h**2, rel=1e-4)


def test_fixed_points_show_the_instability_of_unclipped_activations():
    relu_tau = PiecewiseLinear.from_name("relu_tau", 1.03643)
    (fp,) = theory.fixed_points(relu_tau, *eoc_variances(relu_tau))
    assert fp.q == pytest.approx(1.0, rel=1e-6)
    assert fp.stability == "stable from below" and fp.curvature > 0
    crelu = PiecewiseLinear.from_name("crelu", 1.03643, 1.0)
    (fp,) = theory.fixed_points(crelu, *eoc_variances(crelu))
    assert fp.q == pytest.approx(1.0, rel=1e-10) and fp.stability == "stable"


def test_fixed_points_finds_several_and_classifies_them():
    # Off the EoC, a shifted ReLU with σ_w² = 4 has a stable small fixed point and an unstable large one.
    f = PiecewiseLinear.from_name("relu_tau", 1.0)
    points = theory.fixed_points(f, 4.0, 0.1)
    assert [p.stability for p in points] == ["stable", "unstable"]
    for p in points:
        assert theory.variance_map(f, p.q, 4.0, 0.1) == pytest.approx(p.q, rel=1e-10)


def test_propagate_variance_iterates_the_map_and_marks_explosion():
    f = PiecewiseLinear.from_name("relu_tau", 1.0)
    # Fixed points 0.1000 (stable) and 5.8147 (unstable): started at 8 it runs away, at 2 it settles.
    qs = theory.propagate_variance(f, 8.0, 5, 4.0, 0.1)
    assert qs[1] == pytest.approx(float(theory.variance_map(f, 8.0, 4.0, 0.1)))
    assert np.all(np.diff(qs) > 0)
    assert np.isinf(theory.propagate_variance(f, 8.0, 2000, 4.0, 0.1)[-1])
    assert theory.propagate_variance(f, 2.0, 50, 4.0, 0.1)[-1] == pytest.approx(points_small(f), rel=1e-9)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_q_is_a_value_error_not_a_nan(bad):
    f = PiecewiseLinear.from_name("crelu", 1.0, 1.0)
    with pytest.raises(ValueError, match="q must be in"):
        theory.variance_map(f, [1.0, bad], 2.0, 0.1)


@pytest.mark.parametrize("call,match", [
    (lambda f: theory.chi1(f, 1.0, -1.0), r"sigma_w2 must be in \(0, inf\), got -1.0"),
    (lambda f: theory.chi1(f, 1.0, np.nan), r"sigma_w2 must be in \(0, inf\)"),
    (lambda f: theory.variance_map(f, 1.0, 1.0, -5.0), r"sigma_b2 must be in \[0, inf\), got -5.0"),
    (lambda f: theory.variance_map_slope(f, 1.0, 0.0), r"sigma_w2 must be in"),
    (lambda f: theory.variance_map_curvature(f, 1.0, np.inf), r"sigma_w2 must be in"),
    (lambda f: theory.correlation_map(f, 0.5, 2.0, -0.1), r"sigma_b2 must be in"),
    (lambda f: theory.propagate_variance(f, 2.0, -1, 2.0, 0.1), r"depth must be a whole number >= 0, got -1"),
    (lambda f: theory.propagate_variance(f, 2.0, 2.5, 2.0, 0.1), r"depth must be a whole number >= 0, got 2.5"),
    (lambda f: theory.propagate_variance(f, -2.0, 3, 2.0, 0.1), r"q0 must be in \(0, inf\)"),
    (lambda f: theory.propagate_variance(f, [1.0, 2.0], 3, 2.0, 0.1), r"q0 must be one number"),
    (lambda f: theory.propagate_variance(f, 2.0, float("inf"), 2.0, 0.1), r"depth must be a whole number"),
    (lambda f: theory.propagate_variance(f, 2.0, float("nan"), 2.0, 0.1), r"depth must be a whole number"),
    (lambda f: theory.propagate_correlation(f, "0.5", 3, 2.0, 0.1), r"rho0 must be a number"),
    (lambda f: theory.propagate_correlation(f, 0.5, 0, -1.0, 0.1), r"sigma_w2 must be in"),
    (lambda f: theory.propagate_correlation(f, 0.5, 0, 2.0, 0.1, q=0.0), r"q must be in"),
])
def test_bad_variances_and_depths_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(PiecewiseLinear.from_name("crelu", 1.0, 1.0))


def test_numpy_scalars_are_accepted_where_python_numbers_are():
    f = PiecewiseLinear.from_name("crelu", 1.0, 1.0)
    plain = theory.propagate_variance(f, 2.0, 5, 2.0, 0.1)
    assert np.array_equal(theory.propagate_variance(f, np.float32(2.0), np.float32(5.0), np.int64(2), 0.1), plain)
    assert np.array_equal(theory.propagate_correlation(f, np.float64(0.5), np.int32(3), 2.0, 0.0),
                          theory.propagate_correlation(f, 0.5, 3, 2.0, 0.0))


def test_bad_rho_is_a_value_error():
    f = PiecewiseLinear.from_name("crelu", 1.0, 1.0)
    with pytest.raises(ValueError, match="rho must be in"):
        theory.correlation_map(f, 1.2, 2.0, 0.1)


def test_classify():
    assert theory.classify(0.5, 1.0) == "stable"
    assert theory.classify(1.2, 0.0) == "unstable"
    assert theory.classify(1.0, -0.3) == "stable from above"
    assert theory.classify(1.0, 0.0) == "marginal"


def points_small(f):
    return theory.fixed_points(f, 4.0, 0.1)[0].q


def arc_cosine(rho):
    """The ReLU correlation map at σ_w² = 2, σ_b² = 0 (Cho & Saul's arc-cosine kernel of degree 1)."""
    return (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / np.pi


def test_propagate_correlation_matches_the_iterated_arc_cosine_kernel():
    relu = PiecewiseLinear.from_name("relu_tau", 0.0)
    rhos = theory.propagate_correlation(relu, 0.3, 60, 2.0, 0.0)
    expected = [0.3]
    for _ in range(60):
        expected.append(arc_cosine(expected[-1]))
    np.testing.assert_allclose(rhos, expected, rtol=1e-12, atol=1e-14)
    # EoC: polynomial, not exponential, approach to 1: 1 − ρ^l ≈ 4/(c² l²), c = 2√2/(3π), i.e. 9π²/(2 l²).
    long = theory.propagate_correlation(relu, 0.3, 4000, 2.0, 0.0)
    assert 4000**2 * (1 - long[-1]) == pytest.approx(9 * np.pi**2 / 2, rel=0.05)


def test_propagate_correlation_keeps_identical_inputs_identical_and_checks_input():
    f = PiecewiseLinear.from_name("crelu", 1.03643, 1.0)
    sw, sb = eoc_variances(f)
    assert np.all(theory.propagate_correlation(f, 1.0, 20, sw, sb) == 1.0)
    rhos = theory.propagate_correlation(f, -0.5, 20, sw, sb)
    assert np.all(np.diff(rhos) > 0) and rhos[-1] < 1
    with pytest.raises(ValueError, match="rho0 must be in"):
        theory.propagate_correlation(f, 1.5, 3, sw, sb)
    with pytest.raises(ValueError, match="depth must be"):
        theory.propagate_correlation(f, 0.5, -1, sw, sb)



@pytest.mark.parametrize("name,tau,m", [("crelu", 1.0, 1.0), ("cst", 1.4, 0.7), ("relu_tau", 0.5, None)])
def test_correlation_map_off_the_fixed_point_against_monte_carlo(name, tau, m):
    """R(ρ) at a variance q that is not a fixed point: the numerator over V(q), not over q (SPEC §2)."""
    f = PiecewiseLinear.from_name(name, tau, m)
    sw, sb, q, rho = 2.1, 0.3, 2.3, 0.4
    z = np.random.default_rng(0).standard_normal((2, 4_000_000))
    u1, u2 = np.sqrt(q) * z[0], np.sqrt(q) * (rho * z[0] + np.sqrt(1 - rho**2) * z[1])
    numerator = sw * f(u1) * f(u2) + sb
    square = sw * f(u1) ** 2 + sb
    # ratio of means, and its standard error by the delta method
    r = numerator.mean() / square.mean()
    se = np.std(numerator - r * square) / np.sqrt(z.shape[1]) / square.mean()
    exact = float(theory.correlation_map(f, rho, sw, sb, q=q))
    assert abs(exact - r) < 5 * se
    v = float(theory.variance_map(f, q, sw, sb))
    assert abs(numerator.mean() / q - r) > 50 * se and abs(v - q) > 0.1  # dividing by q would be caught


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"q_min": 10.0, "q_max": 1.0}, r"^q_max must be in \(10, inf\), got 1"),
    ({"q_min": -1.0}, r"^q_min must be in \(0, inf\), got -1"),
    ({"grid": 2.5}, r"^grid must be an integer >= 3, got 2\.5"),
    ({"grid": 1}, r"^grid must be an integer >= 3, got 1"),  # was an empty list
])
def test_fixed_point_search_range_is_checked(kwargs, match):
    relu = PiecewiseLinear.from_name("relu")
    with pytest.raises(ValueError, match=match):
        theory.fixed_points(relu, 2.0, 0.1, **kwargs)


def test_classify_labels_and_bad_input():
    assert [theory.classify(*args) for args in ((0.5, 0.0), (1.5, 0.0), (1.0, 0.3), (1.0, -0.3), (1.0, 0.0))] == [
        "stable", "unstable", "stable from below", "stable from above", "marginal"]
    assert "marginal" in theory.FixedPoint.__doc__
    with pytest.raises(ValueError, match=r"^slope must be a number, got 'a'"):
        theory.classify("a", 0.0)
    with pytest.raises(ValueError, match=r"^q must be a number or an array of numbers in \(0, inf\), got 'a'"):
        theory.mean_square(PiecewiseLinear.from_name("relu"), "a")
