"""S x in O(nnz): the sparse part of a DCTpS layer in compressed-sparse-row form ([C] §3; SPEC §5).

S ∈ R^{n_out × n_in} has its nnz trainable values on a fixed support, listed in row-major order (flat index
i·n_in + j ascending — the order of ``weight[mask]``). :class:`CSRStructure` holds the support once, as int32
CSR arrays for S and for Sᵀ (plus the permutation taking S's value order to Sᵀ's), and :func:`csr_matmul` computes

    y = x Sᵀ                                 (x: (B, n_in), y: (B, n_out); torch.sparse CSR × dense)
    ∂L/∂x = g S                              (the CSR of Sᵀ times gᵀ)
    ∂L/∂values_t = Σ_b g[b, i_t] x[b, j_t]   (sampled dense-dense product, ``torch.sparse.sampled_addmm``)

so training touches only the nnz values: the cost is O(nnz·B) per product instead of n_in·n_out·B.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CSRStructure:
    """The support of S (n_out × n_in) as CSR index arrays, for S and for Sᵀ."""

    n_out: int
    n_in: int
    flat: torch.Tensor  # int64 (nnz,), flat indices i·n_in + j, ascending
    crow: torch.Tensor  # S: row pointers (n_out + 1,)
    col: torch.Tensor  # S: column of each value (nnz,)
    crow_t: torch.Tensor  # Sᵀ: row pointers (n_in + 1,)
    col_t: torch.Tensor  # Sᵀ: column (= row of S) of each value of Sᵀ (nnz,)
    perm_t: torch.Tensor  # int64 (nnz,): values of Sᵀ = values[perm_t]

    @property
    def nnz(self) -> int:
        """Number of entries on the support."""
        return int(self.flat.numel())

    @classmethod
    def from_flat(cls, flat: torch.Tensor, n_out: int, n_in: int) -> CSRStructure:
        """From the ascending flat indices i·n_in + j of the support (any integer dtype, one device)."""
        if flat.numel() and (flat.dtype.is_floating_point or flat.dtype.is_complex or flat.dtype == torch.bool):
            raise ValueError(f"support indices must be an integer tensor, got {flat.dtype}")
        flat = flat.to(torch.int64)
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= n_out * n_in):
            raise ValueError(f"support indices must lie in [0, {n_out * n_in}), got [{int(flat.min())}, "
                             f"{int(flat.max())}]")
        if flat.numel() > 1 and not bool((flat[1:] > flat[:-1]).all()):
            raise ValueError("support indices must be strictly ascending")
        index = torch.int32 if max(n_out, n_in, flat.numel()) < 2**31 else torch.int64
        row, col = flat // n_in, flat % n_in
        crow = _row_pointers(row, n_out)
        perm_t = torch.argsort(col * n_out + row)
        crow_t = _row_pointers(col[perm_t], n_in)
        return cls(n_out, n_in, flat, crow.to(index), col.to(index), crow_t.to(index), row[perm_t].to(index), perm_t)

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> CSRStructure:
        """From a boolean (n_out, n_in) mask."""
        if mask.dim() != 2:
            raise ValueError(f"mask must be 2-D (n_out, n_in), got shape {tuple(mask.shape)}")
        return cls.from_flat(torch.flatten(mask).nonzero().squeeze(1), mask.shape[0], mask.shape[1])

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """S as a torch sparse CSR tensor."""
        return _csr(self.crow, self.col, values, (self.n_out, self.n_in))

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """Sᵀ as a torch sparse CSR tensor."""
        return _csr(self.crow_t, self.col_t, values[self.perm_t], (self.n_in, self.n_out))

    def to_dense(self, values: torch.Tensor) -> torch.Tensor:
        """S as a dense (n_out, n_in) tensor."""
        out = values.new_zeros(self.n_out * self.n_in)
        out[self.flat] = values
        return out.reshape(self.n_out, self.n_in)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state", once per process
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _row_pointers(row: torch.Tensor, n_rows: int) -> torch.Tensor:
    crow = torch.zeros(n_rows + 1, dtype=torch.int64, device=row.device)
    crow[1:] = torch.bincount(row, minlength=n_rows).cumsum(0)
    return crow


class _CSRMatmul(torch.autograd.Function):
    """S @ xt for xt of shape (n_in, M): the column form (torch's CSR × dense), gradients for values and xt."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, xt: torch.Tensor, structure: CSRStructure) -> torch.Tensor:
        ctx.save_for_backward(values, xt)
        ctx.structure = structure
        return structure.matrix(values) @ xt

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        values, xt = ctx.saved_tensors
        structure: CSRStructure = ctx.structure
        grad = grad.contiguous()
        grad_values = grad_xt = None
        if ctx.needs_input_grad[1]:
            grad_xt = structure.matrix_t(values) @ grad
        if ctx.needs_input_grad[0]:
            pattern = structure.matrix(values.detach())
            grad_values = torch.sparse.sampled_addmm(pattern, grad, xt.t().contiguous(), beta=0.0).values()
        return grad_values, grad_xt, None


def _check(n_in: int, values: torch.Tensor, structure: CSRStructure, shape: tuple[int, ...]) -> None:
    if n_in != structure.n_in:
        raise ValueError(f"x must have n_in = {structure.n_in} entries per vector, got shape {shape}")
    if values.shape != (structure.nnz,):
        raise ValueError(f"values must have shape ({structure.nnz},), got {tuple(values.shape)}")


def csr_matmul_columns(xt: torch.Tensor, values: torch.Tensor, structure: CSRStructure) -> torch.Tensor:
    """S xt for xt of shape (n_in, M) → (n_out, M): the vectors are columns (as unfolded convolution patches)."""
    _check(xt.shape[0] if xt.dim() == 2 else -1, values, structure, tuple(xt.shape))
    if structure.nnz == 0:
        return xt.new_zeros(structure.n_out, structure.n_in) @ xt + 0.0 * values.sum()  # zero, but connected
    return _CSRMatmul.apply(values, xt.contiguous(), structure)


def csr_matmul(x: torch.Tensor, values: torch.Tensor, structure: CSRStructure) -> torch.Tensor:
    """x Sᵀ for x of shape (..., n_in) → (..., n_out), S = (structure, values); differentiable in x and values."""
    _check(x.shape[-1] if x.dim() else -1, values, structure, tuple(x.shape))
    lead = x.shape[:-1]
    y = csr_matmul_columns(x.reshape(-1, structure.n_in).t(), values, structure).t()
    return y.reshape(*lead, structure.n_out)
