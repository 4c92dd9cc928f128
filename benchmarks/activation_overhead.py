"""Cost of a full training step of a deep MLP with each sparseinit activation, relative to nn.ReLU.

One step = forward + cross-entropy + backward + SGD update on a random batch. All models share the same
initial weights and the same batch; they are timed side by side in one process, interleaved (one step of each
model per repetition, in rotating order), so that machine load affects them alike. Reported: median ms per
step and the ratio to nn.ReLU as the median over repetitions of the *paired* ratio (this repetition's step
against this repetition's nn.ReLU step), which cancels load that drifts between repetitions; the ratio of the
minima is shown beside it (target for crelu: <= 1.15).

    .venv/bin/python benchmarks/activation_overhead.py --json results/benchmarks/activation_overhead.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

import sparseinit

ACTIVATIONS = {  # label -> factory; τ = 1, m = 1 where the activation takes them
    "nn.ReLU": lambda: nn.ReLU(),
    "relu_tau": lambda: sparseinit.activation("relu_tau", 1.0),
    "st": lambda: sparseinit.activation("st", 1.0),
    "crelu": lambda: sparseinit.activation("crelu", 1.0, 1.0),
    "cst": lambda: sparseinit.activation("cst", 1.0, 1.0),
}


def mlp(make_act, depth: int, width: int, n_in: int, n_out: int) -> nn.Sequential:
    """``depth`` hidden layers (Linear + activation), then a Linear read-out."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), make_act()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One timed training step, in seconds."""
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=100, help="hidden layers (default 100)")
    p.add_argument("--width", type=int, default=300, help="hidden width (default 300)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--inputs", type=int, default=784, help="input features (default 784)")
    p.add_argument("--classes", type=int, default=10, help="output classes (default 10)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per model first (default 5)")
    p.add_argument("--reps", type=int, default=30, help="timed steps per model, interleaved (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-denormals", action="store_true",
                   help="do not flush denormals to zero (a vanishing signal then slows some models)")
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    p.add_argument("--overwrite", action="store_true", help="allow --json to replace an existing file")
    args = p.parse_args()
    if args.json and args.json.exists() and not args.overwrite:
        p.error(f"{args.json} exists; pass --overwrite to replace it")

    torch.set_num_threads(args.threads)
    flushed = torch.set_flush_denormal(not args.keep_denormals) and not args.keep_denormals
    torch.manual_seed(args.seed)
    x = torch.randn(args.batch, args.inputs)
    y = torch.randint(0, args.classes, (args.batch,))
    models, opts = {}, {}
    for name, make_act in ACTIVATIONS.items():
        torch.manual_seed(args.seed + 1)  # identical weights for every model
        models[name] = mlp(make_act, args.depth, args.width, args.inputs, args.classes)
        opts[name] = torch.optim.SGD(models[name].parameters(), lr=1e-3)

    names = list(models)
    for _ in range(args.warmup):
        for name in names:
            step(models[name], opts[name], x, y)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(args.reps):
        order = names[rep % len(names):] + names[:rep % len(names)]  # rotate who goes first
        for name in order:
            times[name].append(step(models[name], opts[name], x, y))

    relu = times["nn.ReLU"]
    rows = []
    print(f"{'activation':<10} {'median ms':>10} {'min ms':>8} {'ratio':>6} {'min ratio':>9}")
    for name in names:
        med = statistics.median(times[name])
        paired = statistics.median(t / r for t, r in zip(times[name], relu, strict=True))
        of_minima = min(times[name]) / min(relu)
        rows.append({"activation": name, "median_ms": 1e3 * med, "min_ms": 1e3 * min(times[name]),
                     "ratio_to_relu": paired, "ratio_of_minima": of_minima, "module": repr(models[name][1])})
        print(f"{name:<10} {1e3 * med:>10.2f} {1e3 * min(times[name]):>8.2f} {paired:>6.3f} {of_minima:>9.3f}")
    crelu = next(r["ratio_to_relu"] for r in rows if r["activation"] == "crelu")
    print(f"crelu / nn.ReLU = {crelu:.3f} (target <= 1.15: {'met' if crelu <= 1.15 else 'NOT met'})")

    if args.json:
        config = {k: v for k, v in vars(args).items() if k not in ("json", "overwrite")}
        out = {"benchmark": "activation_overhead", "config": config, "flush_denormal": flushed,
               "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
               "cpu_count": os.cpu_count(),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "results": rows, "crelu_ratio": crelu, "target_met": crelu <= 1.15}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
