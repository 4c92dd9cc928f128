"""Speed and size of the fast DCTpS layer against a dense nn.Linear and the dense-kernel DCTpS (issue 5 §2–§3).

For each width n (layer n × n), density d and batch B, four modules of one shape are timed side by side in one
process, calls interleaved with the order rotated every repetition, medians reported:

- ``dense``:   nn.Linear(n, n), one GEMM (the layer DCTpS replaces);
- ``kernel``:  DCTpSLinear(path="dense"), the formulation that adds α·D to the masked dense S and runs one GEMM;
- ``fast``:    DCTpSLinear(path="fast"), α·D x by FFT + S x in CSR, gradients reaching the masked dense weight;
- ``compact``: CompactDCTpSLinear(path="fast"), the same forward with only nnz values stored and trained.

``forward`` rows time y = f(x) under ``torch.inference_mode``; ``train`` rows one forward + backward
(∂L/∂x, ∂L/∂parameters; no optimizer step). ``ideal`` is the multiply-add ratio n² / (nnz + N log2 N) — what a
perfectly efficient sparse-plus-FFT kernel would gain over the GEMM. Stored bytes: ``torch.save`` of the compact
layer's state_dict against values + indices + α + bias (nnz·(4 + 4) + 4 + 4n in float32).
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from .._validate import check_int, check_range
from .compact import CompactDCTpSLinear
from .dctps import DCTpSConv2d, DCTpSLinear
from .fast_dctps import dctps_path

VARIANTS = ("dense", "kernel", "fast", "compact")
MODES = ("forward", "train")


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def _interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int) -> dict[str, float]:
    """Median ms per call of each fn; calls interleaved, order rotated every repetition."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(warmup):
        for n in names:
            fns[n]()
    for r in range(reps):
        for n in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t0)
    return {n: _median_ms(t) for n, t in times.items()}


def _saved_bytes(module: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return len(buffer.getvalue())


def _modules(width: int, density: float, seed: int) -> dict[str, nn.Module]:
    g = torch.Generator().manual_seed(seed)
    dense = nn.Linear(width, width)
    kernel = DCTpSLinear(width, width, density=density, generator=g, path="dense")
    with torch.no_grad():  # a trained-looking S (zero at init would flatter nothing, but be unrepresentative)
        kernel.weight.copy_(torch.randn(kernel.weight.shape, generator=g) * 0.01 * kernel.mask)
    fast = DCTpSLinear(width, width, mask=kernel.mask, path="fast")
    fast.load_state_dict(kernel.state_dict())
    compact = CompactDCTpSLinear.from_masked(fast)
    compact.path = "fast"
    return {"dense": dense, "kernel": kernel, "fast": fast, "compact": compact}


def _forward_fns(modules: dict[str, nn.Module], x: torch.Tensor) -> dict[str, Callable[[], object]]:
    def call(m: nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return m(x)
        return run
    return {name: call(m) for name, m in modules.items()}


def _train_fns(modules: dict[str, nn.Module], x: torch.Tensor) -> dict[str, Callable[[], object]]:
    with torch.no_grad():
        grad = torch.randn_like(next(iter(modules.values()))(x))

    def step(m: nn.Module) -> Callable[[], object]:
        def run() -> object:
            m.zero_grad(set_to_none=True)
            xi = x.detach().requires_grad_()
            m(xi).backward(grad)
            return xi.grad
        return run
    return {name: step(m) for name, m in modules.items()}


def benchmark_dctps(widths: Sequence[int] = (4096,), densities: Sequence[float] = (1e-1, 1e-2, 1e-3),
                    batches: Sequence[int] = (1, 64), train_batches: Sequence[int] = (128,), *,
                    convs: Sequence[tuple[int, int, int]] = (), reps: int = 20, warmup: int = 3,
                    threads: int | None = 2, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """Time dense nn.Linear, dense-kernel DCTpS, fast DCTpS and compact DCTpS (module docstring); returns
    ``{"rows": [...], "conv_rows": [...], "config": {...}, "environment": {...}}``, one row per (width, density,
    mode, batch). ``convs``: (channels C, map size H = W, batch) of 3×3, padding-1, C → C convolutions, timed as
    nn.Conv2d, DCTpSConv2d(path="dense") and DCTpSConv2d(path="fast") at each density, forward and train."""
    for name, values in (("widths", widths), ("batches", batches), ("train_batches", train_batches),
                         ("convs", [v for c in convs for v in c])):
        for v in values:
            check_int(f"each of {name}", v, 1)
    if any(len(c) != 3 for c in convs):
        raise ValueError("convs must be (channels, size, batch) triples")
    for d in densities:
        check_range("density", d, 0.0, 1.0, hi_open=False)
    reps, warmup = check_int("reps", reps, 1), check_int("warmup", warmup, 0)
    threads = None if threads is None else check_int("threads", threads, 1)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    load_before = _load()
    rows = []
    try:
        for width in widths:
            for density in densities:
                modules = _modules(width, density, seed)
                compact: CompactDCTpSLinear = modules["compact"]  # type: ignore[assignment]
                nnz = compact.nnz
                n_log_n = width * math.log2(max(width, 2))
                common = {
                    "width": width, "density": density, "nnz": nnz,
                    "ideal": width * width / (nnz + n_log_n),
                    "stored_bytes": _saved_bytes(compact),
                    "ideal_bytes": nnz * (compact.values.element_size() + compact.indices.element_size())
                    + compact.alpha.element_size() + width * compact.values.element_size(),
                    "masked_bytes": _saved_bytes(modules["kernel"]),
                    "dense_bytes": _saved_bytes(modules["dense"]),
                }
                for mode, mode_batches in (("forward", batches), ("train", train_batches)):
                    for batch in mode_batches:
                        if progress:
                            progress(f"width {width} density {density:g} {mode} batch {batch}")
                        x = torch.randn(batch, width, generator=torch.Generator().manual_seed(seed + batch))
                        fns = _forward_fns(modules, x) if mode == "forward" else _train_fns(modules, x)
                        ms = _interleaved(fns, reps, warmup)
                        rows.append({**common, "mode": mode, "batch": batch,
                                     **{f"{v}_ms": ms[v] for v in VARIANTS},
                                     "speedup_fast": ms["dense"] / ms["fast"],
                                     "speedup_compact": ms["dense"] / ms["compact"],
                                     "speedup_vs_kernel": ms["kernel"] / ms["compact"],
                                     "auto_path": dctps_path(width, width, nnz, batch, training=mode == "train"),
                                     "measured_path": "fast" if ms["fast"] < ms["kernel"] else "dense"})
        conv_rows = [row for channels, size, batch in convs for density in densities
                     for row in _conv_rows(channels, size, batch, density, reps, warmup, seed, progress)]
    finally:
        torch.set_num_threads(previous)
    config = {"widths": list(widths), "densities": list(densities), "batches": list(batches),
              "train_batches": list(train_batches), "reps": reps, "warmup": warmup, "threads": threads, "seed": seed}
    environment = {"torch": torch.__version__, "cpu": _cpu(), "cores": os.cpu_count(),
                   "python": platform.python_version(), "load_before": load_before, "load_after": _load()}
    config["convs"] = [list(c) for c in convs]
    return {"rows": rows, "conv_rows": conv_rows, "config": config, "environment": environment}


def _conv_rows(channels: int, size: int, batch: int, density: float, reps: int, warmup: int, seed: int,
               progress: Callable[[str], None] | None) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    kernel = DCTpSConv2d(channels, channels, 3, padding=1, density=density, generator=g, path="dense")
    with torch.no_grad():
        kernel.weight.copy_(torch.randn(kernel.weight.shape, generator=g) * 0.01 * kernel.mask)
    fast = DCTpSConv2d(channels, channels, 3, padding=1, mask=kernel.mask, path="fast")
    fast.load_state_dict(kernel.state_dict())
    modules = {"dense": nn.Conv2d(channels, channels, 3, padding=1, bias=False), "kernel": kernel, "fast": fast}
    x = torch.randn(batch, channels, size, size, generator=g)
    out = []
    for mode in MODES:
        if progress:
            progress(f"conv {channels}ch {size}x{size} batch {batch} density {density:g} {mode}")
        fns = _forward_fns(modules, x) if mode == "forward" else _train_fns(modules, x)
        ms = _interleaved(fns, reps, warmup)
        rows = batch * size * size
        out.append({"channels": channels, "size": size, "batch": batch, "density": density, "nnz": kernel.nnz,
                    "mode": mode, **{f"{v}_ms": ms[v] for v in ("dense", "kernel", "fast")},
                    "speedup_fast": ms["dense"] / ms["fast"], "speedup_vs_kernel": ms["kernel"] / ms["fast"],
                    "auto_path": dctps_path(channels, channels * 9, kernel.nnz, rows, conv=True,
                                            training=mode == "train"),
                    "measured_path": "fast" if ms["fast"] < ms["kernel"] else "dense"})
    return out


def dctps_conv_table(rows: Sequence[dict]) -> str:
    """A markdown table of :func:`benchmark_dctps`'s convolution rows."""
    lines = ["| conv (3×3, pad 1) | map | batch | density | mode | dense nn.Conv2d ms | DCTpS dense-kernel ms "
             "| DCTpS fast ms | speed-up | vs dense-kernel | auto path (measured) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['channels']}→{r['channels']} | {r['size']}×{r['size']} | {r['batch']} | {r['density']:g} "
                     f"| {r['mode']} | {r['dense_ms']:.2f} | {r['kernel_ms']:.2f} | {r['fast_ms']:.2f} | "
                     f"{r['speedup_fast']:.2f}× | {r['speedup_vs_kernel']:.2f}× | {r['auto_path']} "
                     f"({r['measured_path']}) |")
    return "\n".join(lines) + "\n"


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def dctps_table(rows: Sequence[dict]) -> str:
    """A markdown table of :func:`benchmark_dctps` rows."""
    lines = [
        "| shape | density | mode | batch | dense nn.Linear ms | DCTpS dense-kernel ms | DCTpS fast ms "
        "| compact fast ms | speed-up (compact / fast) | vs dense-kernel | ideal | stored / (values+idx+α+b) "
        "| auto path (measured) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['width']}×{r['width']} | {r['density']:g} | {r['mode']} | {r['batch']} | {r['dense_ms']:.3f} | "
            f"{r['kernel_ms']:.3f} | {r['fast_ms']:.3f} | {r['compact_ms']:.3f} | "
            f"{r['speedup_compact']:.1f}× / {r['speedup_fast']:.1f}× | {r['speedup_vs_kernel']:.1f}× | "
            f"{r['ideal']:.0f}× | {r['stored_bytes'] / r['ideal_bytes']:.4f} | "
            f"{r.get('auto_path', '')} ({r.get('measured_path', '')}) |")
    return "\n".join(lines) + "\n"


def plot_dctps(rows: Sequence[dict], path: str | Path) -> Path:
    """Speed-up of the compact fast layer over dense nn.Linear against density, one line per (mode, batch, width)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    keys = sorted({(r["width"], r["mode"], r["batch"]) for r in rows})
    for width, mode, batch in keys:
        sel = sorted((r for r in rows if (r["width"], r["mode"], r["batch"]) == (width, mode, batch)),
                     key=lambda r: r["density"])
        label = f"{mode}, batch {batch}" + (f", {width}×{width}" if len({k[0] for k in keys}) > 1 else "")
        ax.plot([r["density"] for r in sel], [r["speedup_compact"] for r in sel], "o-", label=label)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(2.0, color="grey", lw=0.8, ls="--", label="target ≥ 2× (forward, d = 1e-2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("density of S")
    ax.set_ylabel("speed-up of CompactDCTpSLinear over nn.Linear")
    ax.set_title("Fast DCTpS (FFT + CSR) vs dense nn.Linear, 2 CPU threads")
    ax.legend(fontsize=8)
    from ..figures import save_figure

    return save_figure(fig, path)


def dctps_markdown(result: dict, command: str | None = None) -> str:
    """The results page: table, the targets of issue 5 §2, command and compute."""
    rows = result["rows"]
    env, cfg = result["environment"], result["config"]
    parts = ["# Fast DCTpS: speed and size (issue 5 §2)\n\n",
             "Speed-ups are dense nn.Linear time / DCTpS time, measured side by side in one process (medians of "
             f"{cfg['reps']} interleaved repetitions after {cfg['warmup']} warm-up calls, "
             f"torch.set_num_threads({cfg['threads']})). *compact* = `CompactDCTpSLinear` (only nnz values + int32 "
             "indices + α + b stored and trained); *fast* = `DCTpSLinear(path=\"fast\")` (masked dense weight kept, "
             "same FFT + CSR forward); *dense-kernel* = `DCTpSLinear(path=\"dense\")` (α·D + S ⊙ M, one GEMM). "
             "*ideal* = n² / (nnz + N log₂ N). train = one forward + backward, no optimizer step. *auto path*: what "
             "`dctps_path` picks for DCTpSLinear(path=\"auto\") (measured: the faster of fast and dense-kernel).\n\n",
             dctps_table(rows)]
    if result.get("conv_rows"):
        parts.append("\n## Convolutions (the per-patch form)\n\n"
                     "Fast = unfold, D by FFT along each patch (channel-fastest), S in CSR on the same patches; it "
                     "copies every input pixel k² times, which the dense convolution avoids, so it pays only for "
                     "small maps with many channels. No compact form is timed here.\n\n")
        parts.append(dctps_conv_table(result["conv_rows"]))
    target = [r for r in rows if r["mode"] == "forward" and r["width"] == 4096 and math.isclose(r["density"], 1e-2)]
    if target:
        worst = min(r["speedup_compact"] for r in target)
        size = target[0]["stored_bytes"] / target[0]["ideal_bytes"]
        measured = ", ".join(f"batch {r['batch']}: {r['speedup_compact']:.1f}×" for r in target)
        parts.append("\n## Targets\n\n"
                     f"- forward of a 4096-wide DCTpS layer at density 1e-2 ≥ 2× a dense nn.Linear: {measured} — "
                     f"{'met' if worst >= 2 else 'not met'}.\n"
                     f"- stored size within 5% of values + indices + α + bias: {target[0]['stored_bytes']} bytes "
                     f"saved vs {target[0]['ideal_bytes']} ({100 * (size - 1):+.2f}%) — "
                     f"{'met' if abs(size - 1) <= 0.05 else 'not met'}.\n")
    if command:
        parts.append(f"\n## Command\n\n```bash\n{command}\n```\n")
    parts.append(f"\n## Compute\n\n{env['cpu']}, {env['cores']} cores, torch {env['torch']}, Python {env['python']}; "
                 f"load average before {env['load_before']}, after {env['load_after']}.\n")
    return "".join(parts)


def write_dctps_results(result: dict, *, json_path: str | Path | None = None, markdown_path: str | Path | None = None,
                        plot_path: str | Path | None = None, command: str | None = None) -> list[Path]:
    """Write the JSON, the markdown page and the plot (whichever paths are given); returns the paths written."""
    written = []
    if json_path:
        p = Path(json_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({**result, "command": command}, indent=2) + "\n")
        written.append(p)
    if markdown_path:
        p = Path(markdown_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dctps_markdown(result, command))
        written.append(p)
    if plot_path:
        written.append(plot_dctps(result["rows"], plot_path))
    return written
