"""The numerical path for user-supplied activations: agrees with the closed forms to 1e-7 on the built-ins,
and with mpmath on a smooth activation the library has no closed form for."""

import mpmath as mp
import numpy as np
import pytest

from sparseinit import theory
from sparseinit.theory import Elementwise, PiecewiseLinear

BUILT_INS = [("relu", 0.0, None), ("relu_tau", 1.03643, None), ("st", 1.43953, None), ("crelu", 1.03643, 1.0),
             ("cst", 1.43953, 1.0)]


@pytest.mark.parametrize("name,tau,m", BUILT_INS)
def test_numerical_path_agrees_with_closed_forms(name, tau, m):
    exact = PiecewiseLinear.from_name(name, tau, m)
    numeric = Elementwise(lambda x: exact(x), kinks=tuple(exact.kinks))  # no derivative: finite differences
    sw, sb, q = 6.5, 0.4, np.array([0.5, 1.0, 2.0])
    for fn in (theory.mean_square, theory.mean_square_derivative):
        np.testing.assert_allclose(fn(numeric, q), fn(exact, q), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(theory.variance_map_slope(numeric, q, sw), theory.variance_map_slope(exact, q, sw),
                               rtol=1e-7)
    np.testing.assert_allclose(theory.variance_map_curvature(numeric, q, sw),
                               theory.variance_map_curvature(exact, q, sw), rtol=1e-7, atol=1e-9)
    rho = np.array([-0.6, 0.3, 0.9])
    np.testing.assert_allclose(theory.correlation_map(numeric, rho, sw, sb, 1.0),
                               theory.correlation_map(exact, rho, sw, sb, 1.0), rtol=1e-7)


def test_plain_callable_and_user_derivative():
    numeric = Elementwise(np.tanh, derivative=lambda x: 1 - np.tanh(x) ** 2)
    with mp.workdps(25):
        e2 = mp.quad(lambda x: mp.tanh(x) ** 2 * mp.npdf(x, 0, mp.sqrt(2)), [-mp.inf, 0, mp.inf])
        ed = mp.quad(lambda x: mp.sech(x) ** 4 * mp.npdf(x, 0, mp.sqrt(2)), [-mp.inf, 0, mp.inf])
    assert theory.mean_square(np.tanh, 2.0) == pytest.approx(float(e2), rel=1e-9)
    assert theory.mean_square_derivative(numeric, 2.0) == pytest.approx(float(ed), rel=1e-9)
    # Edge of chaos of tanh with σ_b² = 0 is σ_w² = 1 at q → 0, where χ1 → 1.
    assert theory.chi1(numeric, 1e-6, 1.0) == pytest.approx(1.0, abs=1e-5)


def test_rejects_what_is_not_an_activation():
    with pytest.raises(TypeError, match="phi must be"):
        theory.mean_square(3.0, 1.0)
