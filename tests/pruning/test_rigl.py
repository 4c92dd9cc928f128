"""RigL in a hand-written loop: drop/grow only at update steps, per-layer nnz constant, drops = smallest |w|,
grows = largest |∂L/∂kernel| (checked against an independent dense-kernel autograd), grown weights start at 0,
optimizer state cleaned, cosine-decayed fraction, nothing after the stop step; on plain and DCTpS models."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparseinit.layers import keep_masks, masked_layers
from sparseinit.pruning import RigL, sparsify


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def model_and_data(offset, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 3))
    sparsify(model, 0.2, offset=offset, budget="uniform", seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(256, 10, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return model, x, y


def dense_kernel_grads(model, x, y):
    """∂L/∂K for every layer's whole kernel K = α·D + W ⊙ M, by autograd on K as a leaf (no layer machinery)."""
    kernels = [layer.kernel().detach().clone().requires_grad_(True) for layer in masked_layers(model)]
    h = x
    for index, (layer, kernel) in enumerate(zip(masked_layers(model), kernels, strict=True)):
        h = F.linear(h, kernel, layer.bias)
        if index < len(kernels) - 1:
            h = F.relu(h)
    F.cross_entropy(h, y).backward()
    return [k.grad for k in kernels]


@pytest.mark.parametrize("offset", [None, "dct"])
def test_rigl_drops_smallest_and_grows_largest_gradient(offset):
    model, x, y = model_and_data(offset)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    keep_masks(optimizer, model)
    total, every = 40, 5
    rigl = RigL(model, total, update_every=every, drop_fraction=0.3, stop_fraction=0.75, optimizer=optimizer)
    assert rigl.stop_step == 30
    layers = masked_layers(model)
    nnz = [layer.nnz for layer in layers]
    updates, swapped = [], 0
    for step in range(1, total + 1):
        xb, yb = x[(step * 32) % 256:(step * 32) % 256 + 32], y[(step * 32) % 256:(step * 32) % 256 + 32]
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        grads = dense_kernel_grads(model, xb, yb) if rigl.is_update_step(step) else None  # weights of the backward
        optimizer.step()
        masks = [layer.mask.clone() for layer in layers]
        weights = [layer.weight.detach().clone() for layer in layers]
        if rigl.step(step):
            updates.append(step)
            fraction = 0.15 * (1 + math.cos(math.pi * step / 30))
            assert rigl.drop_fraction_at(step) == pytest.approx(fraction)
            for layer, old_mask, w, g, (kept, grown) in zip(layers, masks, weights, grads, rigl.last_swap,
                                                             strict=True):
                k = round(fraction * int(old_mask.sum()))
                assert (kept & ~old_mask).sum() == 0 and (kept & grown).sum() == 0
                assert int((old_mask & ~kept).sum()) == k and int(grown.sum()) == k
                assert torch.equal(layer.mask, kept | grown)
                swapped += k
                if k:
                    assert w.abs()[kept].min() >= w.abs()[old_mask & ~kept].max()  # dropped: the smallest |w|
                    assert g.abs()[grown].min() >= g.abs()[~kept & ~grown].max()  # grown: the largest |grad|
                assert not layer.weight[grown].any()  # grown (and regrown) weights start at exactly 0
                assert torch.equal(layer.weight[kept], w[kept])
                state = optimizer.state[layer.weight]
                assert not state["exp_avg"][grown | ~layer.mask].any()
                assert not state["exp_avg_sq"][grown | ~layer.mask].any()
        else:
            assert all(torch.equal(a, layer.mask) for a, layer in zip(masks, layers, strict=True))
        assert [layer.nnz for layer in layers] == nnz
        for layer in layers:
            assert not layer.weight[~layer.mask].any()
    assert updates == [5, 10, 15, 20, 25] and rigl.updates == 5
    assert swapped > 50
    assert all(not layer.capture_dense_grad for layer in layers)  # nothing recorded after the stop


def test_rigl_trains_a_dctps_model():
    model, x, y = model_and_data("dct", seed=3)
    alpha = [layer.alpha.detach().clone() for layer in masked_layers(model)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    keep_masks(optimizer, model)
    rigl = RigL(model, 60, update_every=10, optimizer=optimizer)
    first = None
    for step in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        rigl.step(step)
        first = first if first is not None else loss.item()
    assert rigl.updates == 4  # steps 10, 20, 30, 40 < stop 45
    assert loss.item() < first
    assert any(not torch.equal(a, layer.alpha) for a, layer in zip(alpha, masked_layers(model), strict=True))


def test_drop_fraction_schedule_and_errors():
    model, _, _ = model_and_data(None)
    rigl = RigL(model, 1000)
    assert rigl.stop_step == 750 and rigl.update_every == 100
    assert rigl.drop_fraction_at(0) == pytest.approx(0.3)
    assert rigl.drop_fraction_at(375) == pytest.approx(0.15)
    assert rigl.drop_fraction_at(750) == 0.0
    assert [s for s in range(1001) if rigl.is_update_step(s)] == [100, 200, 300, 400, 500, 600, 700]
    with pytest.raises(RuntimeError, match="no dense gradient"):
        rigl.step(100)
    with pytest.raises(ValueError, match="no sparse layer"):
        RigL(nn.Linear(2, 2), 10)
    with pytest.raises(ValueError, match="drop_fraction must be in"):
        RigL(model, 10, drop_fraction=1.5)
    with pytest.raises(ValueError, match="total_steps must be an integer >= 1"):
        RigL(model, 0)


def test_full_layer_is_left_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 20))
    sparsify(model, 0.5, offset=None, budget="epl")  # EPL: 12 + 60 weights, 36 kept -> the first layer is full
    first, second = masked_layers(model)
    assert first.nnz == first.weight.numel() and second.nnz < second.weight.numel()
    rigl = RigL(model, 10, update_every=1, drop_fraction=0.3)
    x, y = torch.randn(32, 4), torch.randint(0, 20, (32,))
    F.cross_entropy(model(x), y).backward()
    before, second_before = first.weight.detach().clone(), second.mask.clone()
    nnz_second = second.nnz
    rigl.step(1)
    assert torch.equal(first.weight, before) and bool(first.mask.all())  # nothing dropped or reset
    assert second.nnz == nnz_second and not torch.equal(second.mask, second_before)  # the other layer did swap


def test_grown_positions_follow_the_reduced_gradient():
    """In data-parallel training every process grows where the all-reduced gradient is largest: reduce_grad works
    in place on a copy, and the grown set follows what it leaves, not the local gradient."""
    model, x, y = model_and_data(None)
    layers = masked_layers(model)
    g = torch.Generator().manual_seed(5)
    peers = [torch.randn(layer.weight.shape, generator=g) * 100 for layer in layers]  # dominates the local one
    calls = []

    def all_reduce(grad):
        peer = peers[len(calls) % len(peers)]
        calls.append(grad.shape)
        grad.add_(peer)

    rigl = RigL(model, 10, update_every=1, drop_fraction=0.3, reduce_grad=all_reduce)
    F.cross_entropy(model(x), y).backward()
    local = [layer.dense_grad.clone() for layer in layers]
    assert rigl.step(1)
    assert calls == [layer.weight.shape for layer in layers]
    for grad, peer, (kept, grown) in zip(local, peers, rigl.last_swap, strict=True):
        assert grown.any()
        reduced = (grad + peer).abs()
        assert reduced[grown].min() >= reduced[~kept & ~grown].max()
        assert not (grad.abs()[grown].min() >= grad.abs()[~kept & ~grown].max())  # the local choice differs
