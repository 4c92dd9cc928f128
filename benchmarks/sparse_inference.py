"""Speed-up of sparseinit.accelerate() over the same model run densely by torch, at a real activation sparsity.

A DeepMLP(depth, width, edge_of_chaos("crelu", s), in_features=width) is timed dense (torch) and accelerated,
side by side in one process: median of --reps interleaved repetitions (order rotated) after --warmup calls, with
torch.set_num_threads(--threads). Two rows per case (see sparseinit.acceleration.benchmark_activations):
``hidden`` — the layers after the first activation, all reading sparse inputs, ideal 1/(1 − s); ``model`` — the
whole network, whose first layer reads the dense input and stays dense (Amdahl's ideal). The measured zero
fraction of the hidden activations is reported next to the target s.

    .venv/bin/python benchmarks/sparse_inference.py --json results/speed/activations.json \\
        --markdown results/speed/activations.md --plot results/speed/activations.png

``--break-even`` instead times one layer (width × width), kernel forced against torch's dense product, over a
grid of batch sizes and input zero fractions — the measurement behind acceleration.LINEAR_BREAK_EVEN /
CONV_BREAK_EVEN (``--conv`` for a 3×3 convolution of --channels channels on 28×28 maps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from sparseinit.acceleration import SparseInputConv2d, SparseInputLinear, activations_table, benchmark_activations

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

TARGETS = [  # (part, batch, target sparsity, minimum speed-up) from issue 5 §1
    ("hidden", 1, 0.85, 5.0), ("hidden", 1, 0.9, 7.0), ("hidden", 64, 0.9, 2.0),
    ("model", 1, 0.85, 5.0), ("model", 1, 0.9, 7.0), ("model", 64, 0.9, 2.0),
]


def check_targets(rows: list[dict]) -> list[dict]:
    out = []
    for part, batch, s, minimum in TARGETS:
        for r in rows:
            if r["part"] == part and r["batch"] == batch and abs(r["target_sparsity"] - s) < 1e-9:
                out.append({"part": part, "batch": batch, "sparsity": s, "target": minimum,
                            "speedup": r["speedup"], "ideal": r["ideal"], "met": r["speedup"] >= minimum})
    for r in rows:  # never slower than dense by more than 5% at <= 50% sparsity
        if r["target_sparsity"] <= 0.5:
            out.append({"part": r["part"], "batch": r["batch"], "sparsity": r["target_sparsity"],
                        "target": 0.95, "speedup": r["speedup"], "ideal": r["ideal"], "met": r["speedup"] >= 0.95})
    return out


def markdown(rows: list[dict], targets: list[dict], meta: dict) -> str:
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


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def break_even(args) -> list[dict]:
    """One layer, kernel forced vs dense torch, over batch × zero fraction."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rows = []
    if args.conv:
        conv = nn.Conv2d(args.channels, args.channels, 3, padding=1)
        dense, sparse = conv, SparseInputConv2d(conv, mode="sparse")
        shape = lambda b: (b, args.channels, 28, 28)  # noqa: E731
        label = f"conv3x3 {args.channels}ch 28x28"
    else:
        lin = nn.Linear(args.widths[0], args.widths[0])
        dense, sparse = lin, SparseInputLinear(lin, mode="sparse")
        wt, bias = lin.weight.detach().t().contiguous(), lin.bias.detach()
        torch_csr = lambda x: torch.addmm(bias, x.to_sparse_csr(), wt)  # noqa: E731  torch's own sparse format
        shape = lambda b: (b, args.widths[0])  # noqa: E731
        label = f"linear {args.widths[0]}x{args.widths[0]}"
    print(f"{label}: speed-up of the forced kernel over dense torch" +
          (" (in brackets: torch's CSR sparse x dense)" if args.torch_csr and not args.conv else ""))
    print(f"{'batch':>6} " + " ".join(f"s={s:<5}" for s in args.sparsities))
    with torch.inference_mode():
        for batch in args.batches:
            line = []
            for s in args.sparsities:
                x = torch.randn(*shape(batch))
                x[torch.rand_like(x) < s] = 0.0
                fns = {"dense": dense, "sparse": sparse}
                if not args.conv and args.torch_csr:
                    fns["torch_csr"] = torch_csr
                times = {name: [] for name in fns}
                for _ in range(args.warmup):
                    for fn in fns.values():
                        fn(x)
                names = list(fns)
                for rep in range(args.reps):
                    for name in names[rep % len(names):] + names[:rep % len(names)]:
                        t0 = time.perf_counter()
                        fns[name](x)
                        times[name].append(time.perf_counter() - t0)
                med = {name: statistics.median(t) for name, t in times.items()}
                row = {"layer": label, "batch": batch, "sparsity": s, "dense_ms": 1e3 * med["dense"],
                       "sparse_ms": 1e3 * med["sparse"], "speedup": med["dense"] / med["sparse"]}
                cell = f"{row['speedup']:7.2f}"
                if "torch_csr" in med:
                    row["torch_csr_ms"] = 1e3 * med["torch_csr"]
                    row["torch_csr_speedup"] = med["dense"] / med["torch_csr"]
                    cell += f" (csr {row['torch_csr_speedup']:.2f})"
                rows.append(row)
                line.append(cell)
            print(f"{batch:>6} " + " ".join(line), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[4096], help="MLP widths (default 4096)")
    p.add_argument("--depth", type=int, default=8, help="activated layers (default 8)")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.85, 0.9, 0.95],
                   help="target activation sparsities (default 0.5 0.7 0.8 0.85 0.9 0.95)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64], help="batch sizes (default 1 64)")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions, interleaved (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls of each first (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--break-even", action="store_true",
                   help="time one layer, forced kernel vs dense, over --batches x --sparsities")
    p.add_argument("--conv", action="store_true", help="with --break-even: a 3x3 convolution instead")
    p.add_argument("--torch-csr", action="store_true",
                   help="with --break-even (linear): also time torch.addmm(b, x.to_sparse_csr(), Wt)")
    p.add_argument("--channels", type=int, default=64, help="with --conv: channels (default 64)")
    p.add_argument("--json", type=Path, help="write the rows (and config) as JSON to this path")
    p.add_argument("--markdown", type=Path, help="write a markdown table to this path")
    p.add_argument("--plot", type=Path, help="write the speed-up-vs-sparsity figure (PNG) to this path")
    p.add_argument("--overwrite", action="store_true", help="allow the output files to replace existing ones")
    args = p.parse_args()
    for path in (args.json, args.markdown, args.plot):
        if path and path.exists() and not args.overwrite:
            p.error(f"{path} exists; pass --overwrite to replace it")
    if any(not 0.0 <= s < 1.0 for s in args.sparsities):
        p.error("--sparsities must be in [0, 1)")

    meta = {"command": "python benchmarks/sparse_inference.py " + " ".join(sys.argv[1:]),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(), "cpu": platform.processor() or
            platform.machine(), "threads": args.threads, "reps": args.reps,
            "load_average_before": os.getloadavg()}
    try:
        meta["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    targets: list[dict] = []
    if args.break_even:
        rows = break_even(args)
    else:
        print(activations_table([]))
        rows = benchmark_activations(tuple(args.widths), args.depth, tuple(args.sparsities), tuple(args.batches),
                                     args.reps, args.threads, warmup=args.warmup, seed=args.seed,
                                     progress=lambda r: print(activations_table([r]).splitlines()[1], flush=True))
        targets = check_targets(rows)
        for t in targets:
            print(f"target {t['part']:<6} batch {t['batch']:>3} s={t['sparsity']:.2f}: {t['speedup']:.2f}x "
                  f"(>= {t['target']:.2f}x, ideal {t['ideal']:.2f}x) {'met' if t['met'] else 'NOT met'}")
    meta["load_average_after"] = os.getloadavg()
    if args.json:
        config = {k: v for k, v in vars(args).items() if k not in ("json", "markdown", "plot", "overwrite")}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "sparse_inference", "config": config, **meta,
                                         "results": rows, "targets": targets}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.markdown and not args.break_even:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(rows, targets, meta))
        print(f"wrote {args.markdown}")
    if args.plot and not args.break_even:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
