"""The fixed offset D of a DCT-plus-Sparse layer ([C] §3; SPEC §4).

    C_N[k, j] = c_k · cos(π k (2j + 1) / (2N)),   c_0 = √(1/N),  c_k = √(2/N)  (k ≥ 1)

is the orthonormal DCT-II matrix of size N (``scipy.fft.dct(np.eye(N), norm="ortho", axis=0)``). A layer with
n_in inputs and n_out outputs uses its truncation D = C_N[0:n_out, 0:n_in], N = max(n_in, n_out): the first
n_out rows of C_N restricted to the first n_in columns. When n_out ≤ n_in = N the rows of D are orthonormal
(D Dᵀ = I); when n_in ≤ n_out = N its columns are (Dᵀ D = I). Either way every singular value is 1: D is a partial
isometry, so α·D passes signal through at any depth whatever the density of the sparse part.

A convolution uses D ∈ R^{C_out × p}, p = (C_in/groups)·k_h·k_w, on every input patch flattened with the channel
index fastest: kernel[o, c, h, w] = D[o, (h·k_w + w)·(C_in/groups) + c] (:func:`dct_conv_kernel`).

D is a function of the layer's shape, never a parameter and never saved: :func:`cached_dct` memoises it per
(shape, dtype, device) so that layers of one shape share one tensor.
"""

from __future__ import annotations

import functools
import math
import numbers

import torch

from .._validate import check_int


def _check_size(name: str, value: int) -> int:
    return check_int(name, value, 1)


def _kernel_size(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    """(k_h, k_w) from an int or a pair, each an integer >= 1."""
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, numbers.Integral) else tuple(kernel_size)
    if len(pair) != 2:
        raise ValueError(f"kernel_size must be an integer or a pair (k_h, k_w), got {kernel_size!r}")
    return _check_size("kernel_size", pair[0]), _check_size("kernel_size", pair[1])


def dct_matrix(n_out: int, n_in: int, dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None) -> torch.Tensor:
    """D = C_N[0:n_out, 0:n_in], N = max(n_in, n_out): the truncated orthonormal DCT-II matrix, shape (n_out, n_in).

    Computed in float64 from the closed form and then cast to ``dtype``; a new tensor on every call.
    """
    _check_size("n_out", n_out)
    _check_size("n_in", n_in)
    n = max(n_in, n_out)
    k = torch.arange(n_out, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(n_in, dtype=torch.float64).unsqueeze(0)
    d = torch.cos(math.pi * k * (2.0 * j + 1.0) / (2.0 * n)) * math.sqrt(2.0 / n)
    d[0] = math.sqrt(1.0 / n)
    return d.to(dtype=dtype, device=device)


def dct_conv_kernel(out_channels: int, in_channels_per_group: int, kernel_size: tuple[int, int],
                    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The convolution kernel of shape (C_out, C_in/groups, k_h, k_w) with kernel[o, c, h, w] = D[o, (h·k_w + w)·C + c].

    Convolving with it (any stride/padding/dilation) maps every input patch, flattened channel-fastest, to its
    truncated / zero-padded orthonormal DCT.
    """
    kh, kw = _kernel_size(kernel_size)
    d = dct_matrix(out_channels, _check_size("in_channels_per_group", in_channels_per_group) * kh * kw, dtype, device)
    return d.reshape(out_channels, kh, kw, in_channels_per_group).permute(0, 3, 1, 2).contiguous()


@functools.lru_cache(maxsize=512)
def _cached(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # Built outside inference mode so that a D first needed under torch.inference_mode() can later be saved for
    # backward by a training forward.
    with torch.inference_mode(False), torch.no_grad():
        if len(shape) == 2:
            return dct_matrix(shape[0], shape[1], dtype, device)
        return dct_conv_kernel(shape[0], shape[1], (shape[2], shape[3]), dtype, device)


def cached_dct(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """D for a weight of ``shape`` ((n_out, n_in) or (C_out, C_in/groups, k_h, k_w)), shared and read-only.

    One tensor per (shape, dtype, device), built on first use; do not modify it in place.
    """
    if len(shape) not in (2, 4):
        raise ValueError(f"shape must be a linear weight's (n_out, n_in) or a convolution's (C_out, C_in/groups, k_h, "
                         f"k_w), got {tuple(shape)}")
    return _cached(tuple(int(s) for s in shape), dtype, torch.device(device))
