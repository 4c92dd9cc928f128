"""The fast forward of a DCT-plus-Sparse layer: α·D x by FFT plus S x in CSR, chosen per shape ([C] §3; SPEC §5).

    y = α · fast_dct(x) + x Sᵀ + b

costs O(B·N log N + B·nnz) (N = max(n_in, n_out), B rows of x) where the dense formulation — build the kernel
α·D + S ⊙ M, then one GEMM — costs O(n_in·n_out·(1 + B)). A convolution applies the same to every input patch
(unfolded, flattened channel-fastest for D as in SPEC §4, channel-slowest for S as the weight is stored), so the
fast form pays only when the patch p = (C_in/groups)·k_h·k_w and C_out are large: the unfold copies every input
pixel k_h·k_w times, which the dense convolution avoids.

:func:`dctps_path` picks the faster of the two for a shape from a small cost model whose rates were measured on
the project's CPU (2 cores of an AMD EPYC, torch 2.13, ``benchmarks/dctps_speed.py``); both paths compute the same
function (up to rounding) and the same gradients, so the choice only changes speed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validate import check_choice
from .fast_dct import fast_dct, permuted_dct
from .sparse_matmul import CSRStructure, csr_matmul, csr_matmul_columns

PATHS = ("auto", "fast", "dense")

# Cost model (seconds), rates fitted to `sparseinit bench dctps` on the project CPU (2 threads, float32, widths
# 32–4096, densities 1e-3–1) and to 3×3 convolutions (64–512 channels, 2×2–32×32 maps, batch 32). On the committed
# benchmark (results/speed/dctps.json, 48 rows) it picks the measured faster path wherever one path is ≥ 2× the
# other (35 rows), and misses 5 rows, all 512-channel convolutions on 2×2 / 4×4 maps where the paths are 1.1–1.8×
# apart.
_OVERHEAD_S = 180e-6  # fixed cost of the fast path's ~10 small ops (forward)
_TRAIN_OVERHEAD_S = 600e-6  # extra fixed cost of its backward (autograd nodes, sampled_addmm set-up)
_BUILD_S = 1e-9  # per kernel entry: α·D + W ⊙ M (three passes and fresh n_in·n_out buffers; ~6 ns at 4096²)
_GEMM_MAC_S = 1 / 60e9  # per multiply-add of a dense GEMM
_GEMV_ENTRY_S = 0.18e-9  # per kernel entry of a batch-1 product (memory bound: the kernel is read once)
_SPARSE_S = 1 / 0.75e9  # per nonzero, once per product (gathering the values, the CSR arrays)
_SPARSE_ROW_S = 1 / 10e9  # per nonzero and row of x
_FFT_S = 1 / 4e9  # per N·log2 N and row of x
_COPY_S = 3e-9  # per patch element and pass: unfold, its transpose, the FFT's gather (convolutions; memory bound)
_TRAIN_DENSE, _TRAIN_FAST, _TRAIN_COPY = 3.0, 3.5, 2.0  # forward + backward over forward


def predicted_seconds(n_out: int, n_in: int, nnz: int, rows: int, *, conv: bool = False,
                      training: bool = False) -> dict[str, float]:
    """Modelled time of the dense-kernel and the fast path of one DCTpS layer, forward (``training``: forward and
    backward); ``rows`` = B (linear) or B·H_out·W_out (convolution, n_in the patch length p)."""
    n = max(n_in, n_out)
    numel = n_in * n_out
    product = numel * max(rows * _GEMM_MAC_S, _GEMV_ENTRY_S)
    work = nnz * _SPARSE_S + nnz * rows * _SPARSE_ROW_S + rows * n * max(math.log2(n), 1.0) * _FFT_S
    copies = 2 * rows * n_in * _COPY_S if conv else 0.0
    if training:
        return {"dense": numel * _BUILD_S + _TRAIN_DENSE * product,
                "fast": _OVERHEAD_S + _TRAIN_OVERHEAD_S + _TRAIN_FAST * work + _TRAIN_COPY * copies}
    return {"dense": numel * _BUILD_S + product, "fast": _OVERHEAD_S + work + copies}


def dctps_path(n_out: int, n_in: int, nnz: int, rows: int, *, conv: bool = False, training: bool = False) -> str:
    """``"fast"`` or ``"dense"``: the path :func:`predicted_seconds` says is faster for this shape."""
    t = predicted_seconds(n_out, n_in, nnz, rows, conv=conv, training=training)
    return "fast" if t["fast"] < t["dense"] else "dense"


def check_path(path: str) -> str:
    """``path`` if it is one of :data:`PATHS`, else a ValueError."""
    return check_choice("path", path, PATHS)


def fast_dctps_linear(x: torch.Tensor, alpha: torch.Tensor, values: torch.Tensor, structure: CSRStructure,
                      bias: torch.Tensor | None = None) -> torch.Tensor:
    """α · D x + S x + b over the last axis of x, D by FFT (:func:`fast_dct`), S = (structure, values) in CSR."""
    y = alpha * fast_dct(x, structure.n_out) + csr_matmul(x, values, structure)
    return y if bias is None else y + bias


def conv_structure(mask: torch.Tensor, groups: int) -> CSRStructure:
    """S of a (C_out, C_in/groups, k_h, k_w) convolution support as one block-diagonal C_out × (C_in·k_h·k_w) CSR
    over the unfolded input (``F.unfold`` order: channel slowest), group g's outputs reading group g's block."""
    c_out = mask.shape[0]
    p = mask[0].numel()
    flat = torch.flatten(mask).nonzero().squeeze(1)
    row, col = flat // p, flat % p
    col = col + (row // (c_out // groups)) * p
    return CSRStructure.from_flat(row * (groups * p) + col, c_out, groups * p)


def conv_output_size(size: tuple[int, int], kernel_size: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """(H_out, W_out) of a convolution, torch's formula."""
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1  # type: ignore[return-value]
                 for s, k, st, p, d in zip(size, kernel_size, stride, padding, dilation, strict=True))


def _channel_fastest(cg: int, positions: int, device: torch.device) -> torch.Tensor:
    """Patch entry q = s·cg + c (channel fastest, SPEC §4) sits at unfold index c·positions + s."""
    q = torch.arange(cg * positions, device=device)
    return (q % cg) * positions + q // cg


def fast_dctps_conv2d(x: torch.Tensor, alpha: torch.Tensor, values: torch.Tensor, structure: CSRStructure,
                      kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                      dilation: tuple[int, int], groups: int, bias: torch.Tensor | None = None) -> torch.Tensor:
    """conv2d(x, α·K_D + S ⊙ M) (+ b) through unfolded patches: α · D (each patch, channel-fastest) by FFT along
    the patch axis plus the block-diagonal CSR S (:func:`conv_structure`) on the same patches. Zero padding only."""
    b, c_in = x.shape[:2]
    c_out = structure.n_out
    kh, kw = kernel_size
    p = (c_in // groups) * kh * kw
    h_out, w_out = conv_output_size(tuple(x.shape[2:]), kernel_size, stride, padding, dilation)
    cols = F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)  # (B, groups·p, L)
    length = cols.shape[-1]
    sparse = csr_matmul_columns(cols.transpose(0, 1).reshape(groups * p, b * length), values, structure)
    sparse = sparse.reshape(c_out, b, length).transpose(0, 1)  # (B, C_out, L)
    order = _channel_fastest(c_in // groups, kh * kw, x.device)
    offset = permuted_dct(cols.reshape(b, groups, p, length), c_out, dim=2, order=order)  # (B, groups, C_out, L)
    if groups > 1:  # group g's outputs are rows g·og … (g+1)·og − 1 of D applied to group g's patch
        og = c_out // groups
        offset = offset.reshape(b, groups, groups, og, length).diagonal(dim1=1, dim2=2).permute(0, 3, 1, 2)
    y = alpha * offset.reshape(b, c_out, length) + sparse
    if bias is not None:
        y = y + bias[:, None]
    return y.reshape(b, c_out, h_out, w_out)
