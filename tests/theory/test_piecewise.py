"""The ramp decomposition equals SPEC §1's formulas; thresholds give the asked sparsity; bad input errors."""

import numpy as np
import pytest
from scipy.stats import norm

from sparseinit.theory import PiecewiseLinear, threshold_for_sparsity

X = np.linspace(-5, 5, 2001)


@pytest.mark.parametrize("tau,m", [(0.0, 1.0), (0.7, 0.4), (1.5, 3.0)])
def test_ramps_equal_the_formulas(tau, m):
    ref = {
        "relu_tau": np.maximum(0, X - tau),
        "st": np.sign(X) * np.maximum(0, np.abs(X) - tau),
        "crelu": np.minimum(np.maximum(X - tau, 0), m),
        "cst": np.sign(X) * np.minimum(np.maximum(np.abs(X) - tau, 0), m),
    }
    for name, expected in ref.items():
        f = PiecewiseLinear.from_name(name, tau, m if name in ("crelu", "cst") else None)
        np.testing.assert_allclose(f(X), expected, atol=1e-15)
        slope = np.gradient(expected, X)
        away = np.min(np.abs(X[:, None] - f.kinks[None, :]), axis=1) > 0.01
        np.testing.assert_allclose(f.derivative(X)[away], slope[away], atol=1e-9)


@pytest.mark.parametrize("name", ["relu_tau", "st", "crelu", "cst"])
@pytest.mark.parametrize("s", [0.5, 0.85, 0.9])
def test_threshold_gives_the_sparsity(name, s):
    q = 2.3
    tau = threshold_for_sparsity(name, s, q)
    f = PiecewiseLinear.from_name(name, tau, 1.0 if name in ("crelu", "cst") else None)
    z = norm.ppf(np.linspace(0.5 / 20000, 1 - 0.5 / 20000, 20000))
    assert np.mean(f(np.sqrt(q) * z) == 0) == pytest.approx(s, abs=1e-4)
    assert f.zero_fraction(q) == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "gelu"}, "unknown activation 'gelu'"),
    ({"name": "relu_tau", "tau": -0.1}, r"tau must be in \[0, inf\)"),
    ({"name": "crelu", "tau": 1.0}, "needs the clip m"),
    ({"name": "crelu", "tau": 1.0, "m": 0.0}, r"m must be in \(0, inf\)"),
    ({"name": "st", "tau": 1.0, "m": 1.0}, "takes no clip m"),
    ({"name": "relu", "tau": 0.5}, "relu has no threshold"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PiecewiseLinear.from_name(**kwargs)


@pytest.mark.parametrize(("args", "match"), [
    (("crelu", 0.8, -1.0), r"^q must be in \(0, inf\), got -1"),
    (("crelu", 0.8, "a"), r"^q must be a number"),
    (("crelu", 0.3), r"^sparsity for crelu must be in \[0\.5, 1\) \(τ ≥ 0\), got 0\.3"),  # τ would be -0.52
    (("relu_tau", 0.49), r"^sparsity for relu_tau must be in \[0\.5, 1\)"),
    (("relu", 0.8), r"^unknown activation 'relu'; choose one of relu_tau, st, crelu, cst"),  # τ = 0 at any s
])
def test_threshold_for_sparsity_refuses_what_has_no_threshold(args, match):
    with pytest.raises(ValueError, match=match):
        threshold_for_sparsity(*args)


def test_odd_activations_take_any_sparsity_and_even_ones_reach_zero():
    # st / cst zero a band around 0: any s in (0, 1) has τ >= 0; relu_tau / crelu at s = 0.5 have τ = 0
    assert threshold_for_sparsity("st", 0.3, 4.0) == pytest.approx(2.0 * norm.ppf(0.65), rel=1e-12)
    assert threshold_for_sparsity("crelu", 0.5) == 0.0
