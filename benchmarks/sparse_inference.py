"""Speed-up of sparseinit.accelerate() over the same model run densely by torch, at a real activation sparsity.

A DeepMLP(depth, width, edge_of_chaos("crelu", s), in_features=width) is timed dense (torch) and accelerated,
side by side in one process: median of --reps interleaved repetitions (order rotated) after --warmup calls, with
torch.set_num_threads(--threads). Two rows per case (see sparseinit.acceleration_benchmark.benchmark_activations):
``hidden`` — the layers after the first activation, all reading sparse inputs, ideal 1/(1 − s); ``model`` — the
whole network, whose first layer reads the dense input and stays dense (Amdahl's ideal). The measured zero
fraction of the hidden activations is reported next to the target s.

    .venv/bin/python benchmarks/sparse_inference.py --json results/speed/activations.json \\
        --markdown results/speed/activations.md --plot results/speed/activations.png

``--break-even-model`` instead times the hidden layers of a DeepMLP(--depth, width) for each of --widths, kernel
forced against torch's dense product, over a grid of batch sizes and zero fractions (--repeat times), and prints
acceleration.LINEAR_BREAK_EVEN derived from it; ``--derive JSON ...`` prints that table from saved measurements.
``--break-even`` times one layer alone in a loop (each of --widths, or ``--conv``: a 3×3 convolution of --channels
channels on 28×28 maps, the measurement behind acceleration.CONV_BREAK_EVEN); alone, small linear layers look
faster dense than they are inside a network (results/speed/README.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from sparseinit.acceleration import SparseInputConv2d, SparseInputLinear
from sparseinit.acceleration_benchmark import (
    _interleaved,
    activation_targets,
    activations_table,
    benchmark_activations,
    run_environment,
    write_activations_results,
)

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

def _break_even_layers(args):
    """(label, dense module, forced-kernel module, input shape for a batch, torch-CSR product or None) per layer."""
    if args.conv:
        conv = nn.Conv2d(args.channels, args.channels, 3, padding=1)
        yield (f"conv3x3 {args.channels}ch 28x28", conv, SparseInputConv2d(conv, mode="sparse"),
               lambda b: (b, args.channels, 28, 28), None)
        return
    for width in args.widths:
        lin = nn.Linear(width, width)
        wt, bias = lin.weight.detach().t().contiguous(), lin.bias.detach()
        torch_csr = (lambda x, wt=wt, bias=bias: torch.addmm(bias, x.to_sparse_csr(), wt)) if args.torch_csr else None
        yield (f"linear {width}x{width}", lin, SparseInputLinear(lin, mode="sparse"),
               lambda b, width=width: (b, width), torch_csr)


def break_even(args) -> list[dict]:
    """One layer per width (or one convolution), kernel forced vs dense torch, over batch × zero fraction."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rows = []
    for repeat, (label, dense, sparse, shape, torch_csr) in itertools.product(range(args.repeat),
                                                                              list(_break_even_layers(args))):
        print(f"{label}: speed-up of the forced kernel over dense torch" +
              (" (in brackets: torch's CSR sparse x dense)" if torch_csr else ""))
        print(f"{'batch':>6} " + " ".join(f"s={s:<5}" for s in args.sparsities))
        for batch in args.batches:
            line = []
            for s in args.sparsities:
                x = torch.randn(*shape(batch))
                x[torch.rand_like(x) < s] = 0.0
                fns = {"dense": dense, "sparse": sparse}
                if torch_csr is not None:
                    fns["torch_csr"] = torch_csr
                ms = _interleaved(fns, x, args.reps, args.warmup)
                row = {"layer": label, "repeat": repeat, "batch": batch, "sparsity": s, "dense_ms": ms["dense"],
                       "sparse_ms": ms["sparse"], "speedup": ms["dense"] / ms["sparse"]}
                cell = f"{row['speedup']:7.2f}"
                if "torch_csr" in ms:
                    row["torch_csr_ms"] = ms["torch_csr"]
                    row["torch_csr_speedup"] = ms["dense"] / ms["torch_csr"]
                    cell += f" (csr {row['torch_csr_speedup']:.2f})"
                rows.append(row)
                line.append(cell)
            print(f"{batch:>6} " + " ".join(line), flush=True)
    return rows


def break_even_model(args) -> list[dict]:
    """The linear break-even where it is used: the hidden layers of a DeepMLP(--depth, width) at its crelu EoC point
    for each target zero fraction, dense torch against accelerate(mode="sparse") (the kernel forced on every
    layer), fed the model's real hidden activations. Unlike one layer timed in a loop (--break-even), the weights
    and torch's thread pool are as cold or warm as between the layers of a network; small layers at batch 1 differ
    most (a 300² nn.Linear alone in a loop: 8 µs, the kernel 9 µs; between activations the kernel wins)."""
    from sparseinit import accelerate, edge_of_chaos
    from sparseinit.acceleration_benchmark import _zero_fractions
    from sparseinit.models import DeepMLP

    torch.set_num_threads(args.threads)
    rows = []
    for repeat, width, s in itertools.product(range(args.repeat), args.widths, args.sparsities):
        torch.manual_seed(args.seed)
        dense = DeepMLP(args.depth, width, edge_of_chaos("crelu", s), in_features=width).eval().requires_grad_(False)
        fns = {"dense": dense.layers[3:], "sparse": accelerate(dense, mode="sparse").layers[3:]}
        for batch in args.batches:
            x = torch.randn(batch, width, generator=torch.Generator().manual_seed(args.seed + batch))
            with torch.inference_mode():
                hidden_in = dense.layers[:3](x)
            ms = _interleaved(fns, hidden_in, args.reps, args.warmup)
            rows.append({"layer": f"linear {width}x{width}", "repeat": repeat, "batch": batch, "sparsity": s,
                         "measured_sparsity": float(statistics.fmean(_zero_fractions(dense, x)[1:])),
                         "depth": args.depth, "dense_ms": ms["dense"], "sparse_ms": ms["sparse"],
                         "speedup": ms["dense"] / ms["sparse"]})
        print(f"repeat {repeat} width {width} s={s}: " + " ".join(
            f"b{r['batch']} {r['speedup']:.2f}" for r in rows[-len(args.batches):]), flush=True)
    return rows


def derived_table(rows: list[dict], gain: float = 1.25) -> tuple:
    """acceleration.LINEAR_BREAK_EVEN from measured rows: per layer size (in·out, ascending) and batch rows, the
    smallest measured zero fraction from which the kernel is at least ``gain`` × as fast as dense (median over
    --repeat runs) at every measured zero fraction above it; 1.0 (never sparse) where no such point exists. The
    kernel then runs above that zero fraction (acceleration._SparseInput.threshold)."""
    speedups: dict[tuple[int, int], dict[float, list[float]]] = {}
    for r in rows:  # (weights, batch) -> zero fraction -> speed-ups over the repeats
        width = int(r["layer"].split()[1].split("x")[0])
        speedups.setdefault((width * width, r["batch"]), {}).setdefault(r["sparsity"], []).append(r["speedup"])
    table: dict[int, list[tuple[int, float]]] = {}
    for (weights, batch), by_sparsity in sorted(speedups.items()):
        median = {sp: statistics.median(values) for sp, values in by_sparsity.items()}
        threshold = 1.0
        for sp in sorted(median, reverse=True):  # walk down while every sparser point still wins
            if median[sp] < gain:
                break
            threshold = sp
        table.setdefault(weights, []).append((batch, threshold))
    return tuple((weights, tuple(entries)) for weights, entries in table.items())


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
    p.add_argument("--break-even-model", action="store_true",
                   help="the linear break-even inside a DeepMLP of --depth layers (what LINEAR_BREAK_EVEN is from)")
    p.add_argument("--repeat", type=int, default=1,
                   help="with --break-even: measure the whole grid this many times (the derived table uses medians)")
    p.add_argument("--conv", action="store_true", help="with --break-even: a 3x3 convolution instead")
    p.add_argument("--torch-csr", action="store_true",
                   help="with --break-even (linear): also time torch.addmm(b, x.to_sparse_csr(), Wt)")
    p.add_argument("--channels", type=int, default=64, help="with --conv: channels (default 64)")
    p.add_argument("--json", type=Path, help="write the rows (and config) as JSON to this path")
    p.add_argument("--markdown", type=Path, help="write a markdown table to this path")
    p.add_argument("--plot", type=Path, help="write the speed-up-vs-sparsity figure (PNG) to this path")
    p.add_argument("--overwrite", action="store_true", help="allow the output files to replace existing ones")
    p.add_argument("--gain", type=float, default=1.25,
                   help="the speed-up over dense the kernel must reach for the derived table (default 1.25: a "
                        "margin for run-to-run drift and for chains that mix dense and kernel calls)")
    p.add_argument("--derive", type=Path, nargs="+", metavar="JSON",
                   help="print LINEAR_BREAK_EVEN derived from these break-even JSON files (measures nothing)")
    args = p.parse_args()
    if args.derive:
        rows = [r for path in args.derive for r in json.loads(path.read_text())["results"]]
        print(derived_table(rows, args.gain))
        return
    for path in (args.json, args.markdown, args.plot):
        if path and path.exists() and not args.overwrite:
            p.error(f"{path} exists; pass --overwrite to replace it")
    if any(not 0.0 <= s < 1.0 for s in args.sparsities):
        p.error("--sparsities must be in [0, 1)")

    meta = run_environment("python benchmarks/sparse_inference.py " + " ".join(sys.argv[1:]), args.threads,
                           args.reps)
    config = {k: v for k, v in vars(args).items() if k not in ("json", "markdown", "plot", "overwrite")}
    if args.break_even or args.break_even_model:
        rows = break_even_model(args) if args.break_even_model else break_even(args)
        if not args.conv:
            print("derived LINEAR_BREAK_EVEN (acceleration.py):", derived_table(rows, args.gain))
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
