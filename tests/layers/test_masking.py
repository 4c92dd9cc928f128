"""Masked weights stay exactly zero through SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop,
Adagrad — with and without the step hook — through stale optimizer state, and through a save/load round trip."""

import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparseinit.layers import (
    DCTpSConv2d,
    DCTpSLinear,
    SparseConv2d,
    SparseLinear,
    apply_masks_,
    keep_masks,
    masked_layers,
    zero_masked_state_,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


OPTIMIZERS = {
    "sgd_momentum_wd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adam_l2": lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=5e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.9, weight_decay=1e-3),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-2, initial_accumulator_value=0.1),
}


def tiny(seed=0):
    g = torch.Generator().manual_seed(seed)
    return nn.Sequential(
        DCTpSConv2d(2, 4, 3, padding=1, density=0.3, generator=g), nn.ReLU(),
        SparseConv2d(4, 4, 3, padding=1, bias=True, density=0.3, generator=g), nn.ReLU(), nn.Flatten(),
        SparseLinear(4 * 5 * 5, 8, density=0.2, generator=g), nn.ReLU(),
        DCTpSLinear(8, 3, density=0.5, generator=g))


def train(model, optimizer, steps=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 2, 5, 5, generator=g)
        y = torch.randint(0, 3, (8,), generator=g)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def assert_masked_zero(model):
    for layer in masked_layers(model):
        assert torch.count_nonzero(layer.weight[~layer.mask]) == 0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("hook", [True, False])
def test_masked_weights_stay_exactly_zero(name, hook):
    model = tiny()
    before = [layer.weight.detach().clone() for layer in masked_layers(model)]
    optimizer = OPTIMIZERS[name](model.parameters())
    if hook:
        keep_masks(optimizer, model)
    train(model, optimizer)
    assert_masked_zero(model)
    for layer, old in zip(masked_layers(model), before, strict=True):
        assert not torch.equal(layer.weight[layer.mask], old[layer.mask])  # the support did train


def test_hook_and_state_cleaning_beat_stale_momentum():
    model = tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(model, optimizer, steps=1)
    for layer in masked_layers(model):  # momentum left over from an earlier support
        optimizer.state[layer.weight]["momentum_buffer"].fill_(1.0)
    train(model, optimizer, steps=1)
    assert any(layer.weight[~layer.mask].any() for layer in masked_layers(model))  # forward masking alone: no
    handle = keep_masks(optimizer, model)
    train(model, optimizer, steps=2)
    assert_masked_zero(model)
    zero_masked_state_(optimizer, model)
    for layer in masked_layers(model):
        assert not optimizer.state[layer.weight]["momentum_buffer"][~layer.mask].any()
    handle.remove()


def test_apply_masks_and_set_mask():
    model = tiny()
    layer = masked_layers(model)[2]
    with torch.no_grad():
        layer.weight.fill_(1.0)
    apply_masks_(model)
    assert torch.equal(layer.weight, layer.mask.to(layer.weight.dtype))  # zero exactly off the support, 1 on it
    new = torch.zeros_like(layer.mask)
    new[0, :3] = True
    kept = layer.weight[0, :3].detach().clone()  # entries newly on the support are 0, kept ones keep their value
    layer.set_mask_(new)
    assert layer.nnz == 3 and torch.equal(layer.weight[0, :3], kept) and not layer.weight[~new].any()


@pytest.mark.parametrize("name", ["adam", "sgd_momentum_wd"])
def test_save_load_round_trip(name):
    model = tiny(seed=0)
    optimizer = OPTIMIZERS[name](model.parameters())
    keep_masks(optimizer, model)
    train(model, optimizer)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    fresh = tiny(seed=1)  # different random supports until loaded
    assert any(not torch.equal(a.mask, b.mask)
               for a, b in zip(masked_layers(model), masked_layers(fresh), strict=True))
    fresh.load_state_dict(saved["model"])
    for a, b in zip(masked_layers(model), masked_layers(fresh), strict=True):
        assert torch.equal(a.mask, b.mask) and a.mask.dtype == torch.bool
        assert torch.equal(a.weight, b.weight)
    x = torch.randn(4, 2, 5, 5)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    optimizer2 = OPTIMIZERS[name](fresh.parameters())
    optimizer2.load_state_dict(saved["optimizer"])
    keep_masks(optimizer2, fresh)
    train(fresh, optimizer2, seed=5)
    assert_masked_zero(fresh)
