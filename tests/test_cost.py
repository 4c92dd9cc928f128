"""cost(): multiply-adds and bytes per layer against numbers worked out by hand on tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sparseinit
from sparseinit.acceleration import accelerate
from sparseinit.cost import cost
from sparseinit.models import DeepMLP


def tiny_mlp() -> tuple[nn.Sequential, torch.Tensor]:
    """Linear(4, 3) → ReLU → Linear(3, 2); the hidden activations of x are [[1, 0, 0.5], [0, 0, 0]]."""
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(3, 4))
        model[0].bias.copy_(torch.tensor([0.0, 0.0, -1.5]))
    x = torch.tensor([[1.0, 0.0, 2.0, -1.0], [0.0, 0.0, 1.0, 1.0]])
    return model, x


def test_tiny_mlp_by_hand():
    model, x = tiny_mlp()
    report = cost(model, x)
    first, second = report.layers
    # layer 0 reads the raw input (3 zeros of 8): not on the sparse path, sparse = dense
    assert (first.name, first.kind, first.accelerated) == ("0", "linear", False)
    assert first.input_zero_fraction == pytest.approx(3 / 8)
    assert first.dense_macs == first.sparse_macs == 2 * 4 * 3  # rows · in · out
    assert first.dense_bytes == first.sparse_bytes == 4 * (4 * 3 + 3 + 2 * 4 + 2 * 3)  # W, b, x, y in float32
    # layer 2 reads relu output: 2 non-zeros of 6, active inputs {0, 2}
    assert (second.name, second.accelerated) == ("2", True)
    assert second.input_zero_fraction == pytest.approx(4 / 6)
    assert second.dense_macs == 2 * 3 * 2 and second.sparse_macs == 2 * 2  # nnz · out
    assert second.dense_bytes == 4 * (3 * 2 + 2 + 6 + 4)  # 72
    assert second.sparse_bytes == 4 * (2 * 2 + 2 + 6 + 4)  # 2 active rows of Wᵀ: 64
    assert second.mac_saving == pytest.approx(3.0)
    assert report.totals() == {"dense_macs": 36, "sparse_macs": 28, "dense_bytes": 116 + 72,
                               "sparse_bytes": 116 + 64, "mac_saving": pytest.approx(36 / 28),
                               "byte_saving": pytest.approx(188 / 180)}
    assert "total" in report.table() and len(report.to_dict()["layers"]) == 2


def test_accelerated_model_gives_the_same_report():
    model, x = tiny_mlp()
    assert cost(accelerate(model), x) == cost(model, x)
    torch.manual_seed(1)
    cnn = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, bias=False),
                        nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3, bias=False))
    x = torch.randn(2, 2, 6, 6)
    assert cost(accelerate(cnn), x) == cost(cnn, x)


def test_tiny_cnn_by_hand_counts_only_taps_inside_the_image():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[:, 0, 1, 1] = 1.0  # centre tap: channel 0 copies x, channel 1 too ...
        model[0].bias.copy_(torch.tensor([0.0, -10.0]))  # ... shifted to all-negative
    x = -torch.ones(1, 1, 3, 3)
    x[0, 0, 0, 0] = 2.0  # hidden: a single non-zero, channel 0 at the corner (0, 0)
    first, second = cost(model, x).layers
    assert first.accelerated is False
    assert first.dense_macs == first.sparse_macs == 1 * 2 * 3 * 3 * 1 * 9  # B · O · H' · W' · C · k²
    assert first.dense_bytes == 4 * (2 * 1 * 9 + 2 + 9 + 18)
    assert second.accelerated is True
    assert second.input_zero_fraction == pytest.approx(17 / 18)
    assert second.dense_macs == 1 * 3 * 3 * 3 * 2 * 9  # 486
    # the corner pixel reaches 2 × 2 output pixels (the other taps fall in the padding), each for O = 3 channels
    assert second.sparse_macs == 4 * 3
    assert second.dense_bytes == 4 * (3 * 2 * 9 + 3 + 18 + 27)
    assert second.sparse_bytes == 4 * (3 * 1 * 9 + 3 + 18 + 27)  # only channel 0's weights are needed


def test_deep_mlp_sparse_macs_follow_the_measured_zero_fraction():
    torch.manual_seed(0)
    model = DeepMLP(3, 200, sparseinit.edge_of_chaos("crelu", 0.85), in_features=50)
    x = torch.randn(32, 50)
    nonzero = {}  # the non-zeros each linear layer reads, counted by a hook on the layer itself

    def count(name):
        return lambda module, args: nonzero.__setitem__(name, int((args[0] != 0).sum()))

    for name, layer in model.named_modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_pre_hook(count(name))
    report = cost(model, x)
    hidden = [c for c in report.layers if c.accelerated]
    assert len(hidden) == 3  # two hidden layers and the read-out
    for c in hidden:
        assert c.sparse_macs == nonzero[c.name] * model.get_submodule(c.name).out_features
        assert c.sparse_macs == round((1 - c.input_zero_fraction) * c.dense_macs)
        assert 0.75 < c.input_zero_fraction < 0.95
    assert report.mac_saving > 2.0


def test_model_without_weight_layers_is_refused():
    with pytest.raises(ValueError, match=r"no nn\.Linear or nn\.Conv2d"):
        cost(nn.Sequential(nn.ReLU()), torch.randn(2, 3))


@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_counts_against_impulses_through_the_real_convolution(kernel):
    """padding="same" (odd kernels, dilation 1: what accelerate() replaces) and a batch of 2: each non-zero input
    element takes part in as many multiply-adds as the output pixels it reaches, found by pushing it alone through
    torch's own convolution with an all-ones kernel."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, kernel, padding="same", bias=False)
    model = nn.Sequential(nn.ReLU(), conv)  # the ReLU output is the conv's input: the conv is on the sparse path
    x = torch.randn(2, 2, 6, 5) - 0.6
    layer = cost(model, x).layers[0]
    assert layer.accelerated
    hidden = torch.relu(x)
    assert layer.dense_macs == 2 * 3 * 6 * 5 * 2 * kernel**2  # B · O · H · W · C · k² ("same": H' = H)
    ones = nn.Conv2d(1, 1, kernel, padding="same", bias=False)
    nn.init.ones_(ones.weight)
    expected = 0
    for _, _, i, j in hidden.nonzero().tolist():
        impulse = torch.zeros(1, 1, 6, 5)
        impulse[0, 0, i, j] = 1.0
        with torch.no_grad():
            expected += int((ones(impulse) != 0).sum()) * 3  # every output channel reads it
    assert 0 < expected < layer.dense_macs
    assert layer.sparse_macs == expected
