"""Why ``sparseinit.train`` flushes denormal floats on the CPU: a backward pass whose gradients are denormal.

Late in training a deep network's loss is ~1e-4 and the gradients that reach its first layers fall below
float32's smallest normal number (1.2e-38); x86 CPUs compute on such denormals many times slower. This times
forward + backward of a deep ReLU MLP (EoC weights) on a loss scaled by ``--loss-scale`` (default 1e-36, so that
the backward pass runs on denormals), with ``torch.set_flush_denormal`` off and on, interleaved in one process
(one step of each per repetition, order alternating). Reported: median ms per step and the median paired ratio.
(On the run of results/a_dnn/depth100_epochs100, loaded from its epoch-77 checkpoint: 2.6x per step.)

    .venv/bin/python benchmarks/denormal_flush.py --json results/benchmarks/denormal_flush.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import sparseinit
from _output import add_json_options, check_json, config_of, environment, write_json


def step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, scale: float, flush: bool) -> float:
    torch.set_flush_denormal(flush)
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    (torch.nn.functional.cross_entropy(model(x), y) * scale).backward()
    elapsed = time.perf_counter() - start
    torch.set_flush_denormal(False)
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=20, help="hidden layers (default 20)")
    p.add_argument("--width", type=int, default=300, help="hidden units (default 300)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--loss-scale", type=float, default=1e-36, help="multiplies the loss (default 1e-36)")
    p.add_argument("--reps", type=int, default=6, help="paired repetitions (default 6)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_json_options(p)
    args = p.parse_args()
    check_json(p, args)
    if not torch.set_flush_denormal(False):
        p.error("this CPU does not support flushing denormals (needs SSE3)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = sparseinit.DeepMLP(args.depth, args.width, sparseinit.edge_of_chaos("relu"), 784, 10)
    x, y = torch.randn(args.batch, 784), torch.randint(0, 10, (args.batch,))
    step(model, x, y, args.loss_scale, False)  # warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    for rep in range(args.reps):
        for flush in ((False, True) if rep % 2 == 0 else (True, False)):
            times[flush].append(step(model, x, y, args.loss_scale, flush))
    ratios = [a / b for a, b in zip(times[False], times[True], strict=True)]
    out = {"config": config_of(args),
           "ms_per_step": {"denormals": 1e3 * statistics.median(times[False]),
                           "flushed": 1e3 * statistics.median(times[True])},
           "median_paired_ratio": statistics.median(ratios),
           "environment": environment()}
    print(f"depth {args.depth}, width {args.width}, batch {args.batch}: forward+backward "
          f"{out['ms_per_step']['denormals']:.1f} ms with denormals, {out['ms_per_step']['flushed']:.1f} ms "
          f"flushed; paired ratio {out['median_paired_ratio']:.2f}x")
    write_json(args, out)


if __name__ == "__main__":
    main()
