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
