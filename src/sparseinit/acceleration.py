"""Inference that skips zero activations: make activation sparsity pay in wall-clock time (SPEC §5, issue 5 §1).

A layer that follows a sparsifying activation φ (relu, relu_tau, st, crelu, cst; :func:`is_sparsifying`) sees an
input x = φ(h) with a fraction s of exact zeros (s ≈ 0.85 at [A]'s Edge-of-Chaos point). Its product

    y = b + W x = b + Σ_{i : x_i ≠ 0} x_i · Wᵀ[i, :]

needs only the rows of Wᵀ (in × out, row-major: one contiguous run per input) of the active inputs. At batch 1 the
product is memory-bound, so reading (1 − s) of the weights bounds the speed-up by the ideal 1/(1 − s) (6.7× at
s = 0.85, 10× at 0.9); at larger batches the multiply-adds drop to (1 − s) of dense. The kernels are in
:mod:`sparseinit._kernels` (numba; why numba: see there and results/speed/README.md).

:func:`accelerate` returns an inference-only copy of a model in which every such layer is replaced:

* ``nn.Linear`` → :class:`SparseInputLinear` (stores Wᵀ contiguous, not W).
* ``nn.Conv2d`` with stride 1, dilation 1, groups 1 and zero padding (any k×k, 1×1 included) →
  :class:`SparseInputConv2d`, an input-stationary scatter over channels-last data: each non-zero input pixel-channel
  adds x · W[:, c, dh, dw] to the k² outputs it touches. Other convolutions (strided, dilated, grouped, non-zero
  padding modes) stay dense; the plan says why. In ``mode="auto"`` a convolution with fewer than
  :data:`CONV_MIN_CHANNELS` (64) output channels always runs dense (the scatter's inner loop is too short to beat
  mkldnn there); ``mode="sparse"`` still forces the kernel.

"Follows" means: inside one ``nn.Sequential`` (nested ones are walked, carrying the flag in and out), the nearest
preceding module is a sparsifying activation, possibly through zero-preserving modules (``nn.Flatten``,
``nn.Unflatten``, ``nn.Identity``, ``nn.Dropout`` — an identity in eval mode). Layers of other containers, whose
data flow is not visible from the module tree, are left dense. A model with nothing to accelerate is not an error:
:func:`accelerate` returns an equivalent (eval, no-grad) copy whose plan reports 0 accelerated layers.

Per call, each accelerated layer decides from its input's measured zero fraction z whether the sparse kernel pays:
sparse iff z > max(``min_sparsity``, break-even(layer size, batch)). ``min_sparsity`` = 0.5 by default, so at ≤ 50%
zeros the layer always runs torch's dense product, in the form measured fastest on this machine (see
:class:`SparseInputLinear`), so the only cost over dense is counting the zeros, O(B·in) against the product's
O(B·in·out); a layer whose break-even is 1 (the kernel never pays at that size and batch) does not count them. At
batch 1 the break-even also depends on the whole model: once its accelerated weights overflow the last-level cache,
layers of ≥ 300² run the kernel from 50 % zeros (:data:`OVERFLOW_BREAK_EVEN`). The break-even sparsities are
measured on our 2-core AMD EPYC (AVX2) with 2 threads (see :data:`LINEAR_BREAK_EVEN`, :data:`CONV_BREAK_EVEN`);
pass ``min_sparsity`` to move the floor. The activation
modules feeding accelerated layers run large inputs on one thread (:func:`accelerate` says why).

Measured on that machine (results/speed.md), 8 × 4096 DeepMLP, hidden layers, against dense torch: 6.9× at batch
1 and 85% zeros (ideal 6.5×), 9.4× at 90% (ideal 9.6×), 3.3× at batch 64 and 90% (ideal 9.7×), 0.95–1.5× at 50%.

Outputs equal the dense model's to float rounding (the sum runs in another order): tests hold max relative
error ≤ 1e-5 in float32. float32 and float64 run the kernels; other dtypes and devices run dense.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice, check_module, check_range
from .activations import is_sparsifying

__all__ = [
    "CONV_BREAK_EVEN",
    "CONV_MIN_CHANNELS",
    "LINEAR_BREAK_EVEN",
    "MODES",
    "SERIAL_MAX_MADDS",
    "SPLIT_INPUTS_MAX_ROWS",
    "TRANSPOSED_DENSE_MIN_ROWS",
    "LayerPlan",
    "SparseInputConv2d",
    "SparseInputLinear",
    "accelerate",
    "acceleration_plan",
    "plan_layers",
]

# Per layer size, the zero fraction above which the linear kernel runs: (in·out weights from which a row applies,
# ((largest batch rows, break-even zero fraction), ...)); 1.0 = never. A layer takes the row of the largest size
# not above its own (the smallest row below that), a call the first entry whose rows are >= its own (the last
# beyond). Derived, not set by hand: `benchmarks/sparse_inference.py --break-even-model --repeat 2` on 2 threads
# measures the hidden layers of 8-layer DeepMLPs of width 64-4096 at their crelu EoC points, the kernel forced
# against dense torch, and `--derive` prints this table (results/speed/break_even_linear_model*.json): the smallest
# measured zero fraction from which the kernel is >= 1.25x dense (median of the repeats) at every sparser point,
# 1.0 where none; default OpenMP wait policy, as a user runs it. The margin covers run-to-run drift and chains that
# mix paths (a dense MKL call leaves its workers spinning against the next kernel call: 4096², batch 64, 50 % zeros
# measured 1.15-1.27x forced on every layer but 0.90x when half the layers ran dense). Up to 128² the kernel never
# pays; up to ~300² only at 90-95 % zeros and a few batch sizes.
LINEAR_BREAK_EVEN: tuple[tuple[int, tuple[tuple[int, float], ...]], ...] = (
    (64**2, ((1, 1.0), (8, 1.0), (16, 1.0), (32, 1.0), (64, 1.0), (128, 1.0), (256, 1.0))),
    (128**2, ((1, 1.0), (8, 1.0), (16, 1.0), (32, 1.0), (64, 1.0), (128, 1.0), (256, 1.0))),
    (256**2, ((1, 1.0), (8, 1.0), (16, 1.0), (32, 1.0), (64, 1.0), (128, 1.0), (256, 0.95))),
    (300**2, ((1, 1.0), (8, 1.0), (16, 0.9), (32, 1.0), (64, 1.0), (128, 1.0), (256, 0.95))),
    (512**2, ((1, 0.8), (8, 1.0), (16, 0.95), (32, 0.95), (64, 0.9), (128, 0.9), (256, 0.9))),
    (1024**2, ((1, 0.5), (8, 0.85), (16, 0.85), (32, 0.9), (64, 0.85), (128, 0.85), (256, 0.85))),
    (2048**2, ((1, 0.5), (8, 0.7), (16, 0.7), (32, 0.7), (64, 0.7), (128, 0.7), (256, 0.7))),
    (4096**2, ((1, 0.5), (8, 0.5), (16, 0.5), (32, 0.5), (64, 0.6), (128, 0.6), (256, 0.6))),
)
# At batch 1 a dense product streams every weight; once the weights of all accelerated layers of a model exceed the
# last-level cache they come from memory on every call, and the kernel, which reads only the active rows, pays from
# far smaller layers: 300², 100 layers (36 MB > 32 MiB L3), batch 1, forced kernel 1.26-1.80x dense from 50 % zeros,
# against 0.82-0.95x with 20 layers (results/speed/break_even_linear_model_300_depth*.json). accelerate() then lowers
# the batch-1 break-even of layers from OVERFLOW_MIN_WEIGHTS in·out to OVERFLOW_BREAK_EVEN.
OVERFLOW_MIN_WEIGHTS = 300**2
OVERFLOW_BREAK_EVEN = 0.5


def _last_level_cache_bytes() -> int:
    """The largest CPU cache (Linux sysfs); 32 MiB where it cannot be read."""
    sizes = []
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = entry.read_text().strip().upper()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            sizes.append(int(text.rstrip("KMG")) * scale)
        except ValueError:
            continue
    return max(sizes, default=32 << 20)


LAST_LEVEL_CACHE_BYTES = _last_level_cache_bytes()
CONV_BREAK_EVEN: tuple[tuple[int, float], ...] = ((2**62, 0.8),)  # rows = batch · H · W
# batch rows up to which the linear kernel splits the inputs among threads (above: CSR rows against Wᵀ panels)
SPLIT_INPUTS_MAX_ROWS = 8
# below this many multiply-adds (non-zeros × outputs) a linear kernel call runs on the calling thread only: a pool
# thread's wake-up and join cost ~50-100 µs on this VM, and at batch 1 one thread already reads memory nearly as
# fast as two. Measured on 8 layers 4096², batch 1 (interleaved): 90% zeros (1.7M multiply-adds per layer) one
# thread 7.4-7.6x dense, two 6.8-7.1x; 85% (2.5M) two threads 5.65x, one 5.53x.
SERIAL_MAX_MADDS = 1 << 21
# batch rows from which the linear dense fallback may run transposed (SparseInputLinear's docstring says why)
TRANSPOSED_DENSE_MIN_ROWS = 32
# (in, out, rows rounded up to a power of two, dtype, threads) -> whether the transposed dense form was measured
# faster than the plain one on this machine; filled on first use of each key (:func:`_dense_product`)
_TRANSPOSED_FASTER: dict[tuple, bool] = {}
# below this many output channels the scatter's inner loop is too short to beat mkldnn: the conv stays dense.
# Measured: 32 channels, 28×28 maps, 84 % zeros, batch 1 and 64: the scatter at 0.5× mkldnn (trained CNNs,
# results/speed/README.md); CONV_BREAK_EVEN was measured at 64 channels.
CONV_MIN_CHANNELS = 64

# zero-preserving modules between an activation and the layer that reads it
_TRANSPARENT = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
                nn.AlphaDropout)
_KERNEL_DTYPES = (torch.float32, torch.float64)
MODES = ("auto", "sparse", "dense")


def _linear_break_even(weights: int, table: tuple | None = None) -> tuple[tuple[int, float], ...]:
    """The row of ``table`` (default :data:`LINEAR_BREAK_EVEN`) for a layer of ``weights`` = in·out weights."""
    table = LINEAR_BREAK_EVEN if table is None else table
    chosen = table[0][1]
    for size, row in table:
        if weights >= size:
            chosen = row
    return chosen


def _check_break_even_table(table) -> tuple:
    """``table`` shaped like :data:`LINEAR_BREAK_EVEN`, as nested tuples, else a one-line ValueError."""
    shape = ("linear_break_even must be a non-empty sequence of (weights, ((rows, zero fraction), ...)) with "
             "weights and rows increasing integers >= 1 and zero fractions in [0, 1], like LINEAR_BREAK_EVEN")
    try:
        out = tuple((int(size), tuple((int(rows), float(value)) for rows, value in row)) for size, row in table)
    except (TypeError, ValueError):
        raise ValueError(f"{shape}; got {table!r}"[:400]) from None
    sizes = [size for size, _ in out]
    ok = bool(out) and sizes == sorted(set(sizes)) and sizes[0] >= 1
    for _, row in out:
        rows = [r for r, _ in row]
        ok = ok and bool(row) and rows == sorted(set(rows)) and rows[0] >= 1 and all(0 <= v <= 1 for _, v in row)
    if not ok:
        raise ValueError(f"{shape}; got {table!r}"[:400])
    return out


def _break_even(table: tuple[tuple[int, float], ...], rows: int) -> float:
    for limit, value in table:
        if rows <= limit:
            return value
    return table[-1][1]


def _threads() -> int:
    """Threads for a kernel call: torch's intra-op setting (``torch.set_num_threads``)."""
    return max(1, torch.get_num_threads())


def _zero_fraction(x: torch.Tensor) -> float:
    """Fraction of exact zeros (serial count in the kernel module for float32/64 CPU tensors)."""
    n = x.numel()
    if not n:
        return 0.0
    if x.dtype in _KERNEL_DTYPES and x.device.type == "cpu":
        from . import _kernels

        if x.is_contiguous():
            return 1.0 - _kernels.count_nonzero(x.detach().numpy()) / n
        if x.dim() == 2 and x.t().is_contiguous():  # the dense fallback's transposed output (see below)
            return 1.0 - _kernels.count_nonzero(x.detach().t().numpy()) / n
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return 1.0 - _kernels.count_nonzero(x.detach().permute(0, 2, 3, 1).numpy()) / n
    return 1.0 - torch.count_nonzero(x).item() / n


def _check_inference(x: torch.Tensor) -> None:
    if x.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("accelerated layers are inference-only: run them under torch.inference_mode() or "
                           "torch.no_grad(), on inputs that do not require grad")


class _SparseInput(nn.Module):
    """Common state: the zero-fraction floor, the mode and counters of the path taken (``calls``).

    ``mode``: "auto" decides per call (see the module docstring); "sparse" always runs the kernel (kernel tests,
    break-even measurements); "dense" always runs torch's dense product.
    """

    _table: tuple[tuple[int, float], ...] = ()  # (largest batch rows, break-even zero fraction)

    def __init__(self, min_sparsity: float, mode: str = "auto") -> None:
        super().__init__()
        self.min_sparsity = check_range("min_sparsity", min_sparsity, 0.0, 1.0, lo_open=False, hi_open=False)
        self.mode = check_choice("mode", mode, MODES)
        self.calls = {"sparse": 0, "dense": 0}
        self._seen_zeros = 0.0

    def threshold(self, rows: int) -> float:
        """The zero fraction above which a call with ``rows`` independent rows runs the sparse kernel."""
        return max(self.min_sparsity, _break_even(self._table, rows))

    def may_use_kernel(self) -> bool:
        """Whether any call can take the sparse kernel (False: ``mode="dense"``, or a break-even of 1 at every
        batch size, e.g. a convolution below :data:`CONV_MIN_CHANNELS` channels in ``mode="auto"``)."""
        if self.mode != "auto":
            return self.mode == "sparse"
        return any(self.threshold(rows) < 1.0 for rows, _ in self._table)

    def _use_sparse(self, x: torch.Tensor, rows: int) -> bool:
        """Decide the path; leaves the measured zero fraction in ``self._seen_zeros`` (0 when not measured)."""
        use = x.dtype in _KERNEL_DTYPES and x.device.type == "cpu" and rows > 0 and self.mode != "dense"
        self._seen_zeros = 0.0
        if use and self.mode == "auto":
            threshold = self.threshold(rows)
            # a layer that never pays (threshold 1) does not count its zeros: that count alone cost small layers
            # 10-15 % over dense (trained CNNs, results/speed/README.md)
            use = threshold < 1.0
            if use:
                self._seen_zeros = _zero_fraction(x)
                use = self._seen_zeros > threshold
        self.calls["sparse" if use else "dense"] += 1
        return use


class SparseInputLinear(_SparseInput):
    """Inference-only nn.Linear that reads only the weights of its input's non-zeros.

    Stores ``weight_t`` = Wᵀ (in_features × out_features, contiguous) and ``bias``; y = b + Σ_{x_i ≠ 0} x_i Wᵀ[i, :].
    Batch rows ≤ :data:`SPLIT_INPUTS_MAX_ROWS` use :func:`~sparseinit._kernels.linear_split_inputs`, larger
    batches :func:`~sparseinit._kernels.linear_csr_panels`.

    The dense fallback must be as fast as ``nn.Linear`` on the original W (out × in), which MKL multiplies as
    x·Wᵀ with a transposed operand. Two forms compute it from our contiguous Wᵀ: the plain
    ``torch.addmm(b, x, Wᵀ)``, and the same product computed transposed, yᵀ = b 1ᵀ + (Wᵀ)ᵀ xᵀ, i.e.
    ``torch.addmm(b[:, None], Wᵀ.t(), x.t()).t()``, which hands MKL exactly nn.Linear's operands (W as a
    transposed view of Wᵀ). It returns yᵀ's transpose: a (rows, out) view that is column-major, which the next
    accelerated layer reads without a copy (elementwise activations keep the layout; the zero count reads the
    storage directly). Which is faster depends on the machine: at 4096², batch 64, on the AMD EPYC the tables were
    measured on the transposed form matched nn.Linear and the plain one was ~10% slower; on an Intel Xeon VM the
    plain one took 9.3 ms and the transposed 15.0 ms (nn.Linear 10.2), and always running transposed made
    accelerate() 0.67× dense at 50% zeros. So from :data:`TRANSPOSED_DENSE_MIN_ROWS` rows the first call of each
    (shape, rows rounded up to a power of two, dtype, threads) times both forms on its own operands and the
    faster is kept for the process (:func:`_dense_product`). Below that, MKL is slow on the transposed form (batch
    2–8: 4–20× slower), and the fallback is always the plain one, within noise of nn.Linear there.
    """

    def __init__(self, linear: nn.Linear, min_sparsity: float = 0.5, mode: str = "auto",
                 linear_break_even: tuple | None = None) -> None:
        super().__init__(min_sparsity, mode)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        table = None if linear_break_even is None else _check_break_even_table(linear_break_even)
        self._table = _linear_break_even(self.in_features * self.out_features, table)
        weight = linear.weight.detach()
        self.has_bias = linear.bias is not None
        # allocated by numpy, which asks the kernel for transparent huge pages on large arrays (fewer TLB misses
        # when the kernel jumps between rows; measured ~7% at width 4096)
        if weight.dtype in _KERNEL_DTYPES and weight.device.type == "cpu":
            weight_t = torch.from_numpy(np.ascontiguousarray(weight.t().numpy()).copy())
        else:
            weight_t = weight.t().contiguous().clone()
        self.register_buffer("weight_t", weight_t)
        bias = linear.bias.detach().clone() if linear.bias is not None else torch.zeros(
            self.out_features, dtype=weight.dtype, device=weight.device)
        self.register_buffer("bias", bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"min_sparsity={self.min_sparsity}, mode={self.mode!r}")

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """numpy views of Wᵀ and b, cached until the buffers are replaced (``.to()``, assignment) or the cache is
        not a view of them (a copied or unpickled module carries a copy of it)."""
        wt, bias = self._buffers["weight_t"], self._buffers["bias"]
        cache = self.__dict__.get("_np_cache")
        if (cache is None or cache[0] is not wt or cache[1] is not bias or cache[2].ctypes.data != wt.data_ptr()
                or cache[3].ctypes.data != bias.data_ptr()):
            cache = (wt, bias, wt.numpy(), bias.numpy())
            self.__dict__["_np_cache"] = cache
        return cache[2], cache[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inference(x)
        if x.dim() == 0 or x.shape[-1] != self.in_features:  # the kernels would read past Wᵀ
            raise ValueError(f"x must have {self.in_features} features in its last dimension, got shape "
                             f"{tuple(x.shape)}")
        lead = x.shape[:-1]
        x2 = x if x.dim() == 2 else x.reshape(-1, self.in_features)
        rows = x2.shape[0]
        wt_tensor = self._buffers["weight_t"]
        if x2.dtype != wt_tensor.dtype or not self._use_sparse(x2, rows):
            y = _dense_product(x2, wt_tensor, self._buffers["bias"])
            return y if x.dim() == 2 else y.reshape(*lead, self.out_features)
        from . import _kernels

        xn = x2.detach().contiguous().numpy()
        wt, b = self._arrays()
        on = np.empty((rows, self.out_features), dtype=xn.dtype)
        threads = _threads()
        if (1.0 - self._seen_zeros) * rows * self.in_features * self.out_features < SERIAL_MAX_MADDS:
            threads = 1  # waking a second thread costs more than it saves
        if rows == 1 and threads == 1:
            _kernels.linear_one_serial(xn, wt, b, on)
        elif rows <= SPLIT_INPUTS_MAX_ROWS:
            _kernels.linear_split_inputs(xn, wt, b, on, threads)
        else:
            _kernels.linear_csr_panels(xn, wt, b, on, threads)
        out = torch.from_numpy(on)
        return out if x.dim() == 2 else out.reshape(*lead, self.out_features)


def _dense_product(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """b + x Wᵀ in the dense form measured faster on this machine for this shape (:class:`SparseInputLinear`)."""
    rows = x.shape[0]
    if rows < TRANSPOSED_DENSE_MIN_ROWS or x.device.type != "cpu":
        return torch.addmm(bias, x, weight_t)
    key = (*weight_t.shape, 1 << (rows - 1).bit_length(), x.dtype, _threads())
    if key not in _TRANSPOSED_FASTER:
        _TRANSPOSED_FASTER[key] = _transposed_is_faster(x, weight_t, bias)
    if _TRANSPOSED_FASTER[key]:
        return torch.addmm(bias[:, None], weight_t.t(), x.t()).t()
    return torch.addmm(bias, x, weight_t)


def _transposed_is_faster(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor, reps: int = 3) -> bool:
    """Whether the transposed dense form beat the plain one: medians of ``reps`` interleaved timings of each on
    these operands, after one untimed call of each."""
    forms = (lambda: torch.addmm(bias, x, weight_t), lambda: torch.addmm(bias[:, None], weight_t.t(), x.t()).t())
    seconds: tuple[list[float], list[float]] = ([], [])
    for form in forms:
        form()
    for _ in range(reps):
        for form, times in zip(forms, seconds, strict=True):
            start = time.perf_counter()
            form()
            times.append(time.perf_counter() - start)
    return statistics.median(seconds[1]) < statistics.median(seconds[0])


def _conv_unsupported(conv: nn.Conv2d) -> str | None:
    """Why ``conv`` cannot take the sparse path (None when it can)."""
    if conv.groups != 1:
        return f"groups={conv.groups} (only groups=1)"
    if tuple(conv.stride) != (1, 1):
        return f"stride={tuple(conv.stride)} (only stride 1)"
    if tuple(conv.dilation) != (1, 1):
        return f"dilation={tuple(conv.dilation)} (only dilation 1)"
    if conv.padding_mode != "zeros":
        return f"padding_mode={conv.padding_mode!r} (only 'zeros')"
    if isinstance(conv.padding, str) and conv.padding == "same" and any(k % 2 == 0 for k in conv.kernel_size):
        return "padding='same' with an even kernel (asymmetric padding)"
    return None


class SparseInputConv2d(_SparseInput):
    """Inference-only stride-1 nn.Conv2d that skips zero input pixel-channels (any k×k; 1×1 is k = 1).

    out[b, :, oh, ow] = bias + Σ_{x[b,c,h,w] ≠ 0} x[b, c, h, w] · W[:, c, h − oh + p_h, w − ow + p_w]: each non-zero
    input scatters into the ≤ k² outputs it touches (:func:`~sparseinit._kernels.conv2d_scatter`), so the
    multiply-adds are the non-zeros' share of dense. Works channels-last: the output is a (B, C, H, W) tensor in
    ``torch.channels_last`` memory format, which the next such layer reads without a copy.
    """

    _table = CONV_BREAK_EVEN

    def threshold(self, rows: int) -> float:
        """As for the linear layer, and 1 (never sparse) below :data:`CONV_MIN_CHANNELS` output channels."""
        return 1.0 if self.out_channels < CONV_MIN_CHANNELS else super().threshold(rows)

    def __init__(self, conv: nn.Conv2d, min_sparsity: float = 0.5, mode: str = "auto") -> None:
        reason = _conv_unsupported(conv)
        if reason is not None:
            raise ValueError(f"convolution not supported by the sparse path: {reason}")
        super().__init__(min_sparsity, mode)
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size = tuple(conv.kernel_size)
        if isinstance(conv.padding, str):
            self.padding = (0, 0) if conv.padding == "valid" else tuple(k // 2 for k in self.kernel_size)
        else:
            self.padding = tuple(conv.padding)
        weight = conv.weight.detach().clone()
        self.has_bias = conv.bias is not None
        self.register_buffer("weight", weight)  # (O, C, kh, kw) for the dense path
        self.register_buffer("weight_k", weight.permute(2, 3, 1, 0).contiguous())  # (kh, kw, C, O) for the kernel
        bias = conv.bias.detach().clone() if conv.bias is not None else torch.zeros(
            self.out_channels, dtype=weight.dtype, device=weight.device)
        self.register_buffer("bias", bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"min_sparsity={self.min_sparsity}, mode={self.mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_inference(x)
        if x.dim() == 4:  # the scatter kernel would read past W and write an empty or wrong-sized map
            (kh, kw), (ph, pw) = self.kernel_size, self.padding
            if x.shape[1] != self.in_channels:
                raise ValueError(f"x must have {self.in_channels} channels (dimension 1), got shape {tuple(x.shape)}")
            if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
                raise ValueError(f"x of shape {tuple(x.shape)} is smaller than the {kh}×{kw} kernel after padding "
                                 f"{(ph, pw)}")
        rows = x.shape[0] * x.shape[2] * x.shape[3] if x.dim() == 4 else 0
        if x.dim() != 4 or x.dtype != self.weight.dtype or not self._use_sparse(x, rows):
            return F.conv2d(x, self.weight, self.bias, padding=self.padding)
        from . import _kernels

        batch, _, height, width = x.shape
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        out_h, out_w = height + 2 * ph - kh + 1, width + 2 * pw - kw + 1
        x_cl = x.detach().permute(0, 2, 3, 1).contiguous()  # no copy when x is already channels-last
        out = torch.empty(batch, out_h, out_w, self.out_channels, dtype=x.dtype)
        threads = _threads()
        cblock = self.out_channels
        if batch < threads:  # split the output channels so every thread has work, in blocks of >= 32
            cblock = max(32, -(-self.out_channels // threads))
        _kernels.conv2d_scatter(x_cl.numpy(), self.weight_k.numpy(), self.bias.numpy(), out.numpy(), ph, pw,
                                cblock, threads)
        return out.permute(0, 3, 1, 2)


@dataclass(frozen=True)
class LayerPlan:
    """What :func:`accelerate` does with one nn.Linear / nn.Conv2d: ``accelerated`` or not, and why."""

    name: str
    kind: str  # "linear" | "conv2d"
    accelerated: bool
    reason: str

    def to_dict(self) -> dict:
        """The plan as a plain dict."""
        return asdict(self)


# (container, child name, dotted name, kind, reason the layer stays dense or None, the activation module feeding it
# or None)
_Entry = tuple


def _visit(module: nn.Module, prefix: str, out: list[_Entry]) -> None:
    """Find the weight layers below ``module``; only inside an nn.Sequential is the data flow known."""
    if isinstance(module, nn.Sequential):
        _walk(module, prefix, None, out)
        return
    for child_name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, SparseInputLinear, SparseInputConv2d)):
            kind = "linear" if isinstance(child, (nn.Linear, SparseInputLinear)) else "conv2d"
            out.append((module, child_name, f"{prefix}{child_name}", kind, "not inside an nn.Sequential", None))
        else:
            _visit(child, f"{prefix}{child_name}.", out)


def _walk(seq: nn.Sequential, prefix: str, sparse_in: nn.Module | None, out: list[_Entry]) -> nn.Module | None:
    """Visit ``seq``'s children in order, carrying the sparsifying activation whose output the current tensor is
    (None if it is not one); return it for the container's output."""
    for child_name, child in seq.named_children():
        name = f"{prefix}{child_name}"
        if isinstance(child, nn.Sequential):
            sparse_in = _walk(child, f"{name}.", sparse_in, out)
        elif is_sparsifying(child):
            sparse_in = child
        elif isinstance(child, _TRANSPARENT):
            pass
        elif isinstance(child, (nn.Linear, SparseInputLinear, nn.Conv2d, SparseInputConv2d)):
            kind = "linear" if isinstance(child, (nn.Linear, SparseInputLinear)) else "conv2d"
            reason = None if sparse_in is not None else "input is not a sparsifying activation's output"
            if reason is None and isinstance(child, nn.Conv2d):
                reason = _conv_unsupported(child)
            out.append((seq, child_name, name, kind, reason, sparse_in))
            sparse_in = None
        else:
            _visit(child, f"{name}.", out)
            sparse_in = None
    return sparse_in


def _plan(model: nn.Module) -> list[_Entry]:
    found: list[_Entry] = []
    if isinstance(model, (nn.Linear, nn.Conv2d, SparseInputLinear, SparseInputConv2d)):
        kind = "linear" if isinstance(model, (nn.Linear, SparseInputLinear)) else "conv2d"
        return [(None, "", "", kind, "not inside an nn.Sequential", None)]
    _visit(model, "", found)
    return found


def plan_layers(model: nn.Module) -> list[LayerPlan]:
    """For every nn.Linear / nn.Conv2d of ``model``: would :func:`accelerate` replace it, and if not, why."""
    return [LayerPlan(name, kind, reason is None, reason or "follows a sparsifying activation")
            for _, _, name, kind, reason, _ in _plan(model)]


# an elementwise op on fewer elements runs serially in torch anyway (at::internal::GRAIN_SIZE)
_TORCH_GRAIN = 32768


class _SerialForward:
    """Installed as ``activation.forward`` on an activation that feeds an accelerated layer (see :func:`accelerate`):
    a large CPU input runs the class's forward with one torch thread, restoring the count afterwards (errors too).

    An instance attribute rather than forward hooks: hooks send every call of the module through nn.Module's slow
    path, measured +0.3 ms over the 8 activations of a batch-1 DeepMLP (7%); this costs one size check. A plain
    object holding its module, so deep copies rebind it to the copy and whole-model pickling works.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args, **kwargs):
        module = self.module
        x = args[0] if args else None
        if isinstance(x, torch.Tensor) and x.numel() >= _TORCH_GRAIN and x.device.type == "cpu":
            threads = torch.get_num_threads()
            if threads > 1:
                torch.set_num_threads(1)
                try:
                    return type(module).forward(module, *args, **kwargs)
                finally:
                    torch.set_num_threads(threads)
        return type(module).forward(module, *args, **kwargs)


def accelerate(model: nn.Module, *, min_sparsity: float = 0.5, mode: str = "auto",
               linear_break_even: tuple | None = None) -> nn.Module:
    """An inference-only copy of ``model`` whose layers fed by a sparsifying activation skip zero inputs.

    The copy is in eval mode with ``requires_grad=False`` everywhere; ``model`` is not modified. Its per-layer
    decisions are in ``acceleration_plan(copy)`` (0 accelerated layers is allowed and reported there, not raised).
    ``min_sparsity`` ∈ [0, 1]: an accelerated layer runs densely on any call whose input has at most this zero
    fraction (default 0.5: at ≤ 50% zeros the dense path is always taken). ``mode`` = "auto" (default) decides per
    call; "sparse" / "dense" force one path on every accelerated layer (tests, break-even measurements).
    ``linear_break_even`` replaces :data:`LINEAR_BREAK_EVEN` (measured on the project's AMD EPYC) with a table of
    the same shape for the machine at hand, e.g. what ``benchmarks/sparse_inference.py --break-even-model ...``
    then ``--derive`` prints there (results/speed/README.md: on an Intel Xeon VM the AMD table lets the kernel run
    at batch 1 and 50 % zeros, at 0.90× dense).

    The sparsifying activation modules that feed accelerated layers that can run the kernel
    (:meth:`~_SparseInput.may_use_kernel`) get a ``forward`` (:class:`_SerialForward`)
    that runs them on one thread when their input is large enough for torch to parallelise (≥ 32768 elements,
    e.g. a batch-64 hidden layer at width 4096). Why: after each parallel region torch's OpenMP workers (libgomp,
    default wait policy) busy-wait for ~5–10 ms before sleeping; the kernels' own threads then share a core with a
    spinning worker, and a batch-64 kernel call measured 10 ms instead of 6 ms. Serially the activation costs
    ~0.09 ms instead of ~0.07 ms, and no worker spins when the kernel starts. (Running the whole process with
    ``OMP_WAIT_POLICY=passive`` has the same effect; that is the user's call, not a library's.)
    """
    check_module("model", model)
    check_range("min_sparsity", min_sparsity, 0.0, 1.0, lo_open=False, hi_open=False)
    check_choice("mode", mode, MODES)
    table = None if linear_break_even is None else _check_break_even_table(linear_break_even)
    fast = copy.deepcopy(model).eval().requires_grad_(False)
    plans = []
    for container, child_name, name, kind, reason, feeder in _plan(fast):
        child = getattr(container, child_name, None) if container is not None else None
        layer = None
        if reason is None and isinstance(child, nn.Linear):
            layer = SparseInputLinear(child, min_sparsity, mode, table)
        elif reason is None and isinstance(child, nn.Conv2d):
            layer = SparseInputConv2d(child, min_sparsity, mode)
        if layer is not None:
            setattr(container, child_name, layer)
        # only where the kernel can run: a serial activation in front of a layer that always runs dense is a loss
        # (measured: trained 32-channel CNNs at batch 64, 0.70x dense with it)
        if (layer is not None and layer.may_use_kernel() and feeder is not None
                and not isinstance(feeder.__dict__.get("forward"), _SerialForward)):
            feeder.forward = _SerialForward(feeder)
        plans.append(LayerPlan(name, kind, reason is None, reason or "follows a sparsifying activation"))
    _lower_batch1_break_even_on_overflow(fast)
    fast._sparseinit_plan = tuple(plans)
    return fast


def _lower_batch1_break_even_on_overflow(model: nn.Module) -> None:
    """Where the accelerated linear weights exceed :data:`LAST_LEVEL_CACHE_BYTES`, their layers of at least
    :data:`OVERFLOW_MIN_WEIGHTS` weights run the kernel at batch 1 from :data:`OVERFLOW_BREAK_EVEN` zeros."""
    layers = [m for m in model.modules() if isinstance(m, SparseInputLinear)]
    if sum(m.weight_t.numel() * m.weight_t.element_size() for m in layers) <= LAST_LEVEL_CACHE_BYTES:
        return
    for m in layers:
        if m.in_features * m.out_features >= OVERFLOW_MIN_WEIGHTS:
            m._table = tuple((rows, min(value, OVERFLOW_BREAK_EVEN) if rows == 1 else value)
                             for rows, value in m._table)


def acceleration_plan(model: nn.Module) -> tuple[LayerPlan, ...]:
    """The per-layer plan :func:`accelerate` recorded on its output (empty tuple for any other model)."""
    return getattr(model, "_sparseinit_plan", ())
