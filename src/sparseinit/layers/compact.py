"""The compact DCT-plus-Sparse linear layer: only nnz values + their indices + α + b are stored ([C] §3; SPEC §5).

:class:`CompactDCTpSLinear` computes the same y = α·D x + S x + b as :class:`~sparseinit.layers.DCTpSLinear`,
but holds S as its nnz values (a trainable vector) and their flat indices i·n_in + j (an int32 buffer; int64 for
layers of 2³¹ entries or more) instead of a dense weight and a dense boolean mask. Its ``state_dict`` is
``values``, ``indices``, ``alpha`` and ``bias``: nnz·(4 + 4) + 4 + 4·n_out bytes in float32, against
n_out·n_in·(4 + 1) for the masked layer. Gradients reach the nnz values only, so any optimizer trains it with the
support exact by construction. The forward takes the fast path (FFT + CSR, :mod:`~sparseinit.layers.fast_dctps`)
or the dense-kernel one, per shape and batch as for DCTpSLinear.

:func:`compact_dctps` converts every DCTpSLinear of a model in place; :meth:`CompactDCTpSLinear.to_masked` goes
back (for RigL, which needs the dense mask).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_int, check_module, check_range
from .dct import cached_dct
from .dctps import DCTpSLinear
from .fast_dctps import check_path, dctps_path, fast_dctps_linear
from .sparse_matmul import CSRStructure


class CompactDCTpSLinear(nn.Module):
    """y = α·D x + S x + b with S stored as ``values`` on the flat support ``indices`` (ascending i·n_in + j).

    ``values`` defaults to zeros (S = 0: the layer is α·D at initialisation, as DCTpSLinear).
    """

    def __init__(self, in_features: int, out_features: int, indices: torch.Tensor, values: torch.Tensor | None = None,
                 bias: bool = True, *, alpha: float = 1.0, alpha_trainable: bool = True, path: str = "auto",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        in_features, out_features = check_int("in_features", in_features, 1), check_int("out_features", out_features, 1)
        self.in_features, self.out_features = in_features, out_features
        self.path = check_path(path)
        numel = in_features * out_features
        index_dtype = torch.int32 if numel < 2**31 else torch.int64
        indices = torch.as_tensor(indices).reshape(-1)
        structure = CSRStructure.from_flat(indices.cpu(), out_features, in_features)  # validates range and order
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        if values is None:
            values = torch.zeros(indices.numel(), **kw)
        elif tuple((values := torch.as_tensor(values)).shape) != (indices.numel(),):
            raise ValueError(f"values must have shape ({indices.numel()},) like indices, got {tuple(values.shape)}")
        self.values = nn.Parameter(torch.as_tensor(values).detach().clone().to(**kw))
        self.register_buffer("indices", indices.to(dtype=index_dtype, device=self.values.device))
        alpha = torch.tensor(check_range("alpha", alpha), dtype=self.values.dtype, device=self.values.device)
        self.alpha = nn.Parameter(alpha, requires_grad=alpha_trainable)
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=self.values.dtype, device=self.values.device)) \
            if bias else None
        self._csr: tuple[tuple, CSRStructure] | None = (self._key(), _to(structure, self.values.device))

    # --- conversion ----------------------------------------------------------------------------------------
    @classmethod
    @torch.no_grad()
    def from_masked(cls, layer: DCTpSLinear) -> CompactDCTpSLinear:
        """The compact form of ``layer`` (same α, S on the same support, bias, path)."""
        flat = torch.flatten(layer.mask).nonzero().squeeze(1)
        new = cls(layer.in_features, layer.out_features, flat, layer.weight.reshape(-1)[flat], layer.bias is not None,
                  alpha=float(layer.alpha), alpha_trainable=layer.alpha.requires_grad, path=layer.path,
                  device=layer.weight.device, dtype=layer.weight.dtype)
        if layer.bias is not None:
            new.bias.copy_(layer.bias)
        return new

    @torch.no_grad()
    def to_masked(self) -> DCTpSLinear:
        """The equivalent :class:`DCTpSLinear` (dense weight and mask)."""
        structure = self.csr_structure()
        mask = torch.zeros(self.out_features * self.in_features, dtype=torch.bool, device=self.values.device)
        mask[structure.flat] = True
        layer = DCTpSLinear(self.in_features, self.out_features, self.bias is not None,
                            mask=mask.reshape(self.out_features, self.in_features), alpha=float(self.alpha),
                            alpha_trainable=self.alpha.requires_grad, device=self.values.device,
                            dtype=self.values.dtype, path=self.path)
        layer.weight.copy_(structure.to_dense(self.values))
        if self.bias is not None:
            layer.bias.copy_(self.bias)
        return layer

    # --- the support ---------------------------------------------------------------------------------------
    @property
    def nnz(self) -> int:
        """Number of stored values of S."""
        return int(self.indices.numel())

    @property
    def density(self) -> float:
        """nnz / (in_features · out_features)."""
        return self.nnz / (self.in_features * self.out_features)

    def _key(self) -> tuple:
        try:
            return (self.indices._version, self.indices.data_ptr(), self.indices.device)
        except RuntimeError:
            return ()

    def csr_structure(self) -> CSRStructure:
        """S's support as CSR index arrays, rebuilt if ``indices`` changed (loading a state_dict, ``to``)."""
        key = self._key()
        if not key or self._csr is None or self._csr[0] != key:
            with torch.inference_mode(False):  # built in inference mode, it could not be saved for backward later
                structure = CSRStructure.from_flat(self.indices, self.out_features, self.in_features)
            if not key:
                return structure
            self._csr = (key, structure)
        return self._csr[1]

    def stored_bytes(self) -> int:
        """Bytes of the state: values + indices + α + bias."""
        return sum(t.numel() * t.element_size() for t in self.state_dict().values())

    # --- forward -------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        structure = self.csr_structure()
        rows = x[..., 0].numel()
        training = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        fast = self.path == "fast" or (self.path == "auto" and dctps_path(
            self.out_features, self.in_features, self.nnz, rows, training=training) == "fast")
        if fast:
            return fast_dctps_linear(x, self.alpha, self.values, structure, self.bias)
        d = cached_dct((self.out_features, self.in_features), self.values.dtype, self.values.device)
        return F.linear(x, self.alpha * d + structure.to_dense(self.values), self.bias)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # A saved layer may have another nnz: take its sizes before the default loading copies in place.
        values, indices = state_dict.get(prefix + "values"), state_dict.get(prefix + "indices")
        if values is not None and indices is not None and values.shape != self.values.shape:
            self.values = nn.Parameter(torch.empty_like(self.values, memory_format=torch.contiguous_format)
                                       .resize_(values.shape), requires_grad=self.values.requires_grad)
            self.indices = torch.empty(indices.shape, dtype=self.indices.dtype, device=self.indices.device)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"nnz={self.nnz}, density={self.density:.4g}, offset=dct, path={self.path}")


def _to(structure: CSRStructure, device: torch.device) -> CSRStructure:
    return CSRStructure(structure.n_out, structure.n_in,
                        *(getattr(structure, f).to(device) for f in ("flat", "crow", "col", "crow_t", "col_t",
                                                                      "perm_t")))


def compact_dctps(model: nn.Module) -> nn.Module:
    """Replace every :class:`DCTpSLinear` of ``model`` (in place) by its :class:`CompactDCTpSLinear`; returns
    ``model``. A bare DCTpSLinear is returned converted."""
    check_module("model", model)
    if isinstance(model, DCTpSLinear):
        return CompactDCTpSLinear.from_masked(model)
    for name, child in list(model.named_children()):
        if isinstance(child, DCTpSLinear):
            setattr(model, name, CompactDCTpSLinear.from_masked(child))
        else:
            compact_dctps(child)
    return model
