"""D x in O(N log N): the truncated orthonormal DCT-II of a DCTpS layer through one real FFT ([C] §3; SPEC §4, §5).

A layer's offset is D = C_N[0:n_out, 0:n_in], N = max(n_in, n_out) (:func:`sparseinit.layers.dct.dct_matrix`), so

    D x = (C_N [x; 0])[0:n_out]:

zero-pad x to length N, take its orthonormal DCT-II, keep the first n_out coefficients. The length-N DCT-II

    X_k = c_k Σ_j x_j cos(π k (2j + 1) / (2N)),   c_0 = √(1/N),  c_k = √(2/N)

is computed with Makhoul's reordering (IEEE TASSP 28(1), 1980): v = (x_0, x_2, x_4, …, x_5, x_3, x_1) (even
indices ascending, then odd indices descending), V = rfft(v) (k = 0 … ⌊N/2⌋), Z_k = c_k e^{−iπk/(2N)} V_k; then

    X_k = Re Z_k (0 ≤ k ≤ ⌊N/2⌋),   X_{N−k} = −Im Z_k (1 ≤ k ≤ N − 1 − ⌊N/2⌋)

(the second from V_{N−k} = conj(V_k) for real v and c_{N−k} = c_k = √(2/N)). Cost: one real FFT of length N,
O(N log N) per vector, against n_in·n_out multiply-adds for the dense product. Everything is a differentiable
torch op (the adjoint, Dᵀ g, is autograd's backward through rfft), so :func:`fast_dct` trains; it runs on any
device and dtype torch.fft supports (float32 / float64 on CPU and CUDA). The reordering permutation and the
twiddles are cached per (n_in, n_out, dtype, device).
"""

from __future__ import annotations

import functools
import math
import numbers

import torch
import torch.nn.functional as F

from .dct import _check_size


@functools.lru_cache(maxsize=256)
def _plan(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(permutation of the zero-padded input, twiddles c_k e^{−iπk/(2N)} for k ≤ ⌊N/2⌋, N)."""
    n = max(n_in, n_out)
    with torch.inference_mode(False), torch.no_grad():
        perm = torch.cat([torch.arange(0, n, 2), torch.arange(1, n, 2).flip(0)]).to(device)
        k = torch.arange(n // 2 + 1, dtype=torch.float64)
        scale = torch.full_like(k, math.sqrt(2.0 / n))
        scale[0] = math.sqrt(1.0 / n)
        twiddle = torch.polar(scale, -math.pi * k / (2 * n))
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        twiddle = twiddle.to(dtype=complex_dtype, device=device)
    return perm, twiddle, n


def fast_dct(x: torch.Tensor, n_out: int, dim: int = -1) -> torch.Tensor:
    """D x along ``dim``: x (…, n_in, …) → (…, n_out, …), D = C_N[0:n_out, 0:n_in], N = max(n_in, n_out).

    Equal to ``x @ dct_matrix(n_out, n_in).T`` (for ``dim=-1``) up to rounding, in O(N log N) per vector;
    differentiable.
    """
    return permuted_dct(x, n_out, dim)


def permuted_dct(x: torch.Tensor, n_out: int, dim: int = -1, order: torch.Tensor | None = None) -> torch.Tensor:
    """D applied along ``dim`` to the vector whose j-th entry is x[…, order[j], …] (``order`` a permutation of
    range(n_in); default the identity). The permutation is folded into Makhoul's, so it costs no extra pass — the
    convolution uses it to read unfolded patches channel-fastest (SPEC §4) without reordering them."""
    _check_size("n_out", n_out)
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"fast_dct needs a float32 or float64 tensor, got {x.dtype}")
    if x.dim() == 0:
        raise ValueError(f"x must have at least one axis, got shape {tuple(x.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim must be an integer in [{-x.dim()}, {x.dim() - 1}] for shape {tuple(x.shape)}, "
                         f"got {dim!r}")
    dim = int(dim) % x.dim()
    n_in = x.shape[dim]
    if n_in < 1:
        raise ValueError(f"x must have an axis of length >= 1 at dim {dim}, got shape {tuple(x.shape)}")
    perm, twiddle, n = _plan(n_in, n_out, x.dtype, x.device)
    if order is not None:
        if order.shape != (n_in,):
            raise ValueError(f"order must be a permutation of range({n_in}), got shape {tuple(order.shape)}")
        if n_in < n:  # entries n_in … N−1 are the zero padding
            order = torch.cat([order.to(perm.device), torch.arange(n_in, n, device=perm.device)])
        perm = order.to(perm.device)[perm]
    if n_in < n:
        pad = [0, 0] * (x.dim() - 1 - dim) + [0, n - n_in]
        x = F.pad(x, pad)
    trailing = (1,) * (x.dim() - 1 - dim)
    z = torch.fft.rfft(x.index_select(dim, perm), dim=dim) * twiddle.reshape(-1, *trailing)  # Z_k, k ≤ ⌊N/2⌋
    half = n // 2 + 1
    if n_out <= half:
        return z.real.narrow(dim, 0, n_out)
    upper = -z.imag.narrow(dim, 1, n - half).flip(dim)  # X_{N−k} = −Im Z_k, indices ⌊N/2⌋+1 … N−1
    return torch.cat([z.real, upper], dim=dim).narrow(dim, 0, n_out)
