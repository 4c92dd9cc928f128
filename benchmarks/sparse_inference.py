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
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from sparseinit.acceleration import (
    SparseInputConv2d,
    SparseInputLinear,
    activation_targets,
    activations_table,
    benchmark_activations,
    run_environment,
    write_activations_results,
)

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

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

    meta = run_environment("python benchmarks/sparse_inference.py " + " ".join(sys.argv[1:]), args.threads,
                           args.reps)
    config = {k: v for k, v in vars(args).items() if k not in ("json", "markdown", "plot", "overwrite")}
    if args.break_even:
        rows = break_even(args)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"benchmark": "sparse_inference", "config": config, **meta,
                                             "load_average_after": os.getloadavg(), "results": rows}, indent=2) + "\n")
            print(f"wrote {args.json}")
        return
    print(activations_table([]))
    rows = benchmark_activations(tuple(args.widths), args.depth, tuple(args.sparsities), tuple(args.batches),
                                 args.reps, args.threads, warmup=args.warmup, seed=args.seed,
                                 progress=lambda r: print(activations_table([r]).splitlines()[1], flush=True))
    for t in activation_targets(rows):
        print(f"target {t['part']:<6} batch {t['batch']:>3} s={t['sparsity']:.2f}: {t['speedup']:.2f}x "
              f"(>= {t['target']:.2f}x, ideal {t['ideal']:.2f}x) {'met' if t['met'] else 'NOT met'}")
    for path in write_activations_results(rows, meta, config, json_path=args.json, markdown_path=args.markdown,
                                          plot_path=args.plot):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
