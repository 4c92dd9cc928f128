"""Timing :func:`sparseinit.accelerate` against dense torch, side by side in one process (issue 5 §1; SPEC §5).

Shared by ``sparseinit bench activations`` and ``benchmarks/sparse_inference.py``: :func:`benchmark_activations`
times DeepMLPs at real activation sparsities (medians of interleaved repetitions, so both sides see the same
machine load), :func:`activation_targets` checks the issue's speed-up targets, and the writers turn the rows into
the committed table, page and plot (``results/speed.md``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._validate import check_range
from .acceleration import _zero_fraction, accelerate
from .activations import is_sparsifying

__all__ = [
    "ACTIVATION_TARGETS",
    "activation_targets",
    "activations_markdown",
    "activations_table",
    "benchmark_activations",
    "plot_activations",
    "run_environment",
    "write_activations_results",
]


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def _interleaved(fns: dict[str, object], x: torch.Tensor, reps: int, warmup: int) -> dict[str, float]:
    """Median ms per call of each fn on x; calls interleaved, order rotated every repetition."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for _ in range(warmup):
            for n in names:
                fns[n](x)
        for r in range(reps):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                t0 = time.perf_counter()
                fns[n](x)
                times[n].append(time.perf_counter() - t0)
    return {n: _median_ms(t) for n, t in times.items()}


def _zero_fractions(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Zero fraction of each sparsifying activation's output on x (input to output)."""
    fractions: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: fractions.append(_zero_fraction(out)))
             for m in model.modules() if is_sparsifying(m)]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return fractions


def benchmark_activations(
    widths: tuple[int, ...] = (4096,),
    depth: int = 8,
    sparsities: tuple[float, ...] = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95),
    batches: tuple[int, ...] = (1, 64),
    reps: int = 20,
    threads: int = 2,
    *,
    warmup: int = 3,
    seed: int = 0,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Time a DeepMLP at a real activation sparsity s, dense (torch) against :func:`accelerate`, side by side.

    For each width n and target sparsity s: ``DeepMLP(depth, n, edge_of_chaos("crelu", s), in_features=n)``
    (s < 0.5 uses ``cst``, as crelu needs τ ≥ 0), inputs x ~ N(0, 1) of shape (batch, n). Two rows per case:

    * ``part="hidden"`` — the layers after the first activation (depth − 1 Linear n×n layers and the read-out),
      fed the model's real hidden activations: every large layer reads a sparse input; ideal speed-up 1/(1 − s).
    * ``part="model"`` — the whole model on x. Its first layer reads the dense x and stays dense, so its ideal is
      Amdahl's  depth / (1 + (depth − 1)(1 − s))  (read-out neglected).

    Timings: median of ``reps`` interleaved repetitions (order rotated) after ``warmup`` calls, with
    ``torch.set_num_threads(threads)`` (restored afterwards). Returns one dict per row with the measured mean zero
    fraction of the hidden activations (``measured_sparsity``, and its min/max over layers).
    """
    from .eoc import edge_of_chaos
    from .models import DeepMLP

    for name, values, low in (("widths", widths, 1), ("batches", batches, 1), ("depth", (depth,), 2),
                              ("reps", (reps,), 1), ("threads", (threads,), 1), ("warmup", (warmup,), 0)):
        if not values or any(int(v) != v or v < low for v in values):
            raise ValueError(f"{name} must be integers >= {low}, got {list(values)}")
    for s in sparsities:
        check_range("sparsity", s, 0.0, 1.0, lo_open=False, hi_open=True)
    if not sparsities:
        raise ValueError("sparsities must hold at least one value in [0.0, 1.0)")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows: list[dict] = []
    try:
        for width in widths:
            for s in sparsities:
                name = "crelu" if s >= 0.5 else "cst"
                torch.manual_seed(seed)
                dense = DeepMLP(depth, width, edge_of_chaos(name, s), in_features=width).eval().requires_grad_(False)
                fast = accelerate(dense)
                for batch in batches:
                    gen = torch.Generator().manual_seed(seed + batch)
                    x = torch.randn(batch, width, generator=gen)
                    fractions = _zero_fractions(dense, x)
                    measured = float(np.mean(fractions))
                    with torch.inference_mode():
                        hidden_in = dense.layers[:3](x)
                        err = float(((fast(x) - dense(x)).abs().max() / dense(x).abs().max()).item())
                    cases = {
                        "hidden": ({"dense": dense.layers[3:], "sparse": fast.layers[3:]}, hidden_in,
                                   1.0 / (1.0 - measured)),
                        "model": ({"dense": dense, "sparse": fast}, x,
                                  depth / (1.0 + (depth - 1) * (1.0 - measured))),
                    }
                    for part, (fns, inp, ideal) in cases.items():
                        ms = _interleaved(fns, inp, reps, warmup)
                        row = {
                            "part": part, "width": width, "depth": depth, "activation": name,
                            "target_sparsity": s, "measured_sparsity": measured,
                            "measured_sparsity_min": float(min(fractions)),
                            "measured_sparsity_max": float(max(fractions)), "batch": batch,
                            "dense_ms": ms["dense"], "sparse_ms": ms["sparse"],
                            "speedup": ms["dense"] / ms["sparse"], "ideal": ideal, "max_rel_error": err,
                            "threads": threads, "reps": reps,
                        }
                        rows.append(row)
                        if progress is not None:
                            progress(row)
                del dense, fast
    finally:
        torch.set_num_threads(previous_threads)
    return rows


def activations_table(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_activations` as a plain-text table (what `sparseinit bench activations` prints)."""
    head = (f"{'part':<7} {'shape':<16} {'target s':>8} {'measured s':>10} {'batch':>5} {'dense ms':>9} "
            f"{'sparse ms':>9} {'speed-up':>8} {'ideal':>6}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['part']:<7} {_shape(r):<16} {r['target_sparsity']:>8.2f} {r['measured_sparsity']:>10.3f} "
                     f"{r['batch']:>5d} {r['dense_ms']:>9.3f} {r['sparse_ms']:>9.3f} {r['speedup']:>7.2f}x "
                     f"{r['ideal']:>5.2f}x")
    return "\n".join(lines)


def _shape(row: dict) -> str:
    """'8×4096' for the whole model, '7×4096+out' for the layers after the first activation."""
    if row["part"] == "model":
        return f"{row['depth']}x{row['width']}"
    return f"{row['depth'] - 1}x{row['width']}+out"


ACTIVATION_TARGETS = [  # (part, batch, target sparsity, minimum speed-up) from issue 5 §1
    ("hidden", 1, 0.85, 5.0), ("hidden", 1, 0.9, 7.0), ("hidden", 64, 0.9, 2.0),
    ("model", 1, 0.85, 5.0), ("model", 1, 0.9, 7.0), ("model", 64, 0.9, 2.0),
]


def activation_targets(rows: list[dict]) -> list[dict]:
    """Issue 5 §1's targets met or not by the rows of :func:`benchmark_activations` (measured, target, ideal)."""
    out = []
    for part, batch, s, minimum in ACTIVATION_TARGETS:
        for r in rows:
            if r["part"] == part and r["batch"] == batch and abs(r["target_sparsity"] - s) < 1e-9:
                out.append({"part": part, "batch": batch, "sparsity": s, "target": minimum,
                            "speedup": r["speedup"], "ideal": r["ideal"], "met": r["speedup"] >= minimum})
    for r in rows:  # never slower than dense by more than 5% at <= 50% sparsity
        if r["target_sparsity"] <= 0.5:
            out.append({"part": r["part"], "batch": r["batch"], "sparsity": r["target_sparsity"],
                        "target": 0.95, "speedup": r["speedup"], "ideal": r["ideal"], "met": r["speedup"] >= 0.95})
    return out


def activations_markdown(rows: list[dict], targets: list[dict], meta: dict) -> str:
    """The results page: command, compute, the table of every row and the targets (``meta``: see
    :func:`write_activations_results`)."""
    lines = [
        "# Sparse-activation inference: measured speed-up against dense torch",
        "",
        f"`{meta['command']}` — {meta['date']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"{meta['cpu_count']} CPU cores ({meta['cpu']}). Median of {meta['reps']} interleaved repetitions. "
        f"Load average (1 min) before / after: {meta['load_average_before'][0]:.2f} / "
        f"{meta['load_average_after'][0]:.2f} (the machine is shared).",
        "",
        "`hidden`: the layers after the first activation (every large layer reads a sparse input), ideal "
        "1/(1 − s). `model`: the whole DeepMLP; its first layer reads the dense input, so its ideal is "
        "depth / (1 + (depth − 1)(1 − s)). Ideals use the measured sparsity.",
        "",
        "| part | shape | sparsity target | sparsity measured (min–max over layers) | batch | dense ms | sparse ms "
        "| speed-up | ideal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shape = f"{r['depth']}×{r['width']}" if r["part"] == "model" else f"{r['depth'] - 1}×{r['width']} + out"
        lines.append(
            f"| {r['part']} | {shape} | {r['target_sparsity']:.2f} | {r['measured_sparsity']:.3f} "
            f"({r['measured_sparsity_min']:.3f}–{r['measured_sparsity_max']:.3f}) | {r['batch']} "
            f"| {r['dense_ms']:.2f} | {r['sparse_ms']:.2f} | **{r['speedup']:.2f}×** | {r['ideal']:.2f}× |")
    if targets:
        lines += ["", "Targets (issue 5 §1):", "", "| part | batch | sparsity | target | measured | ideal | met |",
                  "|---|---|---|---|---|---|---|"]
        for t in targets:
            lines.append(f"| {t['part']} | {t['batch']} | {t['sparsity']:.2f} | ≥ {t['target']:.2f}× "
                         f"| {t['speedup']:.2f}× | {t['ideal']:.2f}× | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def plot_activations(rows: list[dict], path: str | Path) -> Path:
    """Speed-up against measured sparsity, one curve per batch, with the ideal curve; one panel per part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    s_grid = np.linspace(0.0, 0.97, 200)
    for ax, part in zip(axes, ("hidden", "model"), strict=True):
        sub = [r for r in rows if r["part"] == part]
        if not sub:
            continue
        depth = sub[0]["depth"]
        ideal = 1 / (1 - s_grid) if part == "hidden" else depth / (1 + (depth - 1) * (1 - s_grid))
        ax.plot(s_grid, ideal, "k--", lw=1, label="ideal " + ("1/(1−s)" if part == "hidden" else "(Amdahl)"))
        for batch in sorted({r["batch"] for r in sub}):
            pts = sorted((r["measured_sparsity"], r["speedup"]) for r in sub if r["batch"] == batch)
            ax.plot(*zip(*pts, strict=True), "o-", label=f"measured, batch {batch}")
        ax.axhline(1.0, color="grey", lw=0.7)
        title = (f"layers after the 1st activation ({depth - 1}×{sub[0]['width']})" if part == "hidden"
                 else f"whole DeepMLP ({depth}×{sub[0]['width']}, 1st layer dense)")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("measured activation sparsity s")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("speed-up over dense torch")
    from .figures import save_figure

    return save_figure(fig, path)


def run_environment(command: str, threads: int, reps: int) -> dict:
    """What a results file records about the run: command, date, versions, CPU, load average now."""
    import os
    import platform
    from datetime import datetime, timezone
    from pathlib import Path as _Path

    meta = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(), "threads": threads, "reps": reps,
            "load_average_before": os.getloadavg()}
    try:
        meta["cpu"] = next(line.split(":", 1)[1].strip() for line in _Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return meta


def write_activations_results(rows: list[dict], meta: dict, config: dict, *, json_path: str | Path | None = None,
                              markdown_path: str | Path | None = None,
                              plot_path: str | Path | None = None) -> list[Path]:
    """Write the JSON (rows, targets, config, ``meta`` from :func:`run_environment` plus the load average after),
    the markdown page and the plot, whichever paths are given; returns the paths written."""
    import json
    import os

    meta = {**meta, "load_average_after": os.getloadavg()}
    targets = activation_targets(rows)
    written: list[Path] = []
    if json_path:
        p = Path(json_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"benchmark": "sparse_inference", "config": config, **meta, "results": rows,
                                 "targets": targets}, indent=2) + "\n")
        written.append(p)
    if markdown_path:
        p = Path(markdown_path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(activations_markdown(rows, targets, meta))
        written.append(p)
    if plot_path:
        written.append(plot_activations(rows, plot_path))
    return written
