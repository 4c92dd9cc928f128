"""DCT-plus-Sparse layers ([C] Price & Tanner, ICML 2021, §3; SPEC §4).

    DCTpSLinear   y = α·D x + (S ⊙ M) x + b
    DCTpSConv2d   y = conv2d(x, α·K_D + S ⊙ M),   K_D[o, c, h, w] = D[o, (h·k_w + w)·(C_in/groups) + c]

D is the truncated orthonormal DCT-II matrix of :mod:`sparseinit.layers.dct` (a partial isometry), α a trainable
scalar initialised to 1, S the sparse trainable part on the fixed support M, initialised to zero: at
initialisation the layer is exactly α·D (+ b, b = 0), so signal propagates however few weights are trainable.
D is not a parameter or a buffer — it is regenerated from the layer's shape and cached per (shape, dtype,
device) — so ``state_dict`` holds only S, M, α and b, and a saved DCTpS model is no larger than the plain sparse
model. The forward adds α·D to S ⊙ M and applies one dense product (one GEMM / one convolution); the extra cost
over the dense layer is one elementwise pass over the kernel.
"""

from __future__ import annotations

import torch
from torch import nn

from .dct import cached_dct
from .sparse import SparseConv2d, SparseLinear


class _Offset:
    """α and D for a :class:`MaskedLayer` subclass; S starts at zero."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    has_offset = True
    keeps_dense_weight = False

    def _setup_alpha(self, alpha: float, alpha_trainable: bool) -> None:
        value = torch.tensor(float(alpha), dtype=self.weight.dtype, device=self.weight.device)
        self.alpha = nn.Parameter(value, requires_grad=alpha_trainable)

    def _reset_weight(self, fan_in: str, generator: torch.Generator | None) -> None:
        nn.init.zeros_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def offset(self) -> torch.Tensor:
        """D (linear, shape (out, in)) or K_D (conv, the weight's shape): fixed, cached, never stored."""
        return cached_dct(tuple(self.weight.shape), self.weight.dtype, self.weight.device)

    def kernel(self) -> torch.Tensor:
        """α·D + S ⊙ M."""
        return self.alpha * self.offset() + self.sparse_kernel()  # type: ignore[attr-defined]

    def _density_repr(self) -> str:
        return f"density={self.density:.4g}, offset=dct"  # type: ignore[attr-defined]


class DCTpSLinear(_Offset, SparseLinear):
    """y = α·D x + (S ⊙ M) x + b, D = C_N[0:out, 0:in] (N = max(in, out)), α = 1 and S = 0, b = 0 at init.

    ``density``/``mask``/``generator`` choose the support of S as for :class:`SparseLinear`;
    ``alpha_trainable=False`` freezes α.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, alpha: float = 1.0, alpha_trainable: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_features, out_features, bias, density, mask=mask, generator=generator, device=device,
                         dtype=dtype)
        self._setup_alpha(alpha, alpha_trainable)


class DCTpSConv2d(_Offset, SparseConv2d):
    """y = conv2d(x, α·K_D + S ⊙ M): every patch (channel index fastest) gets its truncated orthonormal DCT.

    Same stride / padding / dilation / groups for the offset and the sparse part; no bias by default.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = False, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, alpha: float = 1.0, alpha_trainable: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, density,
                         mask=mask, generator=generator, device=device, dtype=dtype)
        self._setup_alpha(alpha, alpha_trainable)
