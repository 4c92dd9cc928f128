"""Keeping every masked weight at exactly zero across a whole model and its optimizer.

The layers already train only on their support (the kernel is W ⊙ M, so off-support gradients are zero, and
with zero weights and zero state no optimizer moves them). These helpers make that a guarantee rather than a
consequence of the optimizer's arithmetic:

    keep_masks(optimizer, model)   re-zero off-support weights after every ``optimizer.step()`` (a step post-hook)
    apply_masks_(model)            re-zero them now
    zero_masked_state_(optimizer, model)
                                   zero the optimizer's per-weight state (momentum, Adam moments) off the support;
                                   needed when a support changes (RigL), so that a dropped weight carries no stale
                                   momentum and a regrown one starts from a clean state
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .._validate import check_module
from .sparse import MaskedLayer


def masked_layers(model: nn.Module) -> list[MaskedLayer]:
    """The model's :class:`MaskedLayer` modules (SparseLinear/Conv2d, DCTpSLinear/Conv2d), in ``modules()`` order."""
    check_module("model", model)
    return [module for module in model.modules() if isinstance(module, MaskedLayer)]


@torch.no_grad()
def apply_masks_(model: nn.Module) -> nn.Module:
    """Set every masked layer's weight to exact zero off its support; returns the model."""
    check_module("model", model)
    for layer in masked_layers(model):
        layer.apply_mask_()
    return model


@torch.no_grad()
def zero_masked_state_(optimizer: torch.optim.Optimizer, model: nn.Module,
                       extra: dict[MaskedLayer, torch.Tensor] | None = None) -> None:
    """Zero every state tensor of ``optimizer`` shaped like a masked weight, off that weight's support.

    ``extra`` maps a layer to a further bool tensor of positions to zero (RigL: the newly grown ones).
    """
    extra = extra or {}
    for layer in masked_layers(model):
        state = optimizer.state.get(layer.weight)
        if not state:
            continue
        drop = ~layer.mask
        if layer in extra:
            drop = drop | extra[layer]
        for value in state.values():
            if torch.is_tensor(value) and value.shape == layer.weight.shape:
                value.masked_fill_(drop, 0)


def keep_masks(optimizer: torch.optim.Optimizer, model: nn.Module) -> RemovableHandle:
    """Register a post-step hook on ``optimizer`` that calls :func:`apply_masks_` on ``model`` after each step.

    Returns the hook's handle (``handle.remove()`` to detach). The hook is not saved in ``optimizer.state_dict()``:
    register it again after re-creating the optimizer.
    """
    layers = masked_layers(model)

    def hook(opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        with torch.no_grad():
            for layer in layers:
                layer.apply_mask_()

    return optimizer.register_step_post_hook(hook)
