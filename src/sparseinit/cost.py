"""FLOP and bytes-moved accounting per layer, dense against the sparse-activation path (SPEC §5, issue 5 §3).

For every nn.Linear / nn.Conv2d of a model (and their accelerated versions) one forward pass on ``example_input``
records the layer's input, and with its measured zero fraction z:

Linear (in → out, R = rows of the input, i.e. its elements / in):

    dense  MACs  = R · in · out
    sparse MACs  = nnz(x) · out                                           (= (1 − z) · dense)
    dense  bytes = e · (in · out + out + R · in + R · out)                weights, bias, input, output
    sparse bytes = e · (a · out + out + R · in + R · out)                 a = inputs non-zero in at least one row

Conv2d (C → O channels, k_h × k_w, groups g, output H' × W'):

    dense  MACs  = B · O · H' · W' · (C/g) · k_h · k_w                   (padding taps counted, as usual)
    sparse MACs  = (O/g) · Σ_{b, group, h', w'} #non-zero inputs in the window   (padding taps never cost)
    dense  bytes = e · (O · (C/g) · k_h · k_w + O + |x| + |y|)
    sparse bytes = e · (O · (C/g) · k_h · k_w · c/C + O + |x| + |y|)     c = channels non-zero anywhere in x

with e the element size in bytes and MAC one multiply-add (a FLOP count is 2 × MACs). "Bytes" is the compulsory
traffic — each weight, input and output element once, as a cache-perfect kernel moves them; the input is counted
whole on the sparse path too, because it is read to find the non-zeros. The sparse figures apply to the layers
:func:`~sparseinit.acceleration.accelerate` replaces (``accelerated=True``: fed by a sparsifying activation); for the
others sparse = dense. The kernels realise the sparse MAC count exactly; the sparse byte count is reached by the
batch-1 kernel (it reads only active rows of Wᵀ) and approached by the batched one (weights once per call).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_module
from .acceleration import SparseInputConv2d, SparseInputLinear, plan_layers

__all__ = ["CostReport", "LayerCost", "cost"]


def _saving(dense: int, sparse: int) -> float:
    """dense / sparse (inf when the sparse path costs nothing)."""
    return dense / sparse if sparse else float("inf")


@dataclass(frozen=True)
class LayerCost:
    """One layer's multiply-adds and bytes moved on the example input, dense and on the sparse path."""

    name: str
    kind: str  # "linear" | "conv2d"
    accelerated: bool  # whether accelerate() gives this layer the sparse path
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_zero_fraction: float
    dense_macs: int
    sparse_macs: int
    dense_bytes: int
    sparse_bytes: int

    @property
    def mac_saving(self) -> float:
        """dense / sparse multiply-adds (inf when the sparse path does none)."""
        return _saving(self.dense_macs, self.sparse_macs)

    @property
    def byte_saving(self) -> float:
        """dense / sparse bytes moved (inf when the sparse path moves none)."""
        return _saving(self.dense_bytes, self.sparse_bytes)

    def to_dict(self) -> dict:
        """The fields as a plain dict, with both savings."""
        return {**asdict(self), "mac_saving": self.mac_saving, "byte_saving": self.byte_saving}


@dataclass(frozen=True)
class CostReport:
    """Per-layer :class:`LayerCost` records (forward order) and their totals."""

    layers: tuple[LayerCost, ...]

    @property
    def dense_macs(self) -> int:
        """Multiply-adds of every layer on the dense path."""
        return sum(layer.dense_macs for layer in self.layers)

    @property
    def sparse_macs(self) -> int:
        """Multiply-adds of every layer on the sparse path (its dense count where accelerate() keeps it dense)."""
        return sum(layer.sparse_macs for layer in self.layers)

    @property
    def dense_bytes(self) -> int:
        """Compulsory bytes (weights, bias, input, output) of every layer on the dense path."""
        return sum(layer.dense_bytes for layer in self.layers)

    @property
    def sparse_bytes(self) -> int:
        """Compulsory bytes of every layer on the sparse path (only the weights of inputs non-zero somewhere)."""
        return sum(layer.sparse_bytes for layer in self.layers)

    @property
    def mac_saving(self) -> float:
        """dense / sparse multiply-adds over the model."""
        return _saving(self.dense_macs, self.sparse_macs)

    @property
    def byte_saving(self) -> float:
        """dense / sparse bytes over the model."""
        return _saving(self.dense_bytes, self.sparse_bytes)

    def totals(self) -> dict:
        """The model's totals and savings as a plain dict."""
        return {"dense_macs": self.dense_macs, "sparse_macs": self.sparse_macs, "dense_bytes": self.dense_bytes,
                "sparse_bytes": self.sparse_bytes, "mac_saving": self.mac_saving, "byte_saving": self.byte_saving}

    def to_dict(self) -> dict:
        """Per-layer rows and totals as a plain dict (``sparseinit cost``'s JSON)."""
        return {"layers": [layer.to_dict() for layer in self.layers], "totals": self.totals()}

    def table(self) -> str:
        """A plain-text table, one line per layer and a total line."""
        head = (f"{'layer':<14} {'kind':<7} {'acc':<3} {'zeros':>6} {'dense MMAC':>11} {'sparse MMAC':>11} "
                f"{'x':>6} {'dense MB':>9} {'sparse MB':>9} {'x':>6}")
        lines = [head]
        for c in self.layers:
            lines.append(f"{c.name:<14} {c.kind:<7} {'yes' if c.accelerated else 'no':<3} "
                         f"{c.input_zero_fraction:>6.3f} {c.dense_macs / 1e6:>11.3f} {c.sparse_macs / 1e6:>11.3f} "
                         f"{c.mac_saving:>6.2f} {c.dense_bytes / 1e6:>9.3f} {c.sparse_bytes / 1e6:>9.3f} "
                         f"{c.byte_saving:>6.2f}")
        lines.append(f"{'total':<14} {'':<7} {'':<3} {'':>6} {self.dense_macs / 1e6:>11.3f} "
                     f"{self.sparse_macs / 1e6:>11.3f} {self.mac_saving:>6.2f} {self.dense_bytes / 1e6:>9.3f} "
                     f"{self.sparse_bytes / 1e6:>9.3f} {self.byte_saving:>6.2f}")
        return "\n".join(lines)


def _linear_cost(name: str, accelerated: bool, mod: nn.Module, x: torch.Tensor, y: torch.Tensor) -> LayerCost:
    n_in, n_out = x.shape[-1], y.shape[-1]
    e = x.element_size()
    rows = x.numel() // n_in
    nz = x.reshape(rows, n_in) != 0
    nnz = int(nz.sum())
    active = int(nz.any(dim=0).sum())
    has_bias = getattr(mod, "has_bias", getattr(mod, "bias", None) is not None)
    fixed = (n_out if has_bias else 0) + x.numel() + y.numel()
    dense_macs, dense_bytes = rows * n_in * n_out, e * (n_in * n_out + fixed)
    sparse_macs, sparse_bytes = (nnz * n_out, e * (active * n_out + fixed)) if accelerated else (dense_macs,
                                                                                                    dense_bytes)
    return LayerCost(name, "linear", accelerated, tuple(x.shape), tuple(y.shape),
                     1.0 - nnz / x.numel() if x.numel() else 0.0, dense_macs, sparse_macs, dense_bytes, sparse_bytes)


def _conv_params(mod: nn.Module) -> tuple:
    if isinstance(mod, SparseInputConv2d):
        return mod.weight, mod.bias if mod.has_bias else None, (1, 1), mod.padding, (1, 1), 1
    padding = mod.padding
    if isinstance(padding, str):
        padding = (0, 0) if padding == "valid" else None
    return mod.weight, mod.bias, mod.stride, padding, mod.dilation, mod.groups


def _conv_cost(name: str, accelerated: bool, mod: nn.Module, x: torch.Tensor, y: torch.Tensor) -> LayerCost:
    weight, bias, stride, padding, dilation, groups = _conv_params(mod)
    if x.dim() == 3:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    batch, channels = x.shape[:2]
    out_channels, per_group, kh, kw = weight.shape
    e = x.element_size()
    dense_macs = batch * out_channels * y.shape[2] * y.shape[3] * per_group * kh * kw
    fixed = (out_channels if bias is not None else 0) + x.numel() + y.numel()
    dense_bytes = e * (weight.numel() + fixed)
    nz = x != 0
    if not accelerated:
        sparse_macs, sparse_bytes = dense_macs, dense_bytes
    else:
        if padding is None:  # padding="same": torch pads (k − 1)·d in total, the extra one on the right
            pad_h, pad_w = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
            mask = F.pad(nz.double(), (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
            padding = (0, 0)
        else:
            mask = nz.double()
        ones = torch.ones(groups, per_group, kh, kw, dtype=torch.float64)
        window = F.conv2d(mask, ones, stride=stride, padding=padding, dilation=dilation, groups=groups)
        sparse_macs = round(window.sum().item()) * (out_channels // groups)
        active_channels = int(nz.any(dim=3).any(dim=2).any(dim=0).sum())
        sparse_bytes = e * (weight.numel() * active_channels // channels + fixed)
    return LayerCost(name, "conv2d", accelerated, tuple(x.shape), tuple(y.shape),
                     1.0 - int(nz.sum()) / x.numel() if x.numel() else 0.0, dense_macs, sparse_macs, dense_bytes,
                     sparse_bytes)


def cost(model: nn.Module, example_input: torch.Tensor) -> CostReport:
    """Multiply-adds and bytes moved by each nn.Linear / nn.Conv2d of ``model`` on ``example_input``.

    One forward pass (no grad; the model's train/eval mode is kept) measures each layer's input zero fraction;
    see the module docstring for the formulas. Works on a dense model and on the output of
    :func:`~sparseinit.acceleration.accelerate` alike (both give the same report).
    """
    check_module("model", model)
    accelerated = {p.name: p.accelerated for p in plan_layers(model)}
    records: list[LayerCost] = []
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, SparseInputLinear)):
            fn = _linear_cost
        elif isinstance(mod, (nn.Conv2d, SparseInputConv2d)):
            fn = _conv_cost
        else:
            continue

        def hook(m, inputs, output, name=name, fn=fn):
            records.append(fn(name, accelerated.get(name, False), m, inputs[0].detach(), output.detach()))

        hooks.append(mod.register_forward_hook(hook))
    if not hooks:
        raise ValueError("model has no nn.Linear or nn.Conv2d layer to account for")
    try:
        with torch.no_grad():
            model(example_input)
    finally:
        for h in hooks:
            h.remove()
    return CostReport(tuple(records))
