"""accelerate(): the sparse-input layers against the dense torch model they replace (the independent reference).

Every comparison is max |fast − dense| / max |dense| ≤ 1e-5 in float32, and each test checks which path ran
(``calls``), so a silent dense fallback cannot pass for a working kernel. No timings here: see
benchmarks/sparse_inference.py.
"""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch import nn

import sparseinit
from sparseinit.acceleration import (
    SparseInputConv2d,
    SparseInputLinear,
    _SerialForward,
    accelerate,
    acceleration_plan,
    plan_layers,
)
from sparseinit.models import DeepCNN, DeepMLP

RTOL = 1e-5
ACTIVATIONS = {
    "relu": lambda: sparseinit.activation("relu"),
    "relu_tau": lambda: sparseinit.activation("relu_tau", 0.7),
    "st": lambda: sparseinit.activation("st", 0.9),
    "crelu": lambda: sparseinit.activation("crelu", 0.7, 1.0),
    "cst": lambda: sparseinit.activation("cst", 0.9, 1.0),
    "nn.ReLU": lambda: nn.ReLU(),
}


def rel_error(fast: nn.Module, dense: nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        want, got = dense(x), fast(x)
    assert got.shape == want.shape
    return float((got - want).abs().max() / want.abs().max())


def calls(model: nn.Module) -> dict[str, int]:
    total = {"sparse": 0, "dense": 0}
    for mod in model.modules():
        if isinstance(mod, (SparseInputLinear, SparseInputConv2d)):
            for k in total:
                total[k] += mod.calls[k]
    return total


def mlp(act, widths=(48, 96, 80, 7)) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths[:-1]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1]))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("batch", [1, 5, 40])  # 1 and 5: split-inputs kernel; 40: CSR-panels kernel
def test_every_activation_matches_dense(name, batch):
    torch.manual_seed(1)
    dense = mlp(ACTIVATIONS[name]).eval()
    fast = accelerate(dense, mode="sparse")
    x = 2.0 * torch.randn(batch, 48)
    assert rel_error(fast, dense, x) <= RTOL
    assert calls(fast) == {"sparse": 2, "dense": 0}  # the two Linear layers after an activation
    assert [p.accelerated for p in acceleration_plan(fast)] == [False, True, True]


@pytest.mark.parametrize("name,sparsity", [("crelu", 0.85), ("cst", 0.9), ("relu_tau", 0.85), ("st", 0.85)])
def test_deep_mlp_at_the_edge_of_chaos_takes_the_sparse_path_automatically(name, sparsity):
    torch.manual_seed(2)
    dense = DeepMLP(6, 2048, sparseinit.edge_of_chaos(name, sparsity), in_features=64).eval()
    fast = accelerate(dense)  # mode="auto": decided from each input's zero fraction and the layer's size
    hidden = [m for m in fast.modules() if isinstance(m, SparseInputLinear) and m.out_features == 2048]
    readout = [m for m in fast.modules() if isinstance(m, SparseInputLinear) and m.out_features == 10]
    assert len(hidden) == 5 and len(readout) == 1
    for batch in (1, 64):
        assert rel_error(fast, dense, torch.randn(batch, 64)) <= RTOL
    assert all(m.calls == {"sparse": 2, "dense": 0} for m in hidden)  # 2048²: pays at both batches
    # the 2048 x 10 read-out: a kernel call costs more than its whole dense product
    assert readout[0].calls == {"sparse": 0, "dense": 2}


def test_float64_and_extra_leading_dimensions():
    torch.manual_seed(3)
    dense = mlp(ACTIVATIONS["crelu"]).double().eval()
    fast = accelerate(dense, mode="sparse")
    x = 2.0 * torch.randn(3, 4, 48, dtype=torch.float64)
    with torch.inference_mode():
        want, got = dense(x), fast(x)
    assert got.dtype == torch.float64
    assert float((got - want).abs().max() / want.abs().max()) <= 1e-12
    assert calls(fast)["sparse"] == 2


def test_bfloat16_runs_dense():
    torch.manual_seed(8)
    seq = nn.Sequential(nn.ReLU(), nn.Linear(16, 8)).to(torch.bfloat16)
    fast = accelerate(seq, mode="sparse")
    x = torch.randn(2, 16, dtype=torch.bfloat16)
    with torch.inference_mode():
        assert torch.allclose(fast(x).float(), seq(x).float(), rtol=1e-2, atol=1e-2)
    assert calls(fast) == {"sparse": 0, "dense": 1}


def test_non_contiguous_input():
    torch.manual_seed(4)
    seq = nn.Sequential(nn.ReLU(), nn.Linear(48, 30))
    fast = accelerate(seq, mode="sparse")
    x = torch.randn(48, 9).t()  # a transposed view
    assert rel_error(fast, seq, x) <= RTOL
    assert calls(fast)["sparse"] == 1


def test_low_sparsity_falls_back_to_dense():
    torch.manual_seed(5)
    seq = nn.Sequential(sparseinit.activation("st", 0.3), nn.Linear(64, 32))  # ST_0.3 on N(0,1): ~24% zeros
    fast = accelerate(seq)
    for batch in (1, 7, 64):
        assert rel_error(fast, seq, torch.randn(batch, 64)) <= RTOL
    assert calls(fast) == {"sparse": 0, "dense": 3}
    # and above the floor a call of 1 row takes the kernel (a 1024² layer's break-even there: 0.5)
    sparse_seq = nn.Sequential(sparseinit.activation("st", 2.0), nn.Linear(1024, 1024))  # ~95% zeros
    high = accelerate(sparse_seq)
    assert rel_error(high, sparse_seq, torch.randn(1, 1024)) <= RTOL
    assert calls(high) == {"sparse": 1, "dense": 0}


@pytest.mark.parametrize("kblock,chunk,threads", [(16, 16, 1), (16, 48, 3), (64, 2048, 2), (7, 100, 2)])
def test_csr_panels_kernel_against_a_float64_reference(kblock, chunk, threads):
    """Panels that do not divide the inputs, chunks that do not divide the outputs, groups of 4 that straddle
    panels, rows with 0–3 non-zeros (the tail loop) and more threads than chunks."""
    import numpy as np

    from sparseinit import _kernels

    gen = np.random.default_rng(0)
    x = gen.standard_normal((23, 150)).astype(np.float32)
    x[gen.random(x.shape) < 0.8] = 0.0
    x[0] = 0.0
    x[1, 3:] = 0.0
    x[2, :] = 0.0
    x[2, [5, 70, 149]] = 1.5
    wt = gen.standard_normal((150, 100)).astype(np.float32)
    bias = gen.standard_normal(100).astype(np.float32)
    out = np.full((23, 100), np.nan, np.float32)
    _kernels.linear_csr_panels(x, wt, bias, out, threads, kblock, chunk)
    want = bias.astype(np.float64) + x.astype(np.float64) @ wt.astype(np.float64)
    assert np.abs(out - want).max() / np.abs(want).max() <= RTOL
    few = np.full((5, 100), np.nan, np.float32)  # and the small-batch kernel, on as many threads
    _kernels.linear_split_inputs(x[:5], wt, bias, few, threads)
    assert np.abs(few - want[:5]).max() / np.abs(want[:5]).max() <= RTOL
    _kernels.linear_split_inputs(x[3:4], wt, bias, few[:1], threads)  # batch 1: the four-rows path
    assert np.abs(few[0] - want[3]).max() / np.abs(want[3]).max() <= RTOL
    few[:] = np.nan
    _kernels.linear_one_serial(x[3:4], wt, bias, few[:1])
    assert np.abs(few[0] - want[3]).max() / np.abs(want[3]).max() <= RTOL


@pytest.mark.parametrize("transposed", [True, False])
def test_dense_fallback_at_many_rows_takes_the_measured_form_and_chains(monkeypatch, transposed):
    """From TRANSPOSED_DENSE_MIN_ROWS rows the fallback takes the form measured faster: transposed, a column-major
    view that the next layer reads (zero count included); plain, a contiguous output. Either way the result
    matches dense, on both paths of the next layer; below those rows it is always the plain form."""
    from sparseinit import acceleration
    from sparseinit.acceleration import TRANSPOSED_DENSE_MIN_ROWS

    monkeypatch.setattr(acceleration, "_TRANSPOSED_FASTER", {})
    monkeypatch.setattr(acceleration, "_transposed_is_faster", lambda *operands: transposed)
    torch.manual_seed(6)
    seq = nn.Sequential(nn.ReLU(), nn.Linear(64, 48), sparseinit.activation("st", 2.0), nn.Linear(48, 16))
    fast = accelerate(seq, min_sparsity=0.9)
    fast[3].mode = "sparse"  # layers this small never pay in "auto" (LINEAR_BREAK_EVEN)
    x = torch.randn(TRANSPOSED_DENSE_MIN_ROWS + 8, 64)  # relu: ~50% zeros < 0.9 -> dense
    assert rel_error(fast, seq, x) <= RTOL
    assert fast[1].calls == {"sparse": 0, "dense": 1} and fast[3].calls == {"sparse": 1, "dense": 0}
    with torch.inference_mode():
        hidden = fast[:2](x)
    assert hidden.t().is_contiguous() == transposed and hidden.is_contiguous() != transposed
    dense_both = accelerate(seq, mode="dense")
    assert rel_error(dense_both, seq, x) <= RTOL
    for batch in (1, TRANSPOSED_DENSE_MIN_ROWS - 1):  # few rows: the plain addmm, a contiguous output
        with torch.inference_mode():
            assert fast[:2](torch.randn(batch, 64)).is_contiguous()


def test_dense_form_is_measured_once_per_shape_rows_bucket_dtype_and_threads(monkeypatch):
    from sparseinit import acceleration
    from sparseinit.acceleration import TRANSPOSED_DENSE_MIN_ROWS

    measured = []
    monkeypatch.setattr(acceleration, "_TRANSPOSED_FASTER", {})
    monkeypatch.setattr(acceleration, "_transposed_is_faster", lambda x, wt, b: measured.append(len(x)) or False)
    layer = SparseInputLinear(nn.Linear(64, 48), mode="dense")
    with torch.inference_mode():
        for rows in (TRANSPOSED_DENSE_MIN_ROWS, 33, 64, 65, 1, TRANSPOSED_DENSE_MIN_ROWS - 1):
            layer(torch.randn(rows, 64))
        SparseInputLinear(nn.Linear(64, 48).double(), mode="dense")(torch.randn(40, 64, dtype=torch.float64))
        layer(torch.randn(50, 64))  # the float32 key of that bucket is still known
    # 32 | 33-64 (one bucket) | 65-128; none below 32 rows; float64 is a key of its own
    assert measured == [TRANSPOSED_DENSE_MIN_ROWS, 33, 65, 40]
    assert set(acceleration._TRANSPOSED_FASTER) == {(64, 48, n, dt, torch.get_num_threads())
                                                    for n, dt in ((32, torch.float32), (64, torch.float32),
                                                                  (128, torch.float32), (64, torch.float64))}


def test_the_dense_form_measurement_runs_both_forms_on_the_operands():
    from sparseinit.acceleration import _transposed_is_faster

    x, wt, b = torch.randn(40, 64), torch.randn(64, 48), torch.randn(48)
    assert isinstance(_transposed_is_faster(x, wt, b), bool)  # which one wins is the machine's business
    torch.testing.assert_close(torch.addmm(b[:, None], wt.t(), x.t()).t(), torch.addmm(b, x, wt))


def test_a_break_even_table_for_the_machine_at_hand_replaces_the_measured_one():
    torch.manual_seed(3)
    seq = nn.Sequential(nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 64))
    x = torch.randn(1, 1024) - 1.3  # relu: ~90 % zeros
    default, never = accelerate(seq), accelerate(seq, linear_break_even=((1, ((1, 1.0),)),))
    always = accelerate(seq, min_sparsity=0.0, linear_break_even=[(1, [(1, 0.0), (256, 0.0)])])
    for fast in (default, never, always):
        assert rel_error(fast, seq, x) <= RTOL
    assert default[1].calls == {"sparse": 1, "dense": 0}  # LINEAR_BREAK_EVEN at 1024², batch 1: 0.5
    assert never[1].calls == {"sparse": 0, "dense": 1}
    assert always[3].threshold(1) == 0.0 and default[3].threshold(1) == 1.0  # 1024·64 never pays by default
    assert always[3].calls == {"sparse": 1, "dense": 0} and default[3].calls == {"sparse": 0, "dense": 1}
    for bad in ((), [(0, ((1, 0.5),))], [(1, ((1, 1.5),))], "table", [(1, ((8, 0.5), (1, 0.5)))],
                [(4, ((1, 0.5),)), (2, ((1, 0.5),))], [(1, ())]):
        with pytest.raises(ValueError, match="linear_break_even must be a non-empty sequence") as err:
            accelerate(seq, linear_break_even=bad)
        assert "\n" not in str(err.value)


def test_min_sparsity_floor_and_threshold():
    layer = SparseInputLinear(nn.Linear(1024, 1024), min_sparsity=0.5)
    assert layer.threshold(1) == 0.5
    assert layer.threshold(10**6) >= 0.5
    strict = SparseInputLinear(nn.Linear(1024, 1024), min_sparsity=0.99)
    x = torch.zeros(1, 1024)
    x[0, :128] = 1.0  # 87.5% zeros < 99%
    with torch.inference_mode():
        strict(x)
    assert strict.calls == {"sparse": 0, "dense": 1}
    with pytest.raises(ValueError, match="min_sparsity"):
        accelerate(nn.Sequential(nn.ReLU(), nn.Linear(3, 3)), min_sparsity=1.5)
    with pytest.raises(ValueError, match="mode"):
        accelerate(nn.Sequential(nn.ReLU(), nn.Linear(3, 3)), mode="fast")


def test_break_even_follows_the_layer_size():
    small, large = SparseInputLinear(nn.Linear(300, 300)), SparseInputLinear(nn.Linear(2048, 2048))
    assert small.threshold(1) == 1.0 and large.threshold(1) == 0.5  # LINEAR_BREAK_EVEN at 300² and 2048²
    assert small.threshold(64) > large.threshold(64)
    x = torch.zeros(1, 300)
    x[0, :10] = 1.0  # 97% zeros, yet a 300² layer at batch 1 stays dense
    with torch.inference_mode():
        assert torch.allclose(small(x), x @ small.weight_t + small.bias)
    assert small.calls == {"sparse": 0, "dense": 1}


def test_batch1_break_even_drops_when_the_weights_overflow_the_cache(monkeypatch):
    import sparseinit.acceleration as acc

    model = DeepMLP(4, 300, sparseinit.edge_of_chaos("crelu", 0.85), in_features=300).eval()
    accelerated_bytes = (3 * 300 * 300 + 300 * 10) * 4  # the three 300² layers after an activation and the read-out
    for cache, want in ((accelerated_bytes, 1.0), (accelerated_bytes - 1, acc.OVERFLOW_BREAK_EVEN)):
        monkeypatch.setattr(acc, "LAST_LEVEL_CACHE_BYTES", cache)
        fast = accelerate(model)
        layers = [m for m in fast.modules() if isinstance(m, SparseInputLinear)]
        assert [m.threshold(1) for m in layers] == [want] * 3 + [1.0]  # the small read-out keeps its own
        assert [m.threshold(64) for m in layers[:3]] == [SparseInputLinear(nn.Linear(300, 300)).threshold(64)] * 3
        x = torch.randn(1, 300)
        assert rel_error(fast, model, x) <= RTOL
        assert layers[1].calls["sparse"] == (want < 1.0)  # ~85 % zeros: the kernel only once the weights overflow
    assert acc.LAST_LEVEL_CACHE_BYTES > 0


def test_layers_that_never_pay_do_not_count_zeros(monkeypatch):
    import sparseinit.acceleration as acc

    def fail(x):
        raise AssertionError("zeros counted")

    monkeypatch.setattr(acc, "_zero_fraction", fail)
    conv = SparseInputConv2d(nn.Conv2d(8, acc.CONV_MIN_CHANNELS - 1, 3, padding=1))  # below the channel floor
    small = SparseInputLinear(nn.Linear(128, 128))  # up to 128²: break-even 1 at every batch size
    floored = SparseInputLinear(nn.Linear(512, 512), min_sparsity=1.0)
    counted = SparseInputLinear(nn.Linear(512, 512))  # batch 1: break-even 0.8
    with torch.inference_mode():
        conv(torch.relu(torch.randn(2, 8, 5, 5)))
        for batch in (1, 8, 64):
            small(torch.relu(torch.randn(batch, 128)))
        floored(torch.relu(torch.randn(1, 512)))
        with pytest.raises(AssertionError, match="zeros counted"):
            counted(torch.relu(torch.randn(1, 512)))
    assert conv.calls == {"sparse": 0, "dense": 1}


def test_only_activations_feeding_a_layer_that_can_run_the_kernel_run_serially():
    narrow = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1))
    wide = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    assert "forward" not in accelerate(narrow)[1].__dict__  # 32 channels: always dense in auto mode
    assert isinstance(accelerate(narrow, mode="sparse")[1].__dict__["forward"], _SerialForward)
    assert isinstance(accelerate(wide)[1].__dict__["forward"], _SerialForward)
    assert "forward" not in accelerate(wide, mode="dense")[1].__dict__
    assert "forward" not in accelerate(wide, min_sparsity=1.0)[1].__dict__


def test_all_zero_rows_give_the_bias():
    seq = nn.Sequential(nn.ReLU(), nn.Linear(16, 5))
    fast = accelerate(seq, mode="sparse")
    x = -torch.rand(3, 16)  # relu -> all zeros
    with torch.inference_mode():
        assert torch.equal(fast(x), seq[1].bias.detach().expand(3, 5))
    assert calls(fast) == {"sparse": 1, "dense": 0}  # the kernel gave the bias, not the dense fallback


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("batch", [1, 3])
def test_deep_cnn_convolutions_match_dense(kernel_size, batch):
    torch.manual_seed(6)
    dense = DeepCNN(3, 16, sparseinit.edge_of_chaos("crelu", 0.85), in_channels=3, kernel_size=kernel_size).eval()
    fast = accelerate(dense, mode="sparse")
    plan = {p.name: p.accelerated for p in acceleration_plan(fast)}
    assert plan == {"layers.0": False, "layers.2": True, "layers.4": True, "layers.8": False}
    x = torch.randn(batch, 3, 11, 9)
    assert rel_error(fast, dense, x) <= RTOL
    with torch.inference_mode():  # the hidden feature maps themselves, not only the pooled read-out
        want, got = dense.layers[:5](x), fast.layers[:5](x)
    assert float((got - want).abs().max() / want.abs().max()) <= RTOL
    assert calls(fast) == {"sparse": 4, "dense": 0}


@pytest.mark.parametrize("conv", [
    lambda: nn.Conv2d(6, 10, (3, 1), padding=(1, 0)),
    lambda: nn.Conv2d(6, 10, 3, padding=0),
    lambda: nn.Conv2d(6, 10, 3, padding="same", bias=False),
    lambda: nn.Conv2d(6, 10, (1, 5), padding=(0, 1)),
])
def test_conv_shapes_padding_and_bias(conv):
    torch.manual_seed(7)
    seq = nn.Sequential(sparseinit.activation("relu_tau", 0.5), conv()).eval()
    fast = accelerate(seq, mode="sparse")
    assert rel_error(fast, seq, torch.randn(2, 6, 8, 7)) <= RTOL
    assert calls(fast)["sparse"] == 1


def test_unsupported_convolutions_stay_dense_and_say_why():
    seq = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 8, 3, groups=2),
                        nn.ReLU(), nn.Conv2d(8, 8, 3, dilation=2, padding=2))
    fast = accelerate(seq, mode="sparse")
    reasons = [p.reason for p in acceleration_plan(fast)]
    assert [p.accelerated for p in acceleration_plan(fast)] == [False, False, False]
    assert "stride" in reasons[0] and "groups" in reasons[1] and "dilation" in reasons[2]
    assert rel_error(fast, seq, torch.randn(1, 4, 16, 16)) <= RTOL
    with pytest.raises(ValueError, match="stride"):
        SparseInputConv2d(nn.Conv2d(4, 4, 3, stride=2))


def test_plan_walks_nested_sequentials_and_zero_preserving_modules():
    model = nn.Sequential(
        nn.Linear(10, 12), nn.ReLU(), nn.Dropout(0.1), nn.Flatten(),
        nn.Sequential(nn.Linear(12, 12), sparseinit.activation("crelu", 0.5, 1.0)),
        nn.Linear(12, 12),  # follows the inner Sequential's last activation
        nn.Tanh(), nn.Linear(12, 3),  # tanh is not sparsifying
    )
    plan = [(p.name, p.accelerated) for p in plan_layers(model)]
    assert plan == [("0", False), ("4.0", True), ("5", True), ("7", False)]
    fast = accelerate(model, mode="sparse")
    assert isinstance(fast[4][0], SparseInputLinear) and isinstance(fast[5], SparseInputLinear)
    assert rel_error(fast, model.eval(), torch.randn(4, 10)) <= RTOL
    assert fast[4][0].calls["sparse"] >= 1 and fast[5].calls["sparse"] >= 1 and calls(fast)["dense"] == 0


def test_nothing_to_accelerate_returns_an_equivalent_model():
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 2))
    fast = accelerate(model)
    assert [p.accelerated for p in acceleration_plan(fast)] == [False, False]
    x = torch.randn(3, 5)
    with torch.inference_mode():
        assert torch.equal(fast(x), model(x))
    assert acceleration_plan(model) == ()


def test_layers_outside_a_sequential_are_reported_dense():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.body = nn.Sequential(nn.ReLU(), nn.Linear(4, 4))

        def forward(self, x):
            return self.body(self.fc(x))

    plan = {p.name: (p.accelerated, p.reason) for p in plan_layers(Block())}
    assert plan["fc"] == (False, "not inside an nn.Sequential")
    assert plan["body.1"][0] is True


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_works_in_a_forked_child_after_use_in_the_parent():
    import multiprocessing as mp

    torch.manual_seed(9)
    dense = mlp(ACTIVATIONS["relu"]).eval()
    fast = accelerate(dense, mode="sparse")
    x = torch.randn(1, 48)
    fast(x)  # the parent's thread pool now exists
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_forward, (fast, x)).get(timeout=60)
    with torch.inference_mode():
        want = dense(x)
    assert float((got - want).abs().max() / want.abs().max()) <= RTOL


def _forward(model, x):
    torch.set_num_threads(2)
    with torch.inference_mode():
        return model(x).clone()


def test_original_is_untouched_and_copy_is_inference_only():
    model = DeepMLP(2, 32, sparseinit.edge_of_chaos("crelu", 0.85), in_features=16)
    fast = accelerate(model)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert isinstance(model.layers[3], nn.Linear) and isinstance(fast.layers[3], SparseInputLinear)
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    x = torch.randn(2, 16)
    with torch.no_grad():
        assert fast(x).shape == (2, 10)
    with pytest.raises(RuntimeError, match="inference-only"):
        fast.layers[3](torch.randn(2, 32, requires_grad=True))


def test_feeding_activations_run_serially_and_restore_the_thread_count(monkeypatch):
    """accelerate() gives the activations that feed accelerated layers a forward that runs large inputs on one
    thread (no OpenMP worker left spinning when the kernel starts) and restores the thread count, errors included;
    it survives deep copies and pickling."""
    import io

    torch.manual_seed(7)
    seq = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1024))  # 256 x 1024: the kernel can pay
    fast = accelerate(seq)
    previous = torch.get_num_threads()
    set_threads = torch.set_num_threads
    set_threads(2)
    seen: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), set_threads(n))[1])
    try:
        x = torch.randn(200, 256)  # 51,200 activations >= torch's grain: serial
        assert rel_error(fast, seq, x) <= RTOL
        assert seen == [1, 2] and torch.get_num_threads() == 2
        assert rel_error(fast, seq, torch.randn(2, 256)) <= RTOL  # small: left alone
        assert seen == [1, 2]
        with pytest.raises(RuntimeError):
            with torch.no_grad():
                fast[1](torch.randn(200, 256, dtype=torch.complex64))  # relu refuses complex input
        assert seen == [1, 2, 1, 2] and torch.get_num_threads() == 2
        buffer = io.BytesIO()
        torch.save(fast, buffer)
        buffer.seek(0)
        for other in (copy.deepcopy(fast), torch.load(buffer, weights_only=False)):
            assert other[1].forward.module is other[1]
            assert rel_error(other, seq, x) <= RTOL
    finally:
        set_threads(previous)


def test_cached_weight_views_follow_dtype_changes_and_state_dicts():
    torch.manual_seed(8)
    seq = nn.Sequential(nn.ReLU(), nn.Linear(32, 16))
    fast = accelerate(seq, mode="sparse")
    x = torch.randn(1, 32)
    assert rel_error(fast, seq, x) <= RTOL  # fills the cache
    other = nn.Sequential(nn.ReLU(), nn.Linear(32, 16))
    fast[1].load_state_dict({"weight_t": other[1].weight.detach().t(), "bias": other[1].bias.detach()})
    assert rel_error(fast, other, x) <= RTOL  # in-place copy: same storage, same views
    fast.double()
    assert rel_error(fast, other.double(), x.double()) <= 1e-12
    assert calls(fast) == {"sparse": 3, "dense": 0}


def test_linear_break_even_is_derived_from_the_committed_measurements():
    """LINEAR_BREAK_EVEN is not set by hand: it is what benchmarks/sparse_inference.py --derive prints for the
    committed measurements in results/speed/."""
    import importlib.util
    import json
    from pathlib import Path

    from sparseinit.acceleration import LINEAR_BREAK_EVEN

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("sparse_inference", root / "benchmarks" / "sparse_inference.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [r for name in ("break_even_linear_model.json", "break_even_linear_model_4096.json")
            for r in json.loads((root / "results" / "speed" / name).read_text())["results"]]
    assert bench.derived_table(rows) == LINEAR_BREAK_EVEN


def test_zero_fraction_counts_exact_zeros_in_every_memory_layout():
    """Against torch on the same tensor: negative outputs (st, cst) are not zeros; contiguous, transposed and
    channels-last tensors are counted alike."""
    from sparseinit.acceleration import _zero_fraction

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 70, 5, 6, generator=gen)
    x[x.abs() < 0.8] = 0.0  # ~58 % zeros, half the rest negative
    want = float((x == 0).sum()) / x.numel()
    assert _zero_fraction(x) == pytest.approx(want, abs=1e-12)
    assert _zero_fraction(x.contiguous(memory_format=torch.channels_last)) == pytest.approx(want, abs=1e-12)
    flat = x.reshape(4, -1)
    assert _zero_fraction(flat.t().contiguous().t()) == pytest.approx(want, abs=1e-12)  # transposed storage


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_conv_scatter_kernel_blocks_of_output_channels(threads):
    """Output channels in blocks that do not divide them (65 = 4 × 16 + 1), one image, several threads."""
    import numpy as np
    import torch.nn.functional as F

    from sparseinit import _kernels

    gen = np.random.default_rng(1)
    x = gen.standard_normal((1, 7, 6, 5)).astype(np.float32)  # (B, H, W, C), channels last
    x[gen.random(x.shape) < 0.7] = 0.0
    wk = gen.standard_normal((3, 3, 5, 65)).astype(np.float32)  # (kh, kw, C, O)
    bias = gen.standard_normal(65).astype(np.float32)
    out = np.full((1, 7, 6, 65), np.nan, np.float32)
    _kernels.conv2d_scatter(x, wk, bias, out, 1, 1, 16, threads)
    weight = torch.from_numpy(wk).double().permute(3, 2, 0, 1)  # (O, C, kh, kw)
    want = F.conv2d(torch.from_numpy(x).double().permute(0, 3, 1, 2), weight, torch.from_numpy(bias).double(),
                    padding=1).permute(0, 2, 3, 1).numpy()
    assert np.isfinite(out).all() and np.abs(out - want).max() / np.abs(want).max() <= RTOL


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's note on a copy
@pytest.mark.parametrize(("layer", "accelerated"), [
    (lambda: nn.Conv2d(6, 8, 3, padding=1, padding_mode="reflect"), False),  # not zero padding
    (lambda: nn.Conv2d(6, 8, 4, padding="same"), False),  # an even kernel pads one side more
    (lambda: nn.Conv2d(6, 8, 3, padding="valid"), True),
    (lambda: nn.Conv2d(6, 8, 3, padding=(2, 0)), True),
    (lambda: nn.Linear(6 * 8 * 7, 5, bias=False), True),
])
def test_what_is_accelerated_computes_what_the_dense_layer_does(layer, accelerated):
    torch.manual_seed(3)
    module = layer()
    head = [nn.Flatten()] if isinstance(module, nn.Linear) else []
    seq = nn.Sequential(sparseinit.activation("relu_tau", 0.5), *head, module).eval()
    fast = accelerate(seq, mode="sparse")
    assert [p.accelerated for p in acceleration_plan(fast)] == [accelerated]
    assert rel_error(fast, seq, torch.randn(2, 6, 8, 7)) <= RTOL
    assert calls(fast)["sparse"] == int(accelerated)


def test_a_layer_fed_by_a_weight_layer_is_not_on_the_sparse_path():
    model = nn.Sequential(nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    assert [(p.name, p.accelerated) for p in plan_layers(model)] == [("1", True), ("2", False), ("4", True)]


@pytest.mark.parametrize("mode", ["sparse", "dense", "auto"])
def test_inputs_of_the_wrong_size_get_one_line_errors_on_every_path(mode):
    # the kernels index W by the input's own size: unchecked, a wider input read past the weights (garbage, NaN)
    linear = SparseInputLinear(nn.Linear(4, 3), mode=mode)
    for bad in (torch.zeros(1, 6), torch.zeros(2, 3), torch.zeros(5, 2, 6)):
        with pytest.raises(ValueError, match=r"^x must have 4 features in its last dimension, got shape"):
            linear(bad)
    conv = SparseInputConv2d(nn.Conv2d(4, 3, 3), mode=mode)
    with pytest.raises(ValueError, match=r"^x must have 4 channels \(dimension 1\), got shape \(1, 2, 5, 5\)"):
        conv(torch.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"smaller than the 3×3 kernel after padding \(0, 0\)"):
        conv(torch.zeros(1, 4, 2, 5))
    # what nn.Conv2d takes, the copy takes: a 1×1 map with padding 1 under a 3×3 kernel
    padded = nn.Conv2d(4, 3, 3, padding=1)
    x = torch.randn(2, 4, 1, 1).clamp(min=0)
    fast = SparseInputConv2d(padded, mode=mode)
    torch.testing.assert_close(fast(x), padded(x).detach())
    assert fast.calls["sparse"] == (mode == "sparse")  # the kernel itself takes the 1×1 map
