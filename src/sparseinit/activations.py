"""Sparsity-inducing activations of [A] §2 as nn.Modules, and a registry by name (SPEC §1).

    relu       max(0, x)                               zero on x ≤ 0
    relu_tau   max(0, x − τ)                           zero on x ≤ τ
    st         sign(x)·max(0, |x| − τ)                 zero on |x| ≤ τ
    crelu      min(max(x − τ, 0), m)                   zero on x ≤ τ, constant m on x ≥ τ + m
    cst        sign(x)·min(max(|x| − τ, 0), m)         zero on |x| ≤ τ

Each is one or two fused torch ops (relu, hardtanh, softshrink), so autograd gives the derivative of SPEC §1:
1 on the linear pieces, 0 on the zero set and on the clipped plateau. The clip uses hardtanh, whose backward is
one kernel (clamp's is four: ge, le, and, where — 10% of a 100-layer training step). Each module knows its
exact Gaussian theory through :meth:`piecewise`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice
from .theory.piecewise import ACTIVATIONS, PiecewiseLinear


class _Sparsifying(nn.Module):
    """Base: holds τ (and m) as plain floats, so the forward is scalar ops with no device/dtype concerns."""

    name: str = ""

    def __init__(self, tau: float = 0.0, m: float | None = None) -> None:
        super().__init__()
        # PiecewiseLinear validates τ and m with the same one-line errors the theory API gives.
        spec = PiecewiseLinear.from_name(self.name, tau, m)
        self.tau, self.m = spec.tau, spec.m

    def piecewise(self) -> PiecewiseLinear:
        """The activation in the form the exact theory (:mod:`sparseinit.theory`) takes."""
        return PiecewiseLinear.from_name(self.name, self.tau, self.m)

    def extra_repr(self) -> str:
        parts = [] if self.name == "relu" else [f"tau={self.tau:.6g}"]
        if self.m is not None:
            parts.append(f"m={self.m:.6g}")
        return ", ".join(parts)


class ReLU(_Sparsifying):
    """max(0, x); sparsity 1/2 at any variance."""

    name = "relu"

    def __init__(self) -> None:
        super().__init__(0.0, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)


class ShiftedReLU(_Sparsifying):
    """ReLU_τ(x) = max(0, x − τ), τ ≥ 0 ([A] eq. 5)."""

    name = "relu_tau"

    def __init__(self, tau: float) -> None:
        super().__init__(tau, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x - self.tau) if self.tau else F.relu(x)


class SoftThreshold(_Sparsifying):
    """ST_τ(x) = sign(x)·max(0, |x| − τ) ([A] eq. 6), torch's softshrink."""

    name = "st"

    def __init__(self, tau: float) -> None:
        super().__init__(tau, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softshrink(x, self.tau) if self.tau else x.clone()


class ClippedReLU(_Sparsifying):
    """CReLU_{τ,m}(x) = min(max(x − τ, 0), m), τ ≥ 0, m > 0 ([A] §3.1)."""

    name = "crelu"

    def __init__(self, tau: float, m: float) -> None:
        super().__init__(tau, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(x - self.tau, 0.0, self.m)


class ClippedSoftThreshold(_Sparsifying):
    """CST_{τ,m}(x) = sign(x)·min(max(|x| − τ, 0), m), τ ≥ 0, m > 0 ([A] §3.1)."""

    name = "cst"

    def __init__(self, tau: float, m: float) -> None:
        super().__init__(tau, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(F.softshrink(x, self.tau) if self.tau else x, -self.m, self.m)


_REGISTRY: dict[str, type[_Sparsifying]] = {
    cls.name: cls for cls in (ReLU, ShiftedReLU, SoftThreshold, ClippedReLU, ClippedSoftThreshold)
}
assert tuple(_REGISTRY) == ACTIVATIONS


def activation(name: str, tau: float = 0.0, m: float | None = None) -> nn.Module:
    """The activation module registered as ``name`` ∈ {relu, relu_tau, st, crelu, cst}.

    ``tau`` is the threshold τ ≥ 0 (must be 0 for relu); ``m`` > 0 the clip, required for crelu / cst and
    refused by the others.
    """
    check_choice("activation", name, ACTIVATIONS)
    PiecewiseLinear.from_name(name, tau, m)  # validate before dispatching to a constructor
    if name == "relu":
        return ReLU()
    if name in ("relu_tau", "st"):
        return _REGISTRY[name](tau)
    return _REGISTRY[name](tau, m)


def is_sparsifying(module: nn.Module) -> bool:
    """True for the activation modules of this library and for ``nn.ReLU``."""
    return isinstance(module, (_Sparsifying, nn.ReLU))

