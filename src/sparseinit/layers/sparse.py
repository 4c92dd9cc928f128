"""Layers trainable only on a fixed support: the sparse part S of [C] §3, and the plain sparse baselines.

A :class:`MaskedLayer` holds a dense ``weight`` and a boolean buffer ``mask`` of the same shape. Its kernel is
``weight ⊙ mask``, so ∂L/∂weight = mask ⊙ ∂L/∂kernel vanishes off the support and, with the masked entries stored
as exact zeros, SGD (momentum, Nesterov, weight decay), Adam and AdamW all leave them at exactly zero. Hooks of
:mod:`sparseinit.layers.masking` re-zero them after every optimizer step as well, which also covers optimizer
state left over from an earlier support (a mask changed by RigL).

    SparseLinear   y = (W ⊙ M) x + b
    SparseConv2d   y = conv2d(x, W ⊙ M) (+ b), any stride / padding / dilation / groups

Both start Kaiming-normal on the support (the "random" baseline of [C] §5): W_ij ~ N(0, 2/fan_in) where M_ij = 1,
fan_in the dense fan-in ``fan_in="dense"`` (default, He et al. 2015) or the number of support entries of the unit
``fan_in="sparse"`` (the sparsity-aware variant of Evci et al. 2020, which keeps the pre-activation variance at
any density). Biases start at zero.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from .._validate import check_choice, check_int, check_range
from .dct import _kernel_size

FAN_IN = ("dense", "sparse")
_SKIP_INIT = contextvars.ContextVar("sparseinit_skip_init", default=False)


@contextlib.contextmanager
def _skip_init() -> Iterator[None]:
    """Construct layers without drawing their initial weights (``from_dense`` overwrites them anyway)."""
    token = _SKIP_INIT.set(True)
    try:
        yield
    finally:
        _SKIP_INIT.reset(token)


def _nnz_for_density(density: float, numel: int) -> int:
    """round(density · numel) for density in (0, 1]."""
    density = check_range("density", density, 0.0, 1.0, hi_open=False)
    return min(numel, round(density * numel))


def random_mask(shape: tuple[int, ...] | torch.Size, nnz: int, *, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """A boolean mask of ``shape`` with exactly ``nnz`` True entries, uniformly at random without replacement."""
    shape = _shape(shape)
    numel = math.prod(shape)
    nnz = check_int("nnz", nnz, 0, numel)
    flat = torch.zeros(numel, dtype=torch.bool)
    flat[torch.randperm(numel, generator=generator)[:nnz]] = True
    return flat.reshape(shape).to(device)


@torch.no_grad()
def kaiming_on_support_(weight: torch.Tensor, mask: torch.Tensor, *, fan_in: str = "dense", gain: float = math.sqrt(2),
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``weight`` in place with N(0, gain²/fan_in) on ``mask`` and exact zeros elsewhere; returns ``weight``.

    ``fan_in="dense"``: fan_in = weight[0].numel() (He et al. 2015). ``"sparse"``: per output unit, the number of
    its support entries (at least 1).
    """
    check_choice("fan_in", fan_in, FAN_IN)
    if mask.shape != weight.shape:
        raise ValueError(f"mask must have the weight's shape {tuple(weight.shape)}, got {tuple(mask.shape)}")
    noise = torch.randn(weight.shape, generator=generator, dtype=torch.float64)
    if fan_in == "dense":
        std = torch.full((weight.shape[0],), gain / math.sqrt(weight[0].numel()), dtype=torch.float64)
    else:
        per_unit = mask.reshape(mask.shape[0], -1).sum(1).clamp(min=1).cpu().double()
        std = gain / per_unit.sqrt()
    std = std.reshape(-1, *([1] * (weight.dim() - 1)))
    weight.copy_((noise * std).to(weight.dtype).to(weight.device) * mask)
    return weight


class MaskedLayer(nn.Module):
    """Base of every layer with a trainable ``weight`` restricted to the support ``mask`` (a bool buffer).

    Subclasses define :meth:`kernel` (the effective weight) and ``forward``. While ``capture_dense_grad`` is set,
    the gradient of the loss with respect to the whole kernel — on and off the support — is kept in
    ``dense_grad`` after each backward (RigL grows where it is largest).
    """

    weight: nn.Parameter
    mask: torch.Tensor
    bias: nn.Parameter | None
    has_offset: bool = False
    keeps_dense_weight: bool = True  # from_dense copies a dense layer's weight onto the support

    def _setup_mask(self, density: float, mask: torch.Tensor | None, generator: torch.Generator | None) -> None:
        shape = self.weight.shape
        nnz = _nnz_for_density(density, self.weight.numel())  # checks density even when a mask is given
        if mask is None:
            mask = random_mask(shape, nnz, generator=generator)
        mask = self._checked_mask(mask)
        self.register_buffer("mask", mask.to(self.weight.device))
        self.capture_dense_grad = False
        self.dense_grad: torch.Tensor | None = None

    def _checked_mask(self, mask: torch.Tensor) -> torch.Tensor:
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(f"mask must have the weight's shape {tuple(self.weight.shape)}, got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise ValueError("mask must be boolean or contain only 0 and 1")
            mask = mask != 0
        return mask

    # --- the support ---------------------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Number of trainable kernel weights (the support size; biases and α not counted)."""
        return int(self.mask.sum())

    @property
    def density(self) -> float:
        """nnz / all kernel weights."""
        return self.nnz / self.mask.numel()

    @torch.no_grad()
    def apply_mask_(self) -> None:
        """Set the weight to exact zero off the support."""
        self.weight.masked_fill_(~self.mask, 0.0)

    @torch.no_grad()
    def set_mask_(self, mask: torch.Tensor) -> None:
        """Replace the support (same shape) and zero the weight off it; kept entries keep their values."""
        self.mask.copy_(self._checked_mask(mask).to(self.mask.device))
        self.apply_mask_()

    # --- the effective weight ------------------------------------------------------------------------------
    def sparse_kernel(self) -> torch.Tensor:
        """W ⊙ M, with a hook that records ∂L/∂(kernel) in ``dense_grad`` while ``capture_dense_grad`` is set."""
        kernel = self.weight * self.mask
        if self.capture_dense_grad and kernel.requires_grad:
            kernel.register_hook(self._store_dense_grad)
        return kernel

    def _store_dense_grad(self, grad: torch.Tensor) -> None:
        self.dense_grad = grad.detach()

    def kernel(self) -> torch.Tensor:
        """The weight the layer applies; W ⊙ M here, α·D + W ⊙ M for the DCTpS layers."""
        return self.sparse_kernel()

    def _initialise(self, fan_in: str, generator: torch.Generator | None) -> None:
        if _SKIP_INIT.get():
            with torch.no_grad():
                self.weight.zero_()
                if self.bias is not None:
                    self.bias.zero_()
            return
        self._reset_weight(fan_in, generator)

    def _reset_weight(self, fan_in: str, generator: torch.Generator | None) -> None:
        kaiming_on_support_(self.weight, self.mask, fan_in=fan_in, generator=generator)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _density_repr(self) -> str:
        return f"density={self.density:.4g}"


class SparseLinear(MaskedLayer):
    """y = (W ⊙ M) x + b with W, b trainable and the support M fixed.

    ``density`` draws M uniformly at random with round(density · in·out) entries (``generator`` for
    reproducibility); or pass ``mask`` (bool or 0/1, shape (out, in)). ``fan_in`` selects the Kaiming variance.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, fan_in: str = "dense", generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        check_choice("fan_in", fan_in, FAN_IN)
        _positive(in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **kw))
        self.bias = nn.Parameter(torch.empty(out_features, **kw)) if bias else None
        self._setup_mask(density, mask, generator)
        self._initialise(fan_in, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.kernel(), self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"{self._density_repr()}")

    @classmethod
    def from_dense(cls, layer: nn.Linear, mask: torch.Tensor | None = None, *,
                   keep_weight: bool | None = None) -> SparseLinear:
        """``layer`` made sparse on ``mask`` (default: all entries), its bias copied.

        ``keep_weight`` (default: ``cls.keeps_dense_weight``) copies the dense weight onto the support instead of
        the class's own initialisation (Kaiming for the sparse layers, zero for the DCTpS ones).
        """
        keep = cls.keeps_dense_weight if keep_weight is None else keep_weight
        with _skip_init() if keep else contextlib.nullcontext():
            new = cls(layer.in_features, layer.out_features, layer.bias is not None,
                      mask=_full_mask(layer) if mask is None else mask,
                      device=layer.weight.device, dtype=layer.weight.dtype)
        _copy_params(new, layer, keep)
        return new


class SparseConv2d(MaskedLayer):
    """y = conv2d(x, W ⊙ M) (+ b), with torch's stride / padding / dilation / groups semantics.

    The weight has shape (C_out, C_in/groups, k_h, k_w). No bias by default (the reference models follow every
    convolution with BatchNorm). ``density``/``mask``/``fan_in`` as for :class:`SparseLinear`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = False, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, fan_in: str = "dense", generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        check_choice("fan_in", fan_in, FAN_IN)
        _positive(in_channels=in_channels, out_channels=out_channels, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _kernel_size(kernel_size)
        self.stride, self.dilation = _pair(stride), _pair(dilation)
        if isinstance(padding, str):
            self.padding = check_choice("padding", padding, ("valid", "same"))
        else:
            self.padding = _pair(padding)
            if len(self.padding) != 2:
                raise ValueError(f"padding must be an integer, a pair, 'valid' or 'same', got {padding!r}")
            self.padding = tuple(check_int("padding", p, 0) for p in self.padding)
        _positive(stride=min(self.stride), dilation=min(self.dilation))
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size, **kw))
        self.bias = nn.Parameter(torch.empty(out_channels, **kw)) if bias else None
        self._setup_mask(density, mask, generator)
        self._initialise(fan_in, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel(), self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, {self._density_repr()}")

    @classmethod
    def from_dense(cls, layer: nn.Conv2d, mask: torch.Tensor | None = None, *,
                   keep_weight: bool | None = None) -> SparseConv2d:
        """The convolution ``layer`` made sparse on ``mask`` (default: all entries); see SparseLinear.from_dense."""
        if layer.padding_mode != "zeros":
            raise ValueError(f"only padding_mode='zeros' convolutions can be sparsified, got {layer.padding_mode!r}")
        keep = cls.keeps_dense_weight if keep_weight is None else keep_weight
        with _skip_init() if keep else contextlib.nullcontext():
            new = cls(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                      layer.dilation, layer.groups, layer.bias is not None,
                      mask=_full_mask(layer) if mask is None else mask,
                      device=layer.weight.device, dtype=layer.weight.dtype)
        _copy_params(new, layer, keep)
        return new


def _shape(shape: tuple[int, ...] | torch.Size) -> tuple[int, ...]:
    """``shape`` as a tuple of integers >= 1."""
    if not isinstance(shape, (tuple, list)):  # torch.Size is a tuple
        raise ValueError(f"shape must be a tuple of integers >= 1, got {shape!r}")
    return tuple(check_int("every entry of shape", n, 1) for n in shape)


def _positive(**values: int) -> None:
    for name, value in values.items():
        check_int(name, value, 1)


def _full_mask(layer: nn.Module) -> torch.Tensor:
    return torch.ones(layer.weight.shape, dtype=torch.bool)


@torch.no_grad()
def _copy_params(new: MaskedLayer, old: nn.Module, keep_weight: bool) -> None:
    if keep_weight:
        new.weight.copy_(old.weight)
        new.weight.mul_(new.mask)
    if old.bias is not None:
        new.bias.copy_(old.bias)
