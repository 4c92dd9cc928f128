"""DCTpS layers: α·D at initialisation, y = αDx + (S⊙M)x + b, the conv offset is the per-patch DCT (unfold)."""

import io

import numpy as np
import pytest
import scipy.fft
import torch
import torch.nn.functional as F

from sparseinit.layers import DCTpSConv2d, DCTpSLinear, SparseLinear


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def scipy_dct(n_out, n_in):
    n = max(n_out, n_in)
    return torch.from_numpy(scipy.fft.dct(np.eye(n), norm="ortho", axis=0)[:n_out, :n_in].copy())


@pytest.mark.parametrize(("n_in", "n_out"), [(7, 4), (4, 7), (5, 5)])
def test_linear_at_init_is_alpha_d(n_in, n_out):
    layer = DCTpSLinear(n_in, n_out, density=0.3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert layer.alpha.item() == 1.0 and not layer.weight.any() and not layer.bias.any()
    x = torch.randn(6, n_in, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ scipy_dct(n_out, n_in).T, atol=1e-12, rtol=0)


def test_linear_formula_and_gradients():
    torch.manual_seed(1)
    layer = DCTpSLinear(6, 9, density=0.25, dtype=torch.float64)
    with torch.no_grad():
        layer.alpha.fill_(-1.7)
        layer.weight.copy_(torch.randn(9, 6, dtype=torch.float64) * layer.mask)
        layer.bias.normal_()
    x = torch.randn(5, 6, dtype=torch.float64)
    s = layer.weight.detach() * layer.mask
    expected = -1.7 * x @ scipy_dct(9, 6).T + x @ s.T + layer.bias.detach()
    y = layer(x)
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=0)
    y.square().sum().backward()
    # the same loss through the formula in plain torch, with α and S as leaves: the layer's gradients are theirs
    a = torch.tensor(-1.7, dtype=torch.float64, requires_grad=True)
    leaf = s.clone().requires_grad_()
    mask = layer.mask.to(torch.float64)
    (a * x @ scipy_dct(9, 6).T + x @ (leaf * mask).T + layer.bias.detach()).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, leaf.grad * mask, atol=1e-10, rtol=0)
    torch.testing.assert_close(layer.alpha.grad, a.grad, atol=1e-10, rtol=0)
    assert not layer.weight.grad[~layer.mask].any() and layer.weight.grad[layer.mask].abs().min() > 0


def test_alpha_can_be_frozen():
    layer = DCTpSLinear(3, 3, alpha_trainable=False)
    assert not layer.alpha.requires_grad


def test_d_is_not_stored():
    layer = DCTpSLinear(20, 10, density=0.1)
    assert set(layer.state_dict()) == {"weight", "bias", "alpha", "mask"}
    assert {name for name, _ in layer.named_parameters()} == {"weight", "bias", "alpha"}
    conv = DCTpSConv2d(4, 8, 3, density=0.1)
    assert set(conv.state_dict()) == {"weight", "alpha", "mask"}  # convolutions have no bias by default

    def size(module):
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        return len(buffer.getvalue())

    plain = SparseLinear(20, 10, density=0.1)
    assert size(layer) - size(plain) < 600  # α and its key only: no 10x20 D


def unfold_dct(x, d, kernel_size, stride, padding, dilation, groups):
    """Every output pixel = D · (its patch flattened channel-fastest), computed group by group with F.unfold."""
    b, c_in, _, _ = x.shape
    cg = c_in // groups
    kh, kw = kernel_size
    c_out = d.shape[0]
    og = c_out // groups
    outs = []
    for g in range(groups):
        cols = F.unfold(x[:, g * cg:(g + 1) * cg], kernel_size, dilation=dilation, padding=padding, stride=stride)
        length = cols.shape[-1]
        cols = cols.view(b, cg, kh, kw, length).permute(0, 2, 3, 1, 4).reshape(b, kh * kw * cg, length)
        outs.append(torch.einsum("op,bpl->bol", d[g * og:(g + 1) * og], cols))
    return torch.cat(outs, 1)


CONV_CASES = [
    dict(c_in=3, c_out=5, k=(3, 3), stride=1, padding=0, dilation=1, groups=1),
    dict(c_in=2, c_out=40, k=(3, 3), stride=2, padding=1, dilation=1, groups=1),  # C_out > patch: zero-padded DCT
    dict(c_in=4, c_out=6, k=(3, 2), stride=(2, 1), padding=(1, 2), dilation=2, groups=2),
    dict(c_in=6, c_out=6, k=(3, 3), stride=1, padding=1, dilation=1, groups=6),  # depthwise
    dict(c_in=8, c_out=4, k=(1, 1), stride=2, padding=0, dilation=1, groups=1),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_offset_is_per_patch_dct(case):
    k = case["k"]
    conv = DCTpSConv2d(case["c_in"], case["c_out"], k, case["stride"], case["padding"], case["dilation"],
                       case["groups"], density=0.2, dtype=torch.float64)
    x = torch.randn(2, case["c_in"], 9, 10, dtype=torch.float64)
    d = scipy_dct(case["c_out"], case["c_in"] // case["groups"] * k[0] * k[1])
    y = conv(x)
    ref = unfold_dct(x, d, k, case["stride"], case["padding"], case["dilation"], case["groups"])
    torch.testing.assert_close(y.flatten(2), ref, atol=1e-12, rtol=0)


def test_conv_with_sparse_part_bias_and_same_padding():
    torch.manual_seed(2)
    conv = DCTpSConv2d(3, 4, 3, padding="same", bias=True, density=0.3, dtype=torch.float64)
    with torch.no_grad():
        conv.alpha.fill_(0.5)
        conv.weight.copy_(torch.randn_like(conv.weight) * conv.mask)
        conv.bias.normal_()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    d = scipy_dct(4, 27)
    sparse = F.conv2d(x, conv.weight.detach() * conv.mask, conv.bias.detach(), padding=1)
    ref = 0.5 * unfold_dct(x, d, (3, 3), 1, 1, 1, 1).view(2, 4, 6, 6) + sparse
    torch.testing.assert_close(conv(x), ref, atol=1e-12, rtol=0)


def test_dtype_conversion_regenerates_d():
    layer = DCTpSLinear(5, 3, density=0.5)
    x = torch.randn(2, 5, dtype=torch.float64)
    torch.testing.assert_close(layer.double()(x), x @ scipy_dct(3, 5).T, atol=1e-12, rtol=0)


def test_from_dense_starts_at_zero_and_keeps_bias():
    dense = torch.nn.Linear(4, 3)
    layer = DCTpSLinear.from_dense(dense)
    assert not layer.weight.any() and torch.equal(layer.bias, dense.bias) and layer.density == 1.0
    kept = DCTpSLinear.from_dense(dense, keep_weight=True)
    assert torch.equal(kept.weight, dense.weight)


def test_alpha_must_be_a_finite_number():
    from sparseinit.layers import CompactDCTpSLinear

    for bad, match in (("a", "alpha must be a number"), (float("nan"), r"alpha must be in \(-inf, inf\)")):
        for build in (lambda a: DCTpSLinear(4, 4, alpha=a), lambda a: DCTpSConv2d(2, 2, 3, alpha=a),
                      lambda a: CompactDCTpSLinear(4, 4, [0, 5], alpha=a)):
            with pytest.raises(ValueError, match=match):
                build(bad)
