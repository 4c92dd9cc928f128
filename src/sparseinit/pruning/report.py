"""``density_report``: trainable density and stored size of a model, per layer and in total (SPEC §4–5).

Density follows [C]: trainable kernel weights / all kernel weights of the conv and linear layers (biases, norms
and α not counted). A masked layer's trainable weights are its support; a dense layer's are all of them.

Stored bytes are what a compact checkpoint needs, not what ``state_dict`` holds today:

    masked layer   nnz · (value bytes + index bytes) + biases + α     (flat int32 indices; int64 past 2³¹ entries;
                   D is regenerated from the shape and costs nothing; the mask is the set of indices)
    dense layer    |W| · value bytes + biases
    compact DCTpS  its values + indices + α + bias, as held (``CompactDCTpSLinear``)
    other          every other parameter and floating/int buffer (BatchNorm affine and running statistics)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_module
from ..layers.compact import CompactDCTpSLinear
from ..layers.sparse import MaskedLayer


@dataclass(frozen=True)
class LayerDensity:
    """One conv/linear layer: its trainable weights, all weights and stored bytes."""

    name: str
    kind: str
    shape: tuple[int, ...]
    nnz: int
    numel: int
    stored_bytes: int
    offset: bool

    @property
    def density(self) -> float:
        """nnz / numel of this layer."""
        return self.nnz / self.numel


@dataclass(frozen=True)
class DensityReport:
    """Per-layer rows and totals; ``str()`` prints a table."""

    layers: list[LayerDensity]
    other_bytes: int
    dense_bytes: int

    @property
    def nnz(self) -> int:
        """Trainable weights, all layers."""
        return sum(layer.nnz for layer in self.layers)

    @property
    def numel(self) -> int:
        """Entries of every layer's weight tensor (what a dense model would train)."""
        return sum(layer.numel for layer in self.layers)

    @property
    def density(self) -> float:
        """Σ trainable kernel weights / Σ kernel weights."""
        return self.nnz / self.numel if self.numel else 0.0

    @property
    def stored_bytes(self) -> int:
        """Bytes of a compact checkpoint: layers (values + indices + α + biases) + other parameters and buffers."""
        return sum(layer.stored_bytes for layer in self.layers) + self.other_bytes

    def as_dict(self) -> dict:
        """Totals and per-layer rows as a plain dict."""
        return {"density": self.density, "nnz": self.nnz, "numel": self.numel, "stored_bytes": self.stored_bytes,
                "dense_bytes": self.dense_bytes,
                "layers": [{"name": r.name, "kind": r.kind, "shape": list(r.shape), "nnz": r.nnz, "numel": r.numel,
                            "density": r.density, "stored_bytes": r.stored_bytes, "offset": r.offset}
                           for r in self.layers]}

    def __str__(self) -> str:
        lines = [f"{'layer':<28} {'kind':<13} {'shape':<20} {'trainable':>10} {'density':>9} {'bytes':>10}"]
        for r in self.layers:
            lines.append(f"{r.name:<28} {r.kind:<13} {'x'.join(map(str, r.shape)):<20} {r.nnz:>10} "
                         f"{r.density:>9.3g} {r.stored_bytes:>10}")
        lines.append(f"{'total':<28} {'':<13} {'':<20} {self.nnz:>10} {self.density:>9.3g} "
                     f"{self.stored_bytes:>10}  (dense model {self.dense_bytes} bytes; other {self.other_bytes})")
        return "\n".join(lines)


def _index_bytes(numel: int) -> int:
    return 4 if numel < 2**31 else 8


def _bytes(t: torch.Tensor | None) -> int:
    return 0 if t is None else t.numel() * t.element_size()


def density_report(model: nn.Module) -> DensityReport:
    """Trainable density and stored bytes of ``model``'s conv/linear layers (masked or dense) and in total."""
    check_module("model", model)
    rows: list[LayerDensity] = []
    counted: set[int] = set()
    dense_bytes = 0
    for name, module in model.named_modules():
        if isinstance(module, MaskedLayer):
            w = module.weight
            shape, nnz, offset = tuple(w.shape), module.nnz, module.has_offset
            stored = nnz * (w.element_size() + _index_bytes(w.numel())) + _bytes(module.bias)
            if offset:
                stored += _bytes(module.alpha)
            value_bytes = w.element_size()
        elif isinstance(module, CompactDCTpSLinear):
            # it stores exactly its values, flat indices, α and bias; its dense counterpart is out × in
            shape, nnz, offset = (module.out_features, module.in_features), module.values.numel(), True
            stored = _bytes(module.values) + _bytes(module.indices) + _bytes(module.alpha) + _bytes(module.bias)
            value_bytes = module.values.element_size()
        elif isinstance(module, (nn.Linear, nn.Conv2d)):
            w = module.weight
            shape, nnz, offset = tuple(w.shape), w.numel(), False
            stored = _bytes(w) + _bytes(module.bias)
            value_bytes = w.element_size()
        else:
            continue
        numel = math.prod(shape)
        rows.append(LayerDensity(name or "(model)", type(module).__name__, shape, nnz, numel, stored, offset))
        dense_bytes += numel * value_bytes + _bytes(module.bias)
        counted.update(id(t) for t in module.parameters(recurse=False))
        counted.update(id(t) for t in module.buffers(recurse=False))
    if not rows:
        raise ValueError("model has no nn.Linear, nn.Conv2d or sparse layer to report on")
    other = sum(_bytes(p) for p in model.parameters() if id(p) not in counted)
    other += sum(_bytes(b) for b in model.buffers() if id(b) not in counted)
    return DensityReport(rows, other, dense_bytes + other)
