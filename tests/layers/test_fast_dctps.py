"""The fast DCTpS forward (FFT + CSR) equals the dense-kernel one, values and gradients; the path choice."""

import pytest
import torch

from sparseinit.layers import DCTpSConv2d, DCTpSLinear
from sparseinit.layers.fast_dctps import dctps_path, predicted_seconds
from sparseinit.pruning import RigL  # noqa: F401  (the package still imports with the fast path)

F64 = torch.float64


def _pair(make, x):
    """(dense-path layer, fast-path layer) with the same random S, α, b; their outputs and gradients."""
    dense, fast = make("dense"), make("fast")
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        dense.weight.copy_(torch.randn(dense.weight.shape, generator=g, dtype=F64).to(dense.weight.dtype)
                           * dense.mask)
        dense.alpha.fill_(0.7)
        if dense.bias is not None:
            dense.bias.normal_(generator=g)
    fast.load_state_dict(dense.state_dict())
    out = []
    for layer in (dense, fast):
        xi = x.clone().requires_grad_()
        y = layer(xi)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        out.append((y, xi.grad, layer.weight.grad, layer.alpha.grad))
    return dense, fast, out


def _assert_same(out, tol):
    for a, b in zip(*out, strict=True):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.mark.parametrize(("n_in", "n_out"), [(7, 4), (4, 7), (33, 33), (300, 100), (1, 5)])
@pytest.mark.parametrize(("dtype", "tol"), [(F64, 1e-12), (torch.float32, 1e-5)])
def test_linear_fast_equals_dense(n_in, n_out, dtype, tol):
    x = torch.randn(2, 3, n_in, dtype=dtype)
    _, fast, out = _pair(lambda p: DCTpSLinear(n_in, n_out, density=0.2, path=p, dtype=dtype), x)
    _assert_same(out, tol)
    assert not fast.weight.grad[~fast.mask].any()


CONVS = [
    {"in_channels": 3, "out_channels": 8, "kernel_size": 3},
    {"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2), "stride": 2, "padding": 1, "dilation": (1, 2)},
    {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "groups": 2, "padding": 1},
    {"in_channels": 6, "out_channels": 3, "kernel_size": 1, "groups": 3, "bias": True},
    {"in_channels": 16, "out_channels": 200, "kernel_size": 3, "padding": (1, 0)},
]


@pytest.mark.parametrize("kw", CONVS)
def test_conv_fast_equals_dense(kw):
    x = torch.randn(2, kw["in_channels"], 7, 9, dtype=F64)
    _, fast, out = _pair(lambda p: DCTpSConv2d(**kw, density=0.3, path=p, dtype=F64), x)
    _assert_same(out, 1e-11)
    assert not fast.weight.grad[~fast.mask].any()


def test_conv_string_padding_falls_back_to_dense():
    x = torch.randn(1, 2, 5, 5, dtype=F64)
    _, _, out = _pair(lambda p: DCTpSConv2d(2, 4, 3, padding="same", density=0.5, path=p, dtype=F64), x)
    _assert_same(out, 1e-12)


def test_support_change_rebuilds_the_structure():
    layer = DCTpSLinear(12, 10, density=0.3, path="fast", dtype=F64)
    x = torch.randn(4, 12, dtype=F64)
    layer(x)
    new_mask = torch.rand(10, 12, generator=torch.Generator().manual_seed(1)) < 0.5
    layer.set_mask_(new_mask)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(10, 12, dtype=F64) * layer.mask)
    layer.path = "dense"
    expected = layer(x)
    layer.path = "fast"
    torch.testing.assert_close(layer(x), expected, atol=1e-12, rtol=0)


def test_capture_dense_grad_uses_the_dense_kernel():
    layer = DCTpSLinear(64, 64, density=0.05, path="fast")
    layer.capture_dense_grad = True
    x = torch.randn(3, 64)
    layer(x).sum().backward()
    # L = Σ y, y = α D x + (W ⊙ M) x + b: ∂L/∂W[o, i] = Σ_b x[b, i] at every entry, on the support or off it (RigL)
    torch.testing.assert_close(layer.dense_grad, x.sum(0).expand(64, 64))


def test_path_choice():
    n = 4096
    for batch in (1, 64, 128):
        assert dctps_path(n, n, round(1e-2 * n * n), batch) == "fast"
        assert dctps_path(n, n, round(1e-2 * n * n), batch, training=True) == "fast"
    assert dctps_path(10, 10, 5, 4) == "dense"  # tiny layers: the fast path's fixed cost dominates
    assert dctps_path(27, 64, 17, 1024, conv=True) == "dense"  # a first convolution (3·3·3 patch)
    assert dctps_path(32, 32, 50, 128, training=True) == "dense"
    t = predicted_seconds(n, n, n * n, 64)
    assert t["fast"] > t["dense"]  # a full support is a dense matrix in CSR: slower
    with pytest.raises(ValueError, match="unknown path 'fft'; choose one of auto, fast, dense"):
        DCTpSLinear(4, 4, path="fft")


def test_path_choice_agrees_with_the_committed_benchmark():
    # results/speed/dctps.json: every row where one path measured >= 2x faster than the other gets that path
    import json
    from pathlib import Path

    bench = json.loads((Path(__file__).resolve().parents[2] / "results/speed/dctps.json").read_text())
    clear = misses = 0
    for r in bench["rows"] + bench["conv_rows"]:
        if "channels" in r:
            shape = (r["channels"], 9 * r["channels"], r["nnz"], r["batch"] * r["size"] ** 2)
        else:
            shape = (r["width"], r["width"], r["nnz"], r["batch"])
        chosen = dctps_path(*shape, conv="channels" in r, training=r["mode"] == "train")
        measured = "fast" if r["fast_ms"] < r["kernel_ms"] else "dense"
        misses += chosen != measured
        if max(r["fast_ms"], r["kernel_ms"]) >= 2 * min(r["fast_ms"], r["kernel_ms"]):
            clear += 1
            assert chosen == measured, r
    assert clear == 35 and misses == 5  # of the 48 rows (fast measured faster in 26); the misses are 1.1-1.8x apart


def test_sparsify_and_train_step_through_the_fast_path():
    import sparseinit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    sparseinit.sparsify(model, 1e-2, offset="dct", budget="uniform")
    layer = model[0]
    assert isinstance(layer, DCTpSLinear)
    layer.path = "fast"
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert not layer.weight[~layer.mask].any() and layer.weight[layer.mask].abs().min() > 0


def test_first_call_in_inference_mode_then_training():
    layer = DCTpSLinear(40, 30, density=0.2, path="fast")
    x = torch.randn(3, 40)
    with torch.inference_mode():
        expected = layer(x)
    y = layer(x)
    y.sum().backward()
    torch.testing.assert_close(y.detach(), expected)
    assert layer.weight.grad is not None


def test_conv_output_size_is_torchs():
    from sparseinit.layers.fast_dctps import conv_output_size

    for kernel, stride, padding, dilation in [(3, 1, 0, 2), (3, 1, 1, 3), (5, 2, 2, 2), (2, 3, 1, 1), (1, 1, 0, 4)]:
        conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
        for size in [(9, 11), (16, 7)]:
            want = tuple(conv(torch.zeros(1, 1, *size)).shape[-2:])
            assert conv_output_size(size, (kernel,) * 2, (stride,) * 2, (padding,) * 2, (dilation,) * 2) == want
