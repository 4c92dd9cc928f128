"""RigL dynamic sparse training (Evci et al., ICML 2020, §3), for plain sparse and DCT-plus-Sparse models ([C] §5).

Every ``update_every`` steps t until ``stop_step`` = stop_fraction · total_steps, each masked layer with n active
weights swaps k = round(f(t) · n) of them (at most the number of inactive entries), f(t) = (drop_fraction / 2)
(1 + cos(π t / stop_step)):

    drop   the k active weights of smallest |w|
    grow   the k connections with largest |∂L/∂w| among those not kept (a just-dropped one may come back), using
           the dense gradient of the last mini-batch; grown weights start at exactly 0

so each layer's density is constant. [C] uses ΔT = 100, drop fraction 0.3, stop at 75% of training (SPEC §4).
For a DCTpS layer the swapped weights are those of S; α and D are untouched.

The training loop calls ``rigl.step(step_index)`` after each ``optimizer.step()``, with consecutive step indices
(0- or 1-based). Updates happen when step_index is a positive multiple of ``update_every`` below ``stop_step``.
The dense gradient is recorded by the layers during the backward just before an update step only (the layers'
``capture_dense_grad``). With an ``optimizer``, its state (momentum, Adam moments) is zeroed at dropped and grown
positions. In data-parallel training pass ``reduce_grad`` (e.g. an all-reduce) so that every process grows the
same connections.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .._validate import check_int, check_range
from ..layers.masking import masked_layers, zero_masked_state_
from ..layers.sparse import MaskedLayer


class RigL:
    """Drop-and-grow controller for the masked layers of ``model``; see the module docstring."""

    def __init__(self, model: nn.Module, total_steps: int, *, update_every: int = 100, drop_fraction: float = 0.3,
                 stop_fraction: float = 0.75, optimizer: torch.optim.Optimizer | None = None,
                 reduce_grad: Callable[[torch.Tensor], object] | None = None) -> None:
        total_steps, update_every = check_int("total_steps", total_steps, 1), check_int("update_every", update_every, 1)
        self.drop_fraction = check_range("drop_fraction", drop_fraction, 0.0, 1.0, lo_open=False, hi_open=False)
        stop_fraction = check_range("stop_fraction", stop_fraction, 0.0, 1.0, hi_open=False)
        self.layers: list[MaskedLayer] = masked_layers(model)
        if not self.layers:
            raise ValueError("model has no sparse layer for RigL; call sparsify() first")
        self.model, self.optimizer, self.reduce_grad = model, optimizer, reduce_grad
        self.total_steps, self.update_every = total_steps, update_every
        self.stop_step = max(1, round(stop_fraction * total_steps))
        self.updates = 0
        self.last_swap: list[tuple[torch.Tensor, torch.Tensor]] = []  # (kept, grown) per layer, last update
        self._capture(True)  # the first call may already be an update step

    def drop_fraction_at(self, step_index: int) -> float:
        """f(t) = (drop_fraction / 2)(1 + cos(π t / stop_step)); 0 from stop_step on."""
        if step_index >= self.stop_step:
            return 0.0
        return 0.5 * self.drop_fraction * (1.0 + math.cos(math.pi * step_index / self.stop_step))

    def is_update_step(self, step_index: int) -> bool:
        """True when ``step_index`` drops and grows: a positive multiple of ``update_every`` below ``stop_step``."""
        return 0 < step_index < self.stop_step and step_index % self.update_every == 0

    def _capture(self, on: bool) -> None:
        for layer in self.layers:
            layer.capture_dense_grad = on
            if not on:
                layer.dense_grad = None

    @torch.no_grad()
    def step(self, step_index: int) -> bool:
        """Call after ``optimizer.step()``; drops and grows if ``step_index`` is an update step. True if it did."""
        updated = False
        if self.is_update_step(step_index):
            self._update(self.drop_fraction_at(step_index))
            updated = True
        self._capture(self.is_update_step(step_index + 1))
        return updated

    def _update(self, fraction: float) -> None:
        grown_at: dict[MaskedLayer, torch.Tensor] = {}
        self.last_swap = []
        for layer in self.layers:
            grad = layer.dense_grad
            if grad is None:
                raise RuntimeError("RigL found no dense gradient: call rigl.step(i) after every optimizer step, "
                                   "with a backward pass through the model before it")
            if self.reduce_grad is not None:
                grad = grad.clone()
                self.reduce_grad(grad)
            kept, grown = self._swap(layer, grad, fraction)
            grown_at[layer] = grown
            self.last_swap.append((kept, grown))
        if self.optimizer is not None:
            zero_masked_state_(self.optimizer, self.model, grown_at)
        self.updates += 1

    @staticmethod
    def _swap(layer: MaskedLayer, grad: torch.Tensor, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Drop the k smallest |w| of the support, grow the k largest |grad| outside what is kept; (kept, grown)."""
        mask = layer.mask.flatten()
        active = int(mask.sum())
        # at most as many as there are inactive entries: a full layer would only drop and regrow the same
        # weights at 0, i.e. reset them (the grow pool, all but the kept, always has >= k entries)
        k = min(round(fraction * active), mask.numel() - active)
        shape = layer.mask.shape
        if k == 0:
            return layer.mask.clone(), torch.zeros_like(layer.mask)
        grown = torch.zeros_like(mask)
        weight = layer.weight.detach().flatten()
        inf = torch.tensor(float("inf"), dtype=weight.dtype, device=weight.device)
        keep_score = torch.where(mask, weight.abs(), -inf)
        kept = torch.zeros_like(mask)
        kept[torch.topk(keep_score, active - k, sorted=False).indices] = True
        grow_score = torch.where(kept, -inf, grad.flatten().abs().to(weight.dtype))
        grown[torch.topk(grow_score, k, sorted=False).indices] = True
        kept, grown = kept.reshape(shape), grown.reshape(shape)
        layer.mask.copy_(kept | grown)
        layer.weight.masked_fill_(~kept, 0.0)  # dropped -> 0, and grown (even just-dropped ones) start at 0
        return kept, grown
