"""Input-selective units: which hidden units of a network can pass information about its input ([A] at finite width).

A unit (a channel, in a convolution) is *input-selective* on a batch when its activation sits on a linear piece,
φ'(h) ≠ 0, for some but not all of the batch's inputs (and positions): a unit that is off for every input (φ = 0)
or on the clipped plateau for every input (φ = m) emits the same value whatever came in; a unit on a linear piece
for every input is affine on the batch. The sparsifying activations of [A] zero 85–90 % of pre-activations and clip
the rest, so in a deep narrow network a layer can end up with few or no selective units. A layer is *closed* when
no unit is on a linear piece for any input: no gradient reaches it or any layer before it, and unless some unit
sits at 0 for some inputs and at the clip for others, it emits the same vector for every input, so the output
ignores the input. Training from such an initialisation stays at chance (``results/a_cnn/`` §"Twice the budget",
``results/a_dnn/`` §"What stops crelu at depth 100"). :func:`input_selectivity` measures both.

    selective fraction of layer l = #{units j : 0 < P_batch(φ'(h^l_j) ≠ 0) < 1} / width
    passing units of layer l     = #{units j : P_batch(φ'(h^l_j) ≠ 0) > 0}      (closed: none)
    spread = mean over units (and positions) of std over inputs of the last hidden layer's pre-activation
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
from torch import nn

from ._validate import check_module


@dataclass(frozen=True)
class Selectivity:
    """Per hidden layer (input to output): the fraction and count of input-selective units, the count of units on
    a linear piece for at least one input (``passing``), the layer's width (units or channels), and the spread of
    the last hidden layer's pre-activations across the inputs."""

    fraction: tuple[float, ...]
    count: tuple[int, ...]
    passing: tuple[int, ...]
    width: tuple[int, ...]
    spread: float

    @property
    def narrowest(self) -> int:
        """Index of the layer with the smallest selective fraction (the first of equals)."""
        return min(range(len(self.fraction)), key=self.fraction.__getitem__)

    @property
    def min_fraction(self) -> float:
        """The selective fraction of the narrowest layer."""
        return self.fraction[self.narrowest]

    @property
    def closed_layers(self) -> list[int]:
        """0-based indices of the layers where no unit is on a linear piece for any input: no gradient reaches
        them or the layers before them (the training summary's ``init_closed_layers`` counts from 1)."""
        return [i for i, c in enumerate(self.passing) if c == 0]

    def to_dict(self) -> dict:
        """The fields, narrowest layer and closed layers as a plain dict."""
        return {"fraction": list(self.fraction), "count": list(self.count), "passing": list(self.passing),
                "width": list(self.width),
                "spread": self.spread, "narrowest": self.narrowest, "closed_layers": self.closed_layers}


@torch.no_grad()
def input_selectivity(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> Selectivity:
    """Measure the input-selective units of every sparsifying activation of ``model`` on the inputs ``x``.

    The activations are found by :func:`sparseinit.models.hidden_activations`, each of which must run once per
    forward pass; φ' ≠ 0 is taken from autograd at each activation's input (1 on the linear pieces, 0 on the zero
    set and the plateau, SPEC §1). ``x`` is pushed through in chunks of ``batch_size`` (the result does not depend
    on it). The model's parameters and training modes are left as they were; no random numbers are drawn.
    """
    check_module("model", model)
    from .models import hidden_activations

    layers = hidden_activations(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no sparsifying activation to measure")
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) < 2:
        raise ValueError(f"input_selectivity needs a tensor batch of at least 2 inputs, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    on_count: list[torch.Tensor | None] = [None] * len(layers)  # per unit: inputs × positions on a linear piece
    seen = [0] * len(layers)
    calls = [0] * len(layers)
    # the last hidden pre-activation's sums, shifted by the first chunk's mean so a constant one has spread 0
    shift = last_sum = last_sq = None

    def record(index: int, args: tuple) -> None:
        nonlocal shift, last_sum, last_sq
        calls[index] += 1
        pre = args[0].detach()
        with torch.enable_grad():  # before the layer runs, so an in-place activation cannot change its input first
            h = pre.clone().requires_grad_(True)
            on = torch.autograd.grad(layers[index].forward(h + 0).sum(), h)[0] != 0
        on = on.transpose(0, 1).flatten(1)  # (units, inputs × positions)
        count = on.sum(dim=1, dtype=torch.float64)
        on_count[index] = count if on_count[index] is None else on_count[index] + count
        seen[index] += on.shape[1]
        if index == len(layers) - 1:
            h64 = pre.double()
            shift = h64.mean(dim=0) if shift is None else shift
            centred = h64 - shift
            last_sum = centred.sum(dim=0) + (0 if last_sum is None else last_sum)
            last_sq = centred.pow(2).sum(dim=0) + (0 if last_sq is None else last_sq)

    hooks = [layer.register_forward_pre_hook(lambda mod, args, i=i: record(i, args)) for i, layer in enumerate(layers)]
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        for chunk in x.split(int(batch_size)):
            before = list(calls)
            model(chunk)
            twice = [layers[i] for i in range(len(layers)) if calls[i] - before[i] > 1]
            if twice:
                raise ValueError(f"{twice[0]!r} runs more than once in a forward pass of {type(model).__name__}: "
                                 "give each hidden layer its own activation module")
    finally:
        for module, mode in modes.items():
            module.training = mode
        for hook in hooks:
            hook.remove()
    if any(count is None for count in on_count):
        missing = next(layer for layer, count in zip(layers, on_count, strict=True) if count is None)
        raise ValueError(f"{missing!r} was not called in the forward pass of {type(model).__name__}")
    fractions, counts, passing, widths = [], [], [], []
    for count, total in zip(on_count, seen, strict=True):
        share = count / total
        selective = int(((share > 0) & (share < 1)).sum())
        fractions.append(selective / len(share))
        counts.append(selective)
        passing.append(int((share > 0).sum()))
        widths.append(len(share))
    n = len(x)
    variance = ((last_sq - last_sum.pow(2) / n) / (n - 1)).clamp(min=0)
    return Selectivity(tuple(fractions), tuple(counts), tuple(passing), tuple(widths), float(variance.sqrt().mean()))
