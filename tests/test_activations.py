"""Activation modules: SPEC §1 formulas, exact zeros, autograd derivatives, any shape/dtype, the registry."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

import sparseinit
from sparseinit.activations import is_sparsifying

PARAMS = {"relu": {}, "relu_tau": {"tau": 0.8}, "st": {"tau": 0.8}, "crelu": {"tau": 0.8, "m": 1.2},
          "cst": {"tau": 0.8, "m": 1.2}}


def reference(name, x, tau=0.0, m=None):
    """SPEC §1, written independently in numpy."""
    if name in ("relu", "relu_tau"):
        return np.maximum(0.0, x - tau)
    if name == "st":
        return np.sign(x) * np.maximum(0.0, np.abs(x) - tau)
    if name == "crelu":
        return np.minimum(np.maximum(x - tau, 0.0), m)
    return np.sign(x) * np.minimum(np.maximum(np.abs(x) - tau, 0.0), m)


def reference_derivative(name, x, tau=0.0, m=None):
    ax = x if name in ("relu", "relu_tau", "crelu") else np.abs(x)
    on = ax > tau
    if m is not None:
        on &= ax < tau + m
    return on.astype(float)


@pytest.mark.parametrize("name", list(PARAMS))
@settings(max_examples=40, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 64), elements=st.floats(-6, 6)))
def test_forward_matches_spec(name, x):
    mod = sparseinit.activation(name, **PARAMS[name])
    out = mod(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, reference(name, x, **PARAMS[name]), atol=1e-15)
    # the zero set holds exact zeros
    ax = x if name in ("relu", "relu_tau", "crelu") else np.abs(x)
    assert np.all(out[ax <= PARAMS[name].get("tau", 0.0)] == 0.0)


@pytest.mark.parametrize("name", list(PARAMS))
def test_gradient_is_one_on_linear_pieces_zero_elsewhere(name):
    x = torch.linspace(-4, 4, 8001, dtype=torch.float64)
    tau = PARAMS[name].get("tau", 0.0)
    m = PARAMS[name].get("m")
    kinks = [tau] + ([tau + m] if m else [])
    x = x[torch.stack([(x.abs() - k).abs() > 1e-9 for k in kinks]).all(0)]  # derivative undefined at kinks
    x.requires_grad_(True)
    sparseinit.activation(name, **PARAMS[name])(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), reference_derivative(name, x.detach().numpy(), tau, m))


@pytest.mark.parametrize("name", ["relu_tau", "st", "crelu", "cst"])
def test_zero_threshold_is_the_formula_at_tau_0(name):
    """τ = 0 (s = 0.5 for the one-sided ones) takes a branch of its own in each module; it must still be SPEC §1."""
    params = {"tau": 0.0, **({"m": 1.2} if name in ("crelu", "cst") else {})}
    x = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    x = x[(x.abs() > 1e-9) & ((x.abs() - 1.2).abs() > 1e-9)].requires_grad_(True)
    mod = sparseinit.activation(name, **params)
    out = mod(x)
    np.testing.assert_allclose(out.detach().numpy(), reference(name, x.detach().numpy(), **params), atol=1e-15)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), reference_derivative(name, x.detach().numpy(), **params))
    assert (out.detach() != 0).any() and (x.detach() < 0).any()


@pytest.mark.parametrize("name", list(PARAMS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_any_shape_and_dtype(name, dtype):
    mod = sparseinit.activation(name, **PARAMS[name])
    for shape in [(), (7,), (2, 3, 4, 5)]:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
        y = mod(x)
        assert y.shape == x.shape and y.dtype == dtype
        np.testing.assert_allclose(y.double().numpy(), reference(name, x.double().numpy(), **PARAMS[name]),
                                   atol=1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-6)


def test_modules_agree_with_their_theory_form():
    x = np.linspace(-3, 3, 601)
    for name, kw in PARAMS.items():
        mod = sparseinit.activation(name, **kw)
        np.testing.assert_allclose(mod(torch.from_numpy(x)).numpy(), mod.piecewise()(x), atol=1e-15)


def test_classes_repr_and_registry():
    assert isinstance(sparseinit.activation("crelu", 1.0, 2.0), sparseinit.ClippedReLU)
    assert isinstance(sparseinit.activation("st", 0.5), sparseinit.SoftThreshold)
    assert repr(sparseinit.ClippedSoftThreshold(1.5, 0.25)) == "ClippedSoftThreshold(tau=1.5, m=0.25)"
    assert repr(sparseinit.ShiftedReLU(0.3)) == "ShiftedReLU(tau=0.3)"
    assert is_sparsifying(nn.ReLU()) and is_sparsifying(sparseinit.ReLU()) and not is_sparsifying(nn.Tanh())
    # no parameters, nothing to train; usable inside nn.Sequential and scripted by torch.jit? (plain modules)
    assert list(sparseinit.ClippedReLU(1.0, 1.0).parameters()) == []


@pytest.mark.parametrize("args,match", [
    (("gelu",), "unknown activation 'gelu'; choose one of relu, relu_tau, st, crelu, cst"),
    (("crelu", 1.0), "crelu needs the clip m"),
    (("crelu", 1.0, -2.0), r"m must be in \(0, inf\), got -2.0"),
    (("relu_tau", -1.0), r"tau must be in \[0, inf\), got -1.0"),
    (("st", 1.0, 1.0), "st takes no clip m"),
    (("relu_tau", float("nan")), "tau must be in"),
])
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        sparseinit.activation(*args)


def test_works_on_the_default_device_and_keeps_it():
    x = torch.randn(3, 4)
    assert sparseinit.ClippedReLU(0.5, 1.0)(x).device == x.device
