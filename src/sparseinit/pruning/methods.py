"""Choosing the supports of a model's masked layers with one of the sparse-at-initialisation methods of [C] §5.

    random     uniform at random within each layer (the budget decides how many)
    magnitude  largest |w| of the initial weights
    snip       SNIP, one mini-batch (Lee et al. 2019)
    grasp      GraSP, one mini-batch, T = 200 (Wang et al. 2020)
    synflow    SynFlow, iterative and data-free: 100 rounds to densities d^{t/100}, pruned weights stay pruned
               (Tanaka et al. 2020, Alg. 1)
    force      FORCE, iterative: 10 rounds to densities d^{t/10}; each round scores |w₀ ⊙ ∂L/∂w| with w₀ the initial
               weights and the gradient taken in the network pruned by the previous round, so a pruned weight
               can come back (de Jorge et al. 2021, Alg. 1), one mini-batch per round

All run on a deep copy of the model: the model itself is not touched. Its masked layers must hold the candidate
weights (the dense initialisation) — :func:`sparseinit.sparsify` arranges that before calling :func:`choose_masks`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_choice, check_int
from ..layers.sparse import MaskedLayer
from . import saliency
from .selection import Counts, schedule, select_top

METHODS = ("random", "snip", "grasp", "synflow", "force", "magnitude")
NEEDS_DATA = ("snip", "grasp", "force")
DEFAULT_ITERATIONS = {"synflow": 100, "force": 10}


def batches(data: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless stream of (inputs, targets): ``data`` is one such pair, or an iterable of them (a DataLoader)."""
    if _is_pair(data):
        return itertools.repeat((data[0], data[1]))
    if torch.is_tensor(data) or not isinstance(data, Iterable):
        raise ValueError(f"data must be an (inputs, targets) pair of tensors or an iterable of such pairs, "
                         f"got {_describe(data)}")

    def cycle() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            empty = True
            for item in data:
                empty = False
                if not _is_pair(item):
                    raise ValueError(f"data must yield (inputs, targets) pairs of tensors, got {_describe(item)}")
                yield item[0], item[1]
            if empty:
                raise ValueError("data yielded no batch")

    return cycle()


def _is_pair(item: Any) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2 and all(torch.is_tensor(t) for t in item)


def _describe(item: Any) -> str:
    if torch.is_tensor(item):
        return f"a tensor of shape {tuple(item.shape)}"
    if isinstance(item, (tuple, list)):
        return f"a {type(item).__name__} of {len(item)} item(s)"
    return f"a {type(item).__name__}"


def choose_masks(model: nn.Module, layers: Sequence[MaskedLayer], counts: Counts, method: str, *,
                 data: Any = None, input_shape: Sequence[int] | None = None, iterations: int | None = None,
                 loss_fn: saliency.Loss = F.cross_entropy,
                 generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Boolean supports for ``layers`` (masked layers of ``model``) with ``counts`` kept, by ``method``.

    ``counts``: one int (global top-k over all layers) or one int per layer. ``data`` feeds snip/grasp/force;
    ``input_shape`` (without the batch dimension) feeds synflow, by default taken from ``data`` or from
    ``model.input_shape``. ``iterations`` overrides the rounds of synflow (100) and force (10).
    """
    check_choice("method", method, METHODS)
    if method in NEEDS_DATA and data is None:
        raise ValueError(f"method {method!r} needs data= (an (inputs, targets) batch or a loader); "
                         f"the data-free methods are random, magnitude and synflow")
    iterations = None if iterations is None else check_int("iterations", iterations, 1)
    if method == "random":
        scores = [torch.rand(layer.weight.shape, generator=generator) for layer in layers]
        return [m.to(layer.weight.device) for m, layer in zip(select_top(scores, counts), layers, strict=True)]
    if method == "magnitude":
        return select_top(saliency.magnitude_scores([layer.weight for layer in layers]), counts)

    work, work_layers = _work_copy(model, layers)
    weights = [layer.weight for layer in work_layers]
    initial = [w.detach().clone() for w in weights]
    device = weights[0].device
    stream = batches(data) if data is not None else None

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        x, y = next(stream)  # type: ignore[arg-type]
        return x.to(device), y.to(device)

    if method == "snip":
        work.train()
        return select_top(saliency.snip_scores(work, weights, next_batch(), loss_fn), counts)
    if method == "grasp":
        work.train()
        return select_top(saliency.grasp_scores(work, weights, next_batch(), loss_fn), counts)

    steps = iterations or DEFAULT_ITERATIONS[method]
    sizes = [w.numel() for w in weights]
    masks = [torch.ones_like(w, dtype=torch.bool) for w in weights]
    if method == "synflow":
        shape = _input_shape(model, input_shape, stream)
        saliency.linearise_(work)
        initial = [w.detach().clone() for w in weights]
        for step in range(1, steps + 1):
            _write(weights, initial, masks)
            scores = saliency.synflow_scores(work, weights, shape)
            scores = [s.masked_fill(~m, float("-inf")) for s, m in zip(scores, masks, strict=True)]
            masks = select_top(scores, schedule(counts, sizes, step, steps))
        return masks
    work.train()  # force
    for step in range(1, steps + 1):
        _write(weights, initial, masks)
        grads = saliency.gradients(work, weights, next_batch(), loss_fn)
        scores = [(w0 * g).abs() for w0, g in zip(initial, grads, strict=True)]
        masks = select_top(scores, schedule(counts, sizes, step, steps))
    return masks


def _work_copy(model: nn.Module, layers: Sequence[MaskedLayer]) -> tuple[nn.Module, list[MaskedLayer]]:
    """A deep copy of ``model`` with the copies of ``layers`` trainable everywhere (all-ones masks)."""
    index = {id(module): i for i, module in enumerate(model.modules())}
    missing = [layer for layer in layers if id(layer) not in index]
    if missing:
        raise ValueError("layers must be modules of model")
    work = copy.deepcopy(model)
    modules = list(work.modules())
    work_layers = [modules[index[id(layer)]] for layer in layers]
    for layer in work_layers:
        layer.mask.fill_(True)
        layer.capture_dense_grad = False
    for p in work.parameters():
        p.requires_grad_(True)
    return work, work_layers


@torch.no_grad()
def _write(weights: Sequence[torch.Tensor], initial: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
    """weights ← initial ⊙ masks: the network pruned to the current supports."""
    for w, w0, m in zip(weights, initial, masks, strict=True):
        w.copy_(w0 * m)


def _input_shape(model: nn.Module, input_shape: Sequence[int] | None,
                 stream: Iterator[tuple[torch.Tensor, torch.Tensor]] | None) -> tuple[int, ...]:
    if input_shape is not None:
        return tuple(int(s) for s in input_shape)
    if stream is not None:
        return tuple(next(stream)[0].shape[1:])
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError("synflow needs the input shape: pass input_shape=(C, H, W) or data=, or give the model an "
                         "input_shape attribute")
    return tuple(int(s) for s in shape)
