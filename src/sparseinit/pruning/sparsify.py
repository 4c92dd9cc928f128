"""``sparsify``: make a dense model sparse at initialisation, with or without the DCT offset of [C].

    sparsify(model, density, offset="dct" | None, budget=..., method=..., data=..., seed=...)

replaces every ``nn.Linear`` / ``nn.Conv2d`` of ``model`` (found with ``isinstance``; ``keep_first`` /
``keep_last`` leave the first / last of them dense, in ``modules()`` order) by

    offset="dct"  DCTpSLinear / DCTpSConv2d: α·D + S ⊙ M, α = 1, S = 0 on the chosen support ([C] §3)
    offset=None   SparseLinear / SparseConv2d: W ⊙ M with W the layer's own initial weights on the support
                  (the zoo initialises Kaiming-normal, so the random baseline is "Kaiming on the support")

and returns the model (modified in place). Biases, strides, paddings, groups are kept.

The support: ``budget`` fixes how many weights each layer keeps (:mod:`.budgets`; "global" = one top-T over all
layers' scores, as the published saliency methods do), ``method`` which ones (:mod:`.methods`). By default
(``budget=None``) random uses "epl" ([C]'s default for DCTpS) and every scored method "global". The density counts
the replaced layers' kernel weights: T = round(density · Σ|W_l|) of them are trainable.

For a scored method each replaced layer first receives the dense layer's weights as candidates, the scores are
computed in the new model — so with the offset they are the scores of S inside the DCTpS network — and only then
is S set to zero (offset) or the weights restricted to the support (no offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import MAX_SEED, check_choice, check_int, check_module, check_range
from ..layers.dctps import DCTpSConv2d, DCTpSLinear
from ..layers.sparse import MaskedLayer, SparseConv2d, SparseLinear
from . import saliency
from .budgets import BUDGETS, layer_budgets, total_budget
from .methods import METHODS, NEEDS_DATA, choose_masks

OFFSETS = ("dct", None)


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every ``nn.Linear`` / ``nn.Conv2d`` (isinstance) in ``named_modules()`` order.

    The linear layers inside ``nn.MultiheadAttention`` are skipped: it reads their weights directly.
    """
    check_module("model", model)
    skip: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            skip.update(id(m) for m in module.modules() if m is not module)
    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, nn.Conv2d)) and id(module) not in skip]


def _replacement(module: nn.Module, offset: str | None) -> MaskedLayer:
    if isinstance(module, nn.Conv2d):
        cls = DCTpSConv2d if offset == "dct" else SparseConv2d
    else:
        cls = DCTpSLinear if offset == "dct" else SparseLinear
    return cls.from_dense(module, keep_weight=True)


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def sparsify(model: nn.Module, density: float, *, offset: str | None = "dct", budget: str | None = None,
             method: str = "random", data: Any = None, seed: int = 0, keep_first: bool = False,
             keep_last: bool = False, input_shape: Sequence[int] | None = None, iterations: int | None = None,
             loss_fn: saliency.Loss = F.cross_entropy) -> nn.Module:
    """Replace ``model``'s linear/conv layers by sparse or DCT-plus-Sparse ones at ``density``; returns ``model``.

    density     trainable fraction of the replaced layers' kernel weights, in (0, 1] (layers kept dense by
                keep_first/keep_last are outside this budget, so ``density_report`` of the whole model is higher)
    offset      "dct" (DCTpS layers, S = 0) or None (plain sparse layers keeping their initial weights)
    budget      "epl" | "uniform" | "epf" | "erk" | "global" | None (None: epl for random, global otherwise)
    method      "random" | "snip" | "grasp" | "synflow" | "force" | "magnitude"
    data        an (inputs, targets) batch or an iterable of them; required by snip, grasp and force
    seed        seeds the random supports (method="random")
    input_shape input shape without batch dimension for synflow (default: from data or ``model.input_shape``)
    iterations  rounds of synflow (100) / force (10)
    """
    check_module("model", model)
    density = check_range("density", density, 0.0, 1.0, hi_open=False)
    if offset not in OFFSETS:
        raise ValueError(f"unknown offset {offset!r}; choose one of 'dct', None")
    check_choice("method", method, METHODS)
    if budget is None:
        budget = "epl" if method == "random" else "global"
    check_choice("budget", budget, (*BUDGETS, "global"))
    if method in NEEDS_DATA and data is None:
        raise ValueError(f"method {method!r} needs data= (an (inputs, targets) batch or a loader); "
                         f"the data-free methods are random, magnitude and synflow")
    targets = prunable_layers(model)
    if not targets:
        raise ValueError("model has no nn.Linear or nn.Conv2d layer to sparsify")
    if keep_last:
        targets = targets[:-1]
    if keep_first:
        targets = targets[1:]
    if not targets:
        raise ValueError("keep_first/keep_last leave no layer to sparsify")

    shapes = [tuple(module.weight.shape) for _, module in targets]
    counts: int | list[int]
    if budget == "global":
        counts = total_budget(density, [module.weight.numel() for _, module in targets])
    else:
        counts = layer_budgets(shapes, density, budget)

    seed = check_int("seed", seed, 0, MAX_SEED)

    layers: list[MaskedLayer] = []
    try:
        for name, module in targets:
            new = _replacement(module, offset)
            new.train(module.training)
            _set_submodule(model, name, new)
            layers.append(new)
        generator = torch.Generator().manual_seed(seed)
        masks = choose_masks(model, layers, counts, method, data=data, input_shape=input_shape,
                             iterations=iterations, loss_fn=loss_fn, generator=generator)
    except Exception as error:
        # leave the caller's model as it was: a half-replaced model would compute α·D + W at density 1
        for (name, module), _ in zip(targets, layers, strict=False):
            _set_submodule(model, name, module)
        if isinstance(error, RuntimeError) and method != "random":
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"method {method!r} could not run the model on the given data/input_shape: "
                             f"{first}") from error
        raise
    with torch.no_grad():
        for layer, mask in zip(layers, masks, strict=True):
            layer.set_mask_(mask)
            if offset == "dct":
                layer.weight.zero_()
    return model
