"""Why ``sparseinit.train`` keeps image models in channels-last memory format on the CPU: oneDNN's faster convolutions.

Times the [A]-CNN of results/a_cnn (depth 20, 32 channels, crelu at s = 0.85, flatten read-out, 1×28×28 inputs)
in NCHW and in channels-last, interleaved in one process (one repetition of each per round, order alternating):
a training step (forward + backward + SGD step, batch ``--batch``) and a forward pass in evaluation mode over
``--eval-images`` images in batches of 256 and of 1000. Reported: median ms per step / per 1000 evaluated images
and the median paired ratio NCHW / channels-last. Both formats compute the same network
(tests/training/test_loop.py checks the logits agree).

    .venv/bin/python benchmarks/channels_last.py --json results/benchmarks/channels_last.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import sparseinit
from _output import add_json_options, check_json, config_of, environment, write_json

FORMATS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluation(model: torch.nn.Module, x: torch.Tensor, batch: int) -> float:
    model.eval()
    start = time.perf_counter()
    for chunk in x.split(batch):
        model(chunk)
    model.train()
    return 1000 * (time.perf_counter() - start) / len(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=20, help="convolutional layers (default 20)")
    p.add_argument("--channels", type=int, default=32, help="channels per layer (default 32)")
    p.add_argument("--batch", type=int, default=32, help="training batch size (default 32)")
    p.add_argument("--eval-images", type=int, default=1000, help="images per evaluation pass (default 1000)")
    p.add_argument("--reps", type=int, default=5, help="paired repetitions (default 5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_json_options(p)
    args = p.parse_args()
    check_json(p, args)
    for name in ("depth", "channels", "batch", "eval_images", "reps", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    eoc = sparseinit.edge_of_chaos("crelu", sparsity=0.85, m=1.0)
    base = sparseinit.DeepCNN(args.depth, args.channels, eoc, 1, 10, readout="flatten", image_size=28)
    x_train, y = torch.randn(args.batch, 1, 28, 28), torch.randint(0, 10, (args.batch,))
    x_eval = torch.randn(args.eval_images, 1, 28, 28)
    setups = {}
    for name, fmt in FORMATS.items():
        model = sparseinit.DeepCNN(args.depth, args.channels, eoc, 1, 10, readout="flatten", image_size=28)
        model.load_state_dict(base.state_dict())
        model = model.to(memory_format=fmt)
        setups[name] = (model, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9),
                        x_train.contiguous(memory_format=fmt), x_eval.contiguous(memory_format=fmt))
    measures = ("train_step_ms", "eval_ms_per_1000_batch256", "eval_ms_per_1000_batch1000")
    times: dict[str, dict[str, list[float]]] = {n: {m: [] for m in measures} for n in FORMATS}

    def once(name: str) -> None:
        model, opt, xt, xe = setups[name]
        times[name]["train_step_ms"].append(1e3 * train_step(model, opt, xt, y))
        times[name]["eval_ms_per_1000_batch256"].append(1e3 * evaluation(model, xe, 256))
        times[name]["eval_ms_per_1000_batch1000"].append(1e3 * evaluation(model, xe, 1000))

    for name in FORMATS:  # warm-up: oneDNN builds its kernels on first use
        once(name)
        times[name] = {m: [] for m in measures}
    for rep in range(args.reps):
        for name in (("nchw", "channels_last") if rep % 2 == 0 else ("channels_last", "nchw")):
            once(name)
    out = {"config": config_of(args),
           "median_ms": {n: {m: statistics.median(v) for m, v in t.items()} for n, t in times.items()},
           "median_paired_ratio_nchw_over_channels_last": {
               m: statistics.median(a / b for a, b in zip(times["nchw"][m], times["channels_last"][m], strict=True))
               for m in measures},
           "environment": environment()}
    for m in measures:
        print(f"{m}: NCHW {out['median_ms']['nchw'][m]:.0f} ms, channels-last "
              f"{out['median_ms']['channels_last'][m]:.0f} ms; paired ratio "
              f"{out['median_paired_ratio_nchw_over_channels_last'][m]:.2f}x")
    write_json(args, out)


if __name__ == "__main__":
    main()
