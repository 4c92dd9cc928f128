"""init_eoc_: weight and bias variances against σ_w²/fan_in and σ_b², and the first-layer input scaling."""

import pytest
import torch
from torch import nn

from sparseinit import edge_of_chaos, init_eoc_


def test_linear_and_conv_variances():
    p = edge_of_chaos("crelu", 0.85, m=1.0)
    model = nn.Sequential(nn.Linear(300, 400), nn.Linear(400, 500), nn.Conv2d(8, 64, 3, groups=2), nn.Conv2d(64, 96, 5))
    init_eoc_(model, p, input_second_moment=None, generator=torch.Generator().manual_seed(0))
    for layer, fan_in in zip(model, [300, 400, 4 * 9, 64 * 25], strict=True):
        expected = p.sigma_w2 / fan_in
        n = layer.weight.numel()
        assert layer.weight.var().item() == pytest.approx(expected, rel=6 * (2 / n) ** 0.5)
        assert layer.weight.mean().item() == pytest.approx(0.0, abs=6 * (expected / n) ** 0.5)
    biases = torch.cat([layer.bias for layer in model])
    assert biases.var().item() == pytest.approx(p.sigma_b2, rel=6 * (2 / biases.numel()) ** 0.5)


def test_first_layer_maps_inputs_onto_q_star():
    p = edge_of_chaos("relu_tau", 0.85, q_star=2.0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(512, 784, generator=gen) * 0.3  # E[x²] = 0.09
    model = nn.Sequential(nn.Linear(784, 2000), nn.ReLU(), nn.Linear(2000, 10))
    init_eoc_(model, p, input_second_moment=0.09, generator=gen)
    q1 = model[0](x).pow(2).mean().item()
    assert q1 == pytest.approx(2.0, rel=0.03)
    init_eoc_(model, p, input_second_moment=None, generator=gen)  # plain recursion: σ_w² E[x²] + σ_b²
    assert model[0](x).pow(2).mean().item() == pytest.approx(p.sigma_w2 * 0.09 + p.sigma_b2, rel=0.03)


def test_errors():
    p = edge_of_chaos("relu")
    with pytest.raises(ValueError, match=r"no nn\.Linear or nn\.Conv2d"):
        init_eoc_(nn.Sequential(nn.ReLU()), p)
    with pytest.raises(ValueError, match=r"input_second_moment must be in \(0, inf\)"):
        init_eoc_(nn.Linear(3, 3), p, input_second_moment=0.0)
    with pytest.raises(TypeError, match=r"eoc must be an EdgeOfChaos .*got str"):
        init_eoc_(nn.Linear(3, 3), "crelu")
