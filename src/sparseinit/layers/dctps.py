"""DCT-plus-Sparse layers ([C] Price & Tanner, ICML 2021, §3; SPEC §4).

    DCTpSLinear   y = α·D x + (S ⊙ M) x + b
    DCTpSConv2d   y = conv2d(x, α·K_D + S ⊙ M),   K_D[o, c, h, w] = D[o, (h·k_w + w)·(C_in/groups) + c]

D is the truncated orthonormal DCT-II matrix of :mod:`sparseinit.layers.dct` (a partial isometry), α a trainable
scalar initialised to 1, S the sparse trainable part on the fixed support M, initialised to zero: at
initialisation the layer is exactly α·D (+ b, b = 0), so signal propagates however few weights are trainable.
D is not a parameter or a buffer — it is regenerated from the layer's shape and cached per (shape, dtype,
device) — so ``state_dict`` holds only S, M, α and b, and a saved DCTpS model is no larger than the plain sparse
model.

Two forwards compute the same function and gradients (SPEC §5; :mod:`sparseinit.layers.fast_dctps`):

- ``"dense"``: add α·D to S ⊙ M and apply one dense product (one GEMM / one convolution); the extra cost over a
  dense layer is one elementwise pass over the kernel.
- ``"fast"``: α·D x by FFT in O(N log N) per input vector (per patch for a convolution) plus S x from the nnz
  values in CSR form, O(nnz) per vector; ∂L/∂weight is still a dense tensor, zero off the support.

``path="auto"`` (the default) takes whichever :func:`~sparseinit.layers.fast_dctps.dctps_path` predicts faster for
the layer's shape and the batch at hand; the dense path is also used while ``capture_dense_grad`` is set (RigL
needs ∂L/∂kernel everywhere) and for convolutions the fast path does not cover (string padding).
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import check_range
from .dct import cached_dct
from .fast_dctps import (
    check_path,
    conv_output_size,
    conv_structure,
    dctps_path,
    fast_dctps_conv2d,
    fast_dctps_linear,
)
from .sparse import SparseConv2d, SparseLinear
from .sparse_matmul import CSRStructure


class _Offset:
    """α and D for a :class:`MaskedLayer` subclass; S starts at zero."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    has_offset = True
    keeps_dense_weight = False

    def _setup_alpha(self, alpha: float, alpha_trainable: bool, path: str = "auto") -> None:
        value = torch.tensor(check_range("alpha", alpha), dtype=self.weight.dtype, device=self.weight.device)
        self.alpha = nn.Parameter(value, requires_grad=alpha_trainable)
        self.path = check_path(path)
        self._csr: tuple[tuple, CSRStructure, torch.Tensor] | None = None

    def _support(self) -> tuple[CSRStructure, torch.Tensor]:
        """(CSR structure, flat weight indices of the support), rebuilt whenever the mask changes (RigL,
        ``set_mask_``, loading a state_dict)."""
        mask = self.mask  # type: ignore[attr-defined]
        try:
            key = (mask._version, mask.data_ptr(), mask.device)
        except RuntimeError:  # an inference tensor has no version counter: no caching
            key = None
        if key is None or self._csr is None or self._csr[0] != key:
            with torch.inference_mode(False):  # built in inference mode, it could not be saved for backward later
                built = (self._build_structure(), torch.flatten(mask).nonzero().squeeze(1))
            if key is None:
                return built
            self._csr = (key, *built)
        return self._csr[1], self._csr[2]

    def csr_structure(self) -> CSRStructure:
        """S's support as CSR index arrays (for a convolution: block-diagonal over the unfolded input)."""
        return self._support()[0]

    def sparse_values(self) -> torch.Tensor:
        """The nnz trainable values of S in row-major support order (differentiable: gradients reach ``weight``)."""
        return self.weight.reshape(-1).index_select(0, self._support()[1])

    def _use_fast(self, rows: int, **kw: bool) -> bool:
        if self.path == "dense" or self.capture_dense_grad or not self._fast_supported():  # type: ignore[attr-defined]
            return False
        if self.path == "fast":
            return True
        n_out, n_in = self.weight.shape[0], self.weight[0].numel()
        nnz = self._support()[1].numel()  # cached: self.nnz would sum the whole mask on every call
        training = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())  # type: ignore
        return dctps_path(n_out, n_in, nnz, rows, training=training, **kw) == "fast"

    def _fast_supported(self) -> bool:
        return self.weight.dtype in (torch.float32, torch.float64)

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
    ``alpha_trainable=False`` freezes α. ``path``: ``"auto"`` (per shape and batch), ``"fast"`` (FFT + CSR) or
    ``"dense"`` (one GEMM with α·D + S ⊙ M); see the module docstring.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, alpha: float = 1.0, alpha_trainable: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, path: str = "auto") -> None:
        super().__init__(in_features, out_features, bias, density, mask=mask, generator=generator, device=device,
                         dtype=dtype)
        self._setup_alpha(alpha, alpha_trainable, path)

    def _build_structure(self) -> CSRStructure:
        return CSRStructure.from_mask(self.mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._use_fast(x[..., 0].numel()):
            return fast_dctps_linear(x, self.alpha, self.sparse_values(), self.csr_structure(), self.bias)
        return super().forward(x)


class DCTpSConv2d(_Offset, SparseConv2d):
    """y = conv2d(x, α·K_D + S ⊙ M): every patch (channel index fastest) gets its truncated orthonormal DCT.

    Same stride / padding / dilation / groups for the offset and the sparse part; no bias by default. ``path`` as
    for :class:`DCTpSLinear` (the fast path unfolds patches, so ``"auto"`` takes it only for large patches).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = False, density: float = 1.0, *,
                 mask: torch.Tensor | None = None, alpha: float = 1.0, alpha_trainable: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, path: str = "auto") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, density,
                         mask=mask, generator=generator, device=device, dtype=dtype)
        self._setup_alpha(alpha, alpha_trainable, path)

    def _build_structure(self) -> CSRStructure:
        return conv_structure(self.mask, self.groups)

    def _fast_supported(self) -> bool:
        return not isinstance(self.padding, str) and super()._fast_supported()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            h, w = conv_output_size(tuple(x.shape[2:]), self.kernel_size, self.stride, self.padding, self.dilation) \
                if not isinstance(self.padding, str) else (0, 0)
            if self._use_fast(x.shape[0] * h * w, conv=True):
                return fast_dctps_conv2d(x, self.alpha, self.sparse_values(), self.csr_structure(), self.kernel_size,
                                         self.stride, self.padding, self.dilation, self.groups, self.bias)
        return super().forward(x)
