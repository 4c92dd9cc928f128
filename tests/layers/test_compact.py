"""CompactDCTpSLinear: same function as DCTpSLinear, state = nnz values + int32 indices + α + b (SPEC §5)."""

import io

import numpy as np
import pytest
import torch

from sparseinit.layers import DCTpSLinear
from sparseinit.layers.compact import CompactDCTpSLinear, compact_dctps


def _trained_layer(n_in, n_out, density, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    layer = DCTpSLinear(n_in, n_out, density=density, generator=g, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g).to(dtype) * layer.mask)
        layer.bias.normal_(generator=g)
        layer.alpha.fill_(0.6)
    return layer


def _saved_bytes(module):
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return len(buffer.getvalue())


@pytest.mark.parametrize("path", ["fast", "dense", "auto"])
@pytest.mark.parametrize(("n_in", "n_out"), [(9, 6), (6, 9), (64, 64)])
def test_same_function_as_masked_layer(path, n_in, n_out):
    layer = _trained_layer(n_in, n_out, 0.3, torch.float64)
    compact = CompactDCTpSLinear.from_masked(layer)
    compact.path = path
    x = torch.randn(5, n_in, dtype=torch.float64)
    torch.testing.assert_close(compact(x), layer(x), atol=1e-12, rtol=0)
    back = compact.to_masked()
    assert torch.equal(back.mask, layer.mask) and torch.equal(back.weight, layer.weight)
    torch.testing.assert_close(back(x), layer(x), atol=1e-12, rtol=0)


def test_state_is_values_indices_alpha_bias_and_within_5_percent():
    layer = _trained_layer(4096, 4096, 1e-2)
    compact = CompactDCTpSLinear.from_masked(layer)
    state = compact.state_dict()
    assert set(state) == {"values", "indices", "alpha", "bias"}
    assert state["indices"].dtype == torch.int32 and state["values"].shape == (layer.nnz,)
    ideal = layer.nnz * (4 + 4) + 4 + 4096 * 4  # values + int32 indices + α + bias, float32
    assert compact.stored_bytes() == ideal
    assert ideal <= _saved_bytes(compact) <= 1.05 * ideal  # torch.save's container adds ~2 KB
    import sparseinit

    assert sparseinit.density_report(layer).layers[0].stored_bytes == ideal  # the accounting of the masked layer


def test_density_report_counts_compact_layers_like_masked_ones():
    from sparseinit import density_report

    model = torch.nn.Sequential(_trained_layer(30, 20, 0.1), torch.nn.ReLU(), _trained_layer(20, 10, 0.2, seed=1),
                                torch.nn.BatchNorm1d(10))
    before = density_report(model)
    compact_dctps(model)
    after = density_report(model)
    assert [r.kind for r in after.layers] == ["CompactDCTpSLinear"] * 2
    for a, b in zip(after.layers, before.layers, strict=True):
        assert (a.name, a.shape, a.nnz, a.numel, a.stored_bytes, a.offset) == \
            (b.name, b.shape, b.nnz, b.numel, b.stored_bytes, b.offset)
    assert (after.other_bytes, after.dense_bytes, after.stored_bytes) == \
        (before.other_bytes, before.dense_bytes, before.stored_bytes)
    # the compact model's state is exactly what the report says a compact checkpoint stores
    assert after.stored_bytes == sum(t.numel() * t.element_size() for t in model.state_dict().values())


def test_load_state_dict_with_another_support_size():
    compact = CompactDCTpSLinear.from_masked(_trained_layer(20, 10, 0.3))
    fresh = CompactDCTpSLinear(20, 10, torch.tensor([0, 7]))
    buffer = io.BytesIO()
    torch.save(compact.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer))
    x = torch.randn(3, 20)
    torch.testing.assert_close(fresh(x), compact(x))
    assert fresh.nnz == compact.nnz


def test_trains_values_only_and_starts_as_alpha_d():
    from sparseinit.layers.dct import dct_matrix

    compact = CompactDCTpSLinear(16, 8, torch.tensor([1, 5, 40, 127]), path="fast", dtype=torch.float64)
    x = torch.randn(4, 16, dtype=torch.float64)
    torch.testing.assert_close(compact(x), x @ dct_matrix(8, 16, torch.float64).T, atol=1e-12, rtol=0)
    # of S only the nnz values are parameters (with α and b); the support is a buffer and never moves
    assert {name for name, _ in compact.named_parameters()} == {"values", "alpha", "bias"}
    support = compact.indices.clone()
    opt = torch.optim.SGD(compact.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        compact(x).square().sum().backward()
        opt.step()
    assert compact.values.grad.shape == (4,) and compact.values.abs().min() > 0
    assert torch.equal(compact.indices, support)
    weight = compact.to_masked().weight
    assert weight.count_nonzero() == 4 and torch.equal(weight.flatten().nonzero().squeeze(1), support.long())


def test_compact_model_in_place():
    model = torch.nn.Sequential(DCTpSLinear(10, 5), torch.nn.ReLU(), torch.nn.Sequential(DCTpSLinear(5, 3)))
    x = torch.randn(2, 10)
    expected = model(x)
    compact_dctps(model)
    assert isinstance(model[0], CompactDCTpSLinear) and isinstance(model[2][0], CompactDCTpSLinear)
    torch.testing.assert_close(model(x), expected)
    assert isinstance(compact_dctps(DCTpSLinear(3, 3)), CompactDCTpSLinear)


def test_bad_input():
    with pytest.raises(ValueError, match="values must have shape"):
        CompactDCTpSLinear(4, 4, torch.tensor([0, 1]), torch.zeros(3))
    with pytest.raises(ValueError, match=r"must lie in \[0, 16\)"):
        CompactDCTpSLinear(4, 4, torch.tensor([0, 16]))
    with pytest.raises(ValueError, match="in_features must be an integer >= 1"):
        CompactDCTpSLinear(0, 4, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"support indices must be an integer tensor, got torch\.float32"):
        CompactDCTpSLinear(4, 4, torch.tensor([1.5, 2.0]))  # was cut to [1, 2] without a word
    with pytest.raises(ValueError, match="values must have shape"):
        CompactDCTpSLinear(4, 4, [1, 2], values=[0.1, 0.2, 0.3])  # a list, not only a tensor, is checked


def test_numpy_integers_and_lists_are_accepted():
    layer = CompactDCTpSLinear(np.int64(4), np.int32(3), [1, 5], values=[0.5, -2.0], bias=False, alpha=0.0)
    expected = torch.zeros(3, 4)
    expected.view(-1)[[1, 5]] = torch.tensor([0.5, -2.0])
    x = torch.randn(2, 4)
    torch.testing.assert_close(layer(x), x @ expected.T)
    assert (layer.in_features, layer.out_features) == (4, 3) and type(layer.in_features) is int


def test_reloaded_in_inference_mode_then_training():
    compact = CompactDCTpSLinear.from_masked(_trained_layer(20, 10, 0.3))
    compact.path = "fast"
    compact.load_state_dict(compact.state_dict())  # indices copied in place: the structure is rebuilt
    x = torch.randn(3, 20)
    with torch.inference_mode():
        compact(x)
    compact(x).sum().backward()
    assert compact.values.grad is not None


def test_what_is_frozen_stays_frozen_through_conversion_and_reloading():
    layer = _trained_layer(20, 10, 0.3)
    layer.alpha.requires_grad_(False)  # α frozen (DCTpSLinear(alpha_trainable=False))
    compact = CompactDCTpSLinear.from_masked(layer)
    assert not compact.alpha.requires_grad and compact.values.requires_grad
    back = compact.to_masked()
    assert not back.alpha.requires_grad and back.weight.requires_grad
    compact.values.requires_grad_(False)  # S frozen too, e.g. to fine-tune the biases only
    fresh = CompactDCTpSLinear(20, 10, torch.tensor([0, 7]), alpha_trainable=False)
    fresh.values.requires_grad_(False)
    fresh.load_state_dict(compact.state_dict())  # another support size: values are re-created
    assert fresh.nnz == compact.nnz and not fresh.values.requires_grad and not fresh.alpha.requires_grad
