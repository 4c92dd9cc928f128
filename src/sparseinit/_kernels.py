"""Compiled kernels for products whose input is mostly zeros (SPEC §5): numba JIT, fastmath off.

Every kernel computes exactly the dense product's sum, term by term, but only over the non-zero inputs:

    y[s, :] = b + Σ_{i : x[s, i] ≠ 0} x[s, i] · Wᵀ[i, :]              (linear, Wᵀ stored in × out, row-major)

so it reads the row Wᵀ[i, :] of an active input i — one contiguous run of memory — and nothing of an inactive one.
The floating-point sum is in a different order from torch's dense BLAS, hence results agree to rounding
(~1e-7 relative in float32), not bit for bit. ``fastmath`` is off: no reassociation, no fused multiply-add
contraction, IEEE semantics (NaN/inf in an *active* input propagate as in the dense product; an inactive input is
an exact zero and contributes 0·w = 0, which differs from dense only where w is inf/NaN). Allowing LLVM to fuse
multiply-adds (``fastmath={"contract"}``) was measured and gains nothing here (within ±5% at batch 64: Zen 3
issues a multiply and an add per cycle on separate pipes), so we keep the exact IEEE semantics.

Why numba rather than a C++ extension or torch.sparse:

* torch's sparse formats fall short here: ``torch.addmm(b, x.to_sparse_csr(), Wᵀ)`` must convert x on every
  call and its CPU kernel does not block for the cache; measured at batch 64, width 4096, 90% zeros it is ~2×
  slower than the dense product (results/speed/README.md).
* A C++ extension (``torch.utils.cpp_extension``) needs a compiler and ninja on every user's machine and a
  30–60 s build at first import, or per-platform wheels. numba is one well-kept wheel (LLVM inside), compiles
  these loops in a few seconds per dtype, caches the machine code on disk (``cache=True``), and its inner loops
  come out AVX2-vectorised (checked on the assembly) — what both the memory-bound batch-1 product and the
  compute-bound batched one need.

Threads: the kernels are serial, ``nogil`` functions over a *share* of the work; :func:`run_shares` runs share 0
on the calling thread and the others on a small Python thread pool (the GIL is released inside the kernels). We
do not use numba's ``parallel=True``: its OpenMP layer waits at each region's barrier for a thread that an
oversubscribed machine (this one is shared) deschedules — measured 8 ms per call instead of 0.04 ms — and its
robust alternative, the workqueue layer, is process-global and aborts on concurrent calls from two threads.
Plain threads wait passively (futex) and are safe to call from several threads at once.

Kernels (all write preallocated outputs):

* :func:`linear_split_inputs` — small batches. The active inputs are split among the threads in equal shares of
  non-zeros; each thread streams whole rows Wᵀ[i, :] (16 KiB at width 4096: the hardware prefetcher's best case)
  into a private accumulator of B × out, and the accumulators are summed at the end. Weight traffic: only the rows
  active in at least one sample — the ideal (1 − s) of the matrix at batch 1.
* :func:`linear_csr_panels` — larger batches, where the union of the samples' active sets covers nearly every
  input (1 − 0.9⁶⁴ ≈ 99.9% at batch 64): no row of Wᵀ can be skipped for the batch as a whole, and the product
  turns compute-bound, so what matters is the multiply-adds per byte moved. x is converted once to compressed
  sparse rows (per sample: its active inputs, ascending). Each thread owns a chunk of output columns [j0, j1)
  (2048 at width 4096 on 2 threads) and walks the inputs in panels Wᵀ[i0:i0+kblock, j0:j1] of 256 KiB (32 rows
  × 8 KiB): a panel is loaded into the core's L2 once and used by every sample of the batch, and each sample
  folds its non-zeros in the panel into its output row out[s, j0:j1] (8 KiB, in L1) four at a time,
  o ← (((o + v₀w₀) + v₁w₁) + v₂w₂) + v₃w₃, so the output row is loaded and stored once per four inputs (a group
  of four that starts in a panel may end in the next one; the < 4 left over per sample run at the end).
  Multiply-adds: (1 − s) of dense, at about half of MKL's dense FLOP rate on this machine (an earlier
  input-stationary version, CSC against L2-resident output tiles, ran at a quarter: its output rows went to L2
  and back for every single non-zero). Still input order per output, no reassociation.
* :func:`conv2d_scatter` — a stride-1 k×k convolution with zero padding over a channels-last input: every non-zero
  input x[b, h, w, c] scatters x · W[dh, dw, c, :] into the k² output pixels it touches (input-stationary sparse
  convolution). Multiply-adds: (1 − s) of dense (fewer: taps that fall in the padding cost nothing). A 1×1
  convolution is the case k = 1.

Inner loops index 1-D slices from 0 (not ``range(j0, j1)`` on the 2-D array): numba then knows the index is
non-negative, emits no wrap-around branch, and LLVM vectorises the loop.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool on first use."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_shares(kernel: Callable, nshares: int, *args) -> None:
    """Run ``kernel(*args, share, nshares)`` for share = 0..nshares−1: share 0 here, the rest on the pool."""
    global _pool, _pool_size
    if nshares <= 1:
        kernel(*args, 0, 1)
        return
    with _pool_lock:
        if _pool is None or _pool_size < nshares - 1:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=nshares - 1, thread_name_prefix="sparseinit")
            _pool_size = nshares - 1
            if old is not None:
                old.shutdown(wait=False)
        pool = _pool
    futures = [pool.submit(kernel, *args, share, nshares) for share in range(1, nshares)]
    try:
        kernel(*args, 0, nshares)
    finally:
        for f in futures:
            f.result()


@njit(cache=True, nogil=True)
def count_nonzero(x):  # pragma: no cover - compiled
    """Non-zeros of a contiguous array, serially (torch.count_nonzero opens an OpenMP region for large inputs,
    and every region is a barrier that costs a scheduler time slice on an oversubscribed machine)."""
    flat = x.ravel()
    c = 0
    for i in range(flat.shape[0]):
        c += flat[i] != 0.0
    return c


# ---- linear, small batches: split the inputs -----------------------------------------------------------------


@njit(cache=True, nogil=True)
def _split_bounds(x, nshares):  # pragma: no cover - compiled
    """cum[i] = non-zeros of x in inputs < i; bounds cut the inputs into ``nshares`` ranges of equal work."""
    batch, n_in = x.shape
    cum = np.zeros(n_in + 1, np.int64)
    counts = cum[1:]
    for s in range(batch):  # row by row: contiguous, branch-free, vectorised
        xs = x[s]
        for i in range(n_in):
            counts[i] += xs[i] != 0.0
    for i in range(n_in):
        cum[i + 1] += cum[i]
    bounds = np.empty(nshares + 1, np.int64)
    for t in range(nshares + 1):
        bounds[t] = np.searchsorted(cum, (t * cum[n_in]) // nshares, side="left")
    bounds[0] = 0
    bounds[nshares] = n_in
    return cum, bounds


@njit(cache=True, nogil=True)
def _rows4(x, wt, i0, i1, a):  # pragma: no cover - compiled
    """a = Σ_{i0 ≤ i < i1, x_i ≠ 0} x_i Wᵀ[i, :] for one sample, four active rows per sweep of ``a``.

    Four rows streamed together keep four hardware-prefetch streams in flight (a 16 KiB row spans four 4 KiB
    pages, at each of which a prefetcher restarts) and load/store ``a`` a quarter as often; measured 1.5× faster
    than one row at a time. The additions stay in input order: ((a + v0 w0) + v1 w1) + ….
    """
    n_out = wt.shape[1]
    for j in range(n_out):
        a[j] = 0.0
    idx = np.empty(i1 - i0, np.int64)
    n = 0
    for i in range(i0, i1):
        if x[i] != 0.0:
            idx[n] = i
            n += 1
    k = 0
    while k + 4 <= n:
        v0, v1, v2, v3 = x[idx[k]], x[idx[k + 1]], x[idx[k + 2]], x[idx[k + 3]]
        w0, w1, w2, w3 = wt[idx[k]], wt[idx[k + 1]], wt[idx[k + 2]], wt[idx[k + 3]]
        for j in range(n_out):
            a[j] = (((a[j] + v0 * w0[j]) + v1 * w1[j]) + v2 * w2[j]) + v3 * w3[j]
        k += 4
    while k < n:
        v = x[idx[k]]
        w = wt[idx[k]]
        for j in range(n_out):
            a[j] += v * w[j]
        k += 1


@njit(cache=True, nogil=True)
def _split_accumulate(x, wt, cum, bounds, acc, share, nshares):  # pragma: no cover - compiled
    batch = x.shape[0]
    n_out = wt.shape[1]
    a = acc[share]
    if batch == 1:
        _rows4(x[0], wt, bounds[share], bounds[share + 1], a[0])
        return
    for s in range(batch):
        a_s = a[s]
        for j in range(n_out):
            a_s[j] = 0.0
    for i in range(bounds[share], bounds[share + 1]):
        if cum[i + 1] == cum[i]:
            continue
        w = wt[i]
        for s in range(batch):
            v = x[s, i]
            if v != 0.0:
                a_s = a[s]
                for j in range(n_out):
                    a_s[j] += v * w[j]


@njit(cache=True, nogil=True)
def _sum_accumulators(acc, bias, out):  # pragma: no cover - compiled
    nshares, batch, n_out = acc.shape
    for s in range(batch):
        o = out[s]
        for j in range(n_out):
            o[j] = bias[j]
        for u in range(nshares):
            a = acc[u, s]
            for j in range(n_out):
                o[j] += a[j]


def linear_split_inputs(x: np.ndarray, wt: np.ndarray, bias: np.ndarray, out: np.ndarray, nthreads: int) -> None:
    """out = bias + x·Wᵀ over x's non-zeros; ``nthreads`` threads split the inputs into equal shares of work."""
    acc = np.empty((nthreads, x.shape[0], wt.shape[1]), dtype=out.dtype)
    cum, bounds = _split_bounds(x, nthreads)
    run_shares(_split_accumulate, nthreads, x, wt, cum, bounds, acc)
    _sum_accumulators(acc, bias, out)


@njit(cache=True, nogil=True)
def linear_one_serial(x, wt, bias, out):  # pragma: no cover - compiled
    """out = bias + x·Wᵀ over x's non-zeros for one sample (x, out: 1 × n) on the calling thread, in one compiled
    call: what :func:`linear_split_inputs` does with one thread, without its four dispatches (~10 µs, the whole
    cost of a small read-out layer)."""
    o = out[0]
    _rows4(x[0], wt, 0, x.shape[1], o)
    for j in range(o.shape[0]):
        o[j] += bias[j]


# ---- linear, larger batches: per-sample non-zeros against panels of Wᵀ shared by the batch ------------------


@njit(cache=True, nogil=True)
def _csr(x):  # pragma: no cover - compiled
    """Compressed sparse rows of x (B, n): indptr (B + 1) and the input index (int32) of each non-zero, ascending."""
    batch, n_in = x.shape
    indptr = np.empty(batch + 1, np.int64)
    idx = np.empty(x.size, np.int32)
    n = 0
    for s in range(batch):
        indptr[s] = n
        xs = x[s]
        for i in range(n_in):
            if xs[i] != 0.0:
                idx[n] = i
                n += 1
    indptr[batch] = n
    return indptr, idx


@njit(cache=True, nogil=True)
def _csr_panels(x, indptr, idx, wt, bias, out, kblock, chunk, share, nshares):  # pragma: no cover - compiled
    batch = x.shape[0]
    n_out = wt.shape[1]
    n_in = wt.shape[0]
    nchunks = (n_out + chunk - 1) // chunk
    pos = np.empty(batch, np.int64)
    for c in range(share, nchunks, nshares):
        j0 = c * chunk
        j1 = min(j0 + chunk, n_out)
        b = bias[j0:j1]
        for s in range(batch):
            o = out[s, j0:j1]
            for j in range(o.shape[0]):
                o[j] = b[j]
            pos[s] = indptr[s]
        for i_end in range(kblock, n_in + kblock, kblock):  # panel Wᵀ[i_end − kblock : i_end, j0:j1]
            for s in range(batch):
                xs = x[s]
                o = out[s, j0:j1]
                k = pos[s]
                k1 = indptr[s + 1]
                while k + 4 <= k1 and idx[k] < i_end:  # groups of 4 that start in this panel
                    i0, i1, i2, i3 = idx[k], idx[k + 1], idx[k + 2], idx[k + 3]
                    v0, v1, v2, v3 = xs[i0], xs[i1], xs[i2], xs[i3]
                    w0, w1, w2, w3 = wt[i0, j0:j1], wt[i1, j0:j1], wt[i2, j0:j1], wt[i3, j0:j1]
                    for j in range(o.shape[0]):
                        o[j] = (((o[j] + v0 * w0[j]) + v1 * w1[j]) + v2 * w2[j]) + v3 * w3[j]
                    k += 4
                pos[s] = k
        for s in range(batch):  # the last < 4 non-zeros of each sample, in order
            xs = x[s]
            o = out[s, j0:j1]
            for k in range(pos[s], indptr[s + 1]):
                v = xs[idx[k]]
                w = wt[idx[k], j0:j1]
                for j in range(o.shape[0]):
                    o[j] += v * w[j]


def panel_shape(n_out: int, nthreads: int) -> tuple[int, int]:
    """(kblock, chunk) for :func:`linear_csr_panels`: ``chunk`` = the output columns of one thread (a multiple of
    16, at most 2048), ``kblock`` = the inputs of a panel of 256 KiB of float32 (half an L2 of 512 KiB)."""
    per_thread = -(-n_out // max(1, nthreads))  # ceil
    chunk = min(2048, max(16, -(-per_thread // 16) * 16))
    return max(16, 65536 // chunk), chunk


def linear_csr_panels(x: np.ndarray, wt: np.ndarray, bias: np.ndarray, out: np.ndarray, nthreads: int,
                      kblock: int | None = None, chunk: int | None = None) -> None:
    """out = bias + x·Wᵀ over x's non-zeros for a batch: CSR rows of x against panels of Wᵀ (see the module doc).

    Output columns are cut in chunks of ``chunk`` dealt round-robin to the threads; inputs in panels of
    ``kblock`` rows (defaults: :func:`panel_shape`).
    """
    default_k, default_c = panel_shape(wt.shape[1], nthreads)
    indptr, idx = _csr(x)
    run_shares(_csr_panels, nthreads, x, indptr, idx, wt, bias, out, kblock or default_k, chunk or default_c)


# ---- convolution: input-stationary scatter -------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _conv2d_scatter(x, wk, bias, out, pad_h, pad_w, cblock, share, nshares):  # pragma: no cover - compiled
    batch, height, width, n_in = x.shape
    kh, kw = wk.shape[0], wk.shape[1]
    _, out_h, out_w, n_out = out.shape
    nblocks = (n_out + cblock - 1) // cblock
    idx = np.empty(n_in, np.int64)
    for task in range(share, batch * nblocks, nshares):
        b_idx = task // nblocks
        o0 = (task % nblocks) * cblock
        o1 = min(o0 + cblock, n_out)
        bb = bias[o0:o1]
        ob = out[b_idx]
        for oh in range(out_h):
            for ow in range(out_w):
                o = ob[oh, ow, o0:o1]
                for j in range(o.shape[0]):
                    o[j] = bb[j]
        xb = x[b_idx]
        for h in range(height):
            for w in range(width):
                px = xb[h, w]
                nnz = 0
                for c in range(n_in):
                    if px[c] != 0.0:
                        idx[nnz] = c
                        nnz += 1
                if nnz == 0:
                    continue
                for dh in range(kh):
                    oh = h + pad_h - dh
                    if oh < 0 or oh >= out_h:
                        continue
                    for dw in range(kw):
                        ow = w + pad_w - dw
                        if ow < 0 or ow >= out_w:
                            continue
                        o = ob[oh, ow, o0:o1]
                        wdd = wk[dh, dw]
                        for k in range(nnz):
                            c = idx[k]
                            v = px[c]
                            wr = wdd[c, o0:o1]
                            for j in range(o.shape[0]):
                                o[j] += v * wr[j]


def conv2d_scatter(x: np.ndarray, wk: np.ndarray, bias: np.ndarray, out: np.ndarray, pad_h: int, pad_w: int,
                   cblock: int, nthreads: int) -> None:
    """Stride-1 zero-padded convolution, channels last: x (B, H, W, C), wk (kh, kw, C, O), out (B, OH, OW, O).

    out[b, oh, ow, :] = bias + Σ x[b, h, w, c] · wk[dh, dw, c, :] over the non-zero x with h = oh − pad_h + dh,
    w = ow − pad_w + dw. Tasks are (image, block of ``cblock`` output channels), dealt round-robin to threads.
    """
    run_shares(_conv2d_scatter, nthreads, x, wk, bias, out, pad_h, pad_w, cblock)
