"""Draw a network's weights at an Edge-of-Chaos point ([A] §2; SPEC §2–3).

Every nn.Linear / nn.Conv2d gets W_ij ~ N(0, σ_w²/fan_in) and b_i ~ N(0, σ_b²), fan_in = in_features for a
linear layer and (in_channels/groups)·k_h·k_w for a convolution.

The first layer sees the data, not φ(h): its pre-activation variance is σ_w1² E[x²] + σ_b². With
``input_second_moment`` = E[x_j²] of the data (1 for standardised inputs, the default), the first layer's weight
variance is set to σ_w1² = (q* − σ_b²)/E[x²], so that q¹ = q*: the network starts on its fixed point. Pass
``input_second_moment=None`` to give the first layer the same σ_w² as the rest (the plain GP recursion).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import check_module, check_range
from .eoc import EdgeOfChaos


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The model's nn.Linear and nn.Conv2d layers, in ``modules()`` order."""
    return [mod for mod in model.modules() if isinstance(mod, (nn.Linear, nn.Conv2d))]


@torch.no_grad()
def init_eoc_(
    model: nn.Module,
    eoc: EdgeOfChaos,
    *,
    input_second_moment: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialise every linear/conv layer of ``model`` in place at ``eoc``; returns the model."""
    check_module("model", model)
    if not isinstance(eoc, EdgeOfChaos):
        raise TypeError(f"eoc must be an EdgeOfChaos (from sparseinit.edge_of_chaos(...)), got {type(eoc).__name__}")
    layers = weight_layers(model)
    if not layers:
        raise ValueError("model has no nn.Linear or nn.Conv2d layer to initialise")
    if input_second_moment is not None:
        input_second_moment = check_range("input_second_moment", input_second_moment, 0.0, None)
    for index, layer in enumerate(layers):
        fan_in = layer.weight[0].numel()
        var_w = eoc.sigma_w2
        if index == 0 and input_second_moment is not None:
            var_w = (eoc.q_star - eoc.sigma_b2) / input_second_moment
        layer.weight.normal_(0.0, math.sqrt(var_w / fan_in), generator=generator)
        if layer.bias is not None:
            layer.bias.normal_(0.0, math.sqrt(eoc.sigma_b2), generator=generator)
    return model
