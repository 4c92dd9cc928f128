"""input_selectivity against a dense reference: pre-activations pushed through layer by layer by hand, and each
unit's linear piece read off the activation's formula (SPEC §1), not from autograd."""

import numpy as np
import pytest
import torch
from torch import nn

from sparseinit import DeepCNN, DeepMLP, edge_of_chaos, input_selectivity


def _on_linear_piece(name: str, h: np.ndarray, tau: float, m: float | None) -> np.ndarray:
    mag = np.abs(h) if name == "cst" else h
    upper = np.inf if m is None else tau + m
    return (mag > tau) & (mag < upper)


def _reference(net: nn.Module, x: torch.Tensor, name: str, tau: float, m: float | None):
    """(selective count, passing count per layer, spread) by hand: Linear/Conv2d then φ, reading the pre-activation."""
    counts, passing, h, pre = [], [], x, None
    with torch.no_grad():
        for module in net.layers:
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                pre = module(h)
                h = pre
            elif isinstance(module, nn.Flatten):
                h = module(h)
            elif hasattr(module, "tau"):
                on = _on_linear_piece(name, pre.double().numpy(), tau, m)
                on = np.moveaxis(on, 1, 0).reshape(on.shape[1], -1)  # (units, inputs × positions)
                share = on.mean(axis=1)
                counts.append(int(((share > 0) & (share < 1)).sum()))
                passing.append(int((share > 0).sum()))
                h = module(pre)
                last = pre.double().numpy()
            else:
                break  # the CNN's read-out
    return counts, passing, float(last.std(axis=0, ddof=1).mean())


@pytest.mark.parametrize("name", ["crelu", "cst", "relu"])
def test_mlp_matches_the_dense_reference(name):
    point = edge_of_chaos(name, 0.85 if name != "relu" else None, m=1.0 if name != "relu" else None)
    torch.manual_seed(0)
    net = DeepMLP(12, 24, point, in_features=10, num_classes=3)
    x = torch.randn(40, 10)
    found = input_selectivity(net, x)
    counts, passing, spread = _reference(net, x, name, point.tau, point.m)
    assert list(found.count) == counts and list(found.passing) == passing
    assert found.width == (24,) * 12
    assert found.fraction == pytest.approx([c / 24 for c in counts])
    assert found.spread == pytest.approx(spread, rel=1e-6)
    assert found.min_fraction == min(found.fraction) and found.fraction[found.narrowest] == found.min_fraction
    assert sum(counts) > 0  # the reference is not trivially empty


def test_cnn_counts_channels_over_inputs_and_positions():
    point = edge_of_chaos("crelu", 0.85, m=1.0)
    torch.manual_seed(1)
    net = DeepCNN(5, 6, point, in_channels=1, num_classes=3, readout="flatten", image_size=7)
    x = torch.randn(9, 1, 7, 7)
    found = input_selectivity(net, x)
    counts, passing, spread = _reference(net, x, "crelu", point.tau, point.m)
    assert list(found.count) == counts and list(found.passing) == passing and found.width == (6,) * 5
    assert found.spread == pytest.approx(spread, rel=1e-6)


def test_chunking_does_not_change_the_result():
    point = edge_of_chaos("cst", 0.8, m=1.0)
    torch.manual_seed(2)
    net = DeepMLP(8, 16, point, in_features=5, num_classes=2)
    x = torch.randn(50, 5)
    whole, chunked = input_selectivity(net, x), input_selectivity(net, x, batch_size=7)
    assert whole.count == chunked.count and whole.passing == chunked.passing
    assert whole.spread == pytest.approx(chunked.spread, rel=1e-9)


def test_a_closed_layer_is_found_and_cuts_the_input_off():
    point = edge_of_chaos("crelu", 0.85, m=1.0)
    torch.manual_seed(3)
    net = DeepMLP(6, 16, point, in_features=5, num_classes=4)
    linears = [m for m in net.layers if isinstance(m, nn.Linear)]
    with torch.no_grad():
        linears[3].bias.fill_(-1e3)  # every unit of hidden layer 4 (index 3) far below τ: off for every input
    x = torch.randn(30, 5)
    found = input_selectivity(net, x)
    assert found.closed_layers == [3] and found.passing[3] == 0 and found.count[3] == 0
    out = net(x)
    assert torch.allclose(out, out[:1].expand_as(out))  # the consequence: one output for every input
    out.sum().backward()
    assert all(float(lin.weight.grad.abs().max()) == 0.0 for lin in linears[:4])  # and no gradient up to it
    assert found.to_dict()["closed_layers"] == [3]


def test_leaves_the_model_as_it_was():
    point = edge_of_chaos("crelu", 0.85, m=1.0)
    net = DeepMLP(4, 8, point, in_features=3, num_classes=2).train()
    before = [p.detach().clone() for p in net.parameters()]
    x = torch.randn(10, 3)
    state = torch.get_rng_state()
    input_selectivity(net, x)
    assert net.training and all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert torch.equal(state, torch.get_rng_state())  # no random numbers drawn
    assert all(not m._forward_hooks for m in net.modules())


def test_bad_input_is_a_one_line_error():
    with pytest.raises(ValueError, match="no sparsifying activation"):
        input_selectivity(nn.Sequential(nn.Linear(3, 2)), torch.randn(4, 3))
    net = DeepMLP(2, 4, edge_of_chaos("crelu", 0.85, m=1.0), in_features=3, num_classes=2)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        input_selectivity(net, torch.randn(1, 3))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        input_selectivity(net, torch.randn(4, 3), batch_size=0)


def test_in_place_relu_nested_modes_and_a_constant_last_layer():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(inplace=True), nn.Linear(8, 8), nn.ReLU(inplace=True),
                        nn.Linear(8, 2))
    x = torch.randn(20, 5)
    h1 = net[0](x)
    share = (h1 > 0).float().mean(dim=0)
    found = input_selectivity(net, x)  # the input of an in-place activation is read before it is overwritten
    assert found.count[0] == int(((share > 0) & (share < 1)).sum()) and found.passing[0] == int((share > 0).sum())
    net.train()
    net[2].eval()
    input_selectivity(net, x)
    assert net.training and not net[2].training and net[0].training  # each module's mode as it was
    with torch.no_grad():
        net[2].weight.zero_()  # the last hidden pre-activation is its bias: the same for every input
    assert input_selectivity(net, x, batch_size=3).spread == 0.0


def test_a_shared_activation_module_is_refused():
    act = edge_of_chaos("crelu", 0.85, m=1.0).module()
    net = nn.Sequential(nn.Linear(3, 4), act, nn.Linear(4, 4), act, nn.Linear(4, 2))
    with pytest.raises(ValueError, match="runs more than once in a forward pass"):
        input_selectivity(net, torch.randn(6, 3))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got True"):
        input_selectivity(net, torch.randn(6, 3), batch_size=True)
    with pytest.raises(ValueError, match="needs a tensor batch of at least 2 inputs, got list"):
        input_selectivity(net, [[1.0, 2.0, 3.0]])
