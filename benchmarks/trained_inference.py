"""Does skipping zeros pay on the networks this project trains? accelerate() on trained runs, against dense torch.

For each run folder (``sparseinit train`` / sweep output) the trained network is loaded (``sparseinit.load_run``) and
timed on the first B test inputs of its own dataset, side by side in one process: dense torch, ``accelerate(model)``
(``auto``: each layer picks the sparse kernel or the dense product per call) and ``accelerate(model, mode="sparse")``
(kernel forced everywhere it applies). Median of --reps interleaved repetitions (order rotated) after --warmup calls,
torch.set_num_threads(--threads). The measured zero fraction of the hidden activations on those inputs and the
largest logit difference from dense are reported next to the times.

    .venv/bin/python benchmarks/trained_inference.py RUN [RUN ...] --markdown results/speed/trained.md \\
        --json results/speed/trained.json

Unlike results/speed/activations.md (8 × 4096 MLPs, built for the measurement), these are the widths [A]'s
experiments train at here (300 units, 32 channels): small layers, where a kernel call's fixed cost weighs more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch

import sparseinit
from sparseinit.acceleration_benchmark import _interleaved, _zero_fractions, run_environment
from sparseinit.training.loop import load_run_data


def measure(folder: str, batches: list[int], reps: int, warmup: int) -> list[dict]:
    run = sparseinit.load_run(folder)
    x_test = load_run_data(run.config, torch.device("cpu")).test[0]
    fns = {"dense": run.model, "auto": sparseinit.accelerate(run.model),
           "sparse": sparseinit.accelerate(run.model, mode="sparse")}
    c = run.config
    name = (f"{c.model} depth {c.depth} width {c.width}" + (f" ({c.readout})" if c.model == "cnn" else "")
            + f", {c.activation}" + (f" s = {c.sparsity:g}" if c.activation != "relu" else ""))
    rows = []
    for batch in batches:
        x = x_test[:batch]
        with torch.inference_mode():
            dense = run.model(x)
            diff = max(float((fns[k](x) - dense).abs().max()) for k in ("auto", "sparse"))
        ms = _interleaved(fns, x, reps, warmup)
        zeros = _zero_fractions(run.model, x)
        rows.append({"run": str(folder), "network": name, "test_accuracy": (run.summary or {}).get("test_accuracy"),
                     "batch": batch, "sparsity": statistics.fmean(zeros), "dense_ms": ms["dense"],
                     "auto_ms": ms["auto"], "sparse_ms": ms["sparse"], "auto_speedup": ms["dense"] / ms["auto"],
                     "sparse_speedup": ms["dense"] / ms["sparse"], "max_logit_difference": diff,
                     "accelerated_layers": sum(p.accelerated for p in sparseinit.acceleration_plan(fns["auto"]))})
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# accelerate() on trained networks: measured against dense torch", "",
             f"`{meta['command']}` — {meta['date']}, torch {meta['torch']}, {meta['threads']} threads, "
             f"{meta['cpu_count']} CPU cores ({meta['cpu']}). Median of {meta['reps']} interleaved repetitions. "
             f"Load average (1 min) before / after: {meta['load_average_before'][0]:.2f} / "
             f"{meta['load_average_after'][0]:.2f} (the machine is shared).", "",
             "`auto`: accelerate(model), each layer choosing per call; `sparse`: the kernel forced. Ideal for the "
             "hidden layers: 1/(1 − s).", "",
             "| network | test acc. % | batch | sparsity | dense ms | auto ms (speed-up) | sparse ms (speed-up) | "
             "ideal | max logit diff. |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = "–" if r["test_accuracy"] is None else f"{r['test_accuracy']:.2f}"
        lines.append(f"| {r['network']} | {acc} | {r['batch']} | {r['sparsity']:.3f} | {r['dense_ms']:.3f} | "
                     f"{r['auto_ms']:.3f} (**{r['auto_speedup']:.2f}×**) | {r['sparse_ms']:.3f} "
                     f"({r['sparse_speedup']:.2f}×) | {1 / (1 - r['sparsity']):.2f}× | "
                     f"{r['max_logit_difference']:.1e} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64], help="batch sizes (default 1 64)")
    p.add_argument("--reps", type=int, default=30, help="interleaved repetitions (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--markdown", help="write the table here")
    p.add_argument("--json", help="write the rows and the environment here")
    p.add_argument("--overwrite", action="store_true", help="replace existing --markdown / --json files")
    args = p.parse_args(argv)
    for path in (args.markdown, args.json):
        if path and Path(path).exists() and not args.overwrite:
            print(f"trained_inference: error: {path} exists; pass --overwrite or choose another path", file=sys.stderr)
            return 2
    if min(args.batches) < 1 or args.reps < 1 or args.warmup < 0 or args.threads < 1:
        print("trained_inference: error: --batches and --reps must be >= 1, --warmup >= 0, --threads >= 1",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    meta = run_environment("python benchmarks/trained_inference.py " + " ".join(argv or sys.argv[1:]),
                           args.threads, args.reps)
    try:
        rows = [row for folder in args.runs for row in measure(folder, args.batches, args.reps, args.warmup)]
    except ValueError as err:
        print(f"trained_inference: error: {err}", file=sys.stderr)
        return 2
    meta["load_average_after"] = os.getloadavg()
    text = markdown(rows, meta)
    print(text, end="")
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
