"""The ``sparseinit`` command line: a thin shell over the Python API (every command is a function call)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .eoc import CLIP_MODES, edge_of_chaos
from .theory.piecewise import ACTIVATIONS

_EOC_FIELDS = ("activation", "sparsity", "tau", "m", "q_star", "sigma_w2", "sigma_b2", "slope", "curvature", "chi1")
_FIELD_HELP = {
    "tau": "threshold τ", "m": "clip m (absolute)", "q_star": "fixed-point variance q*",
    "sigma_w2": "weight variance σ_w² (× 1/fan_in)", "sigma_b2": "bias variance σ_b²", "slope": "V'(q*)",
    "curvature": "V''(q*)", "chi1": "χ1 (1 on the EoC)", "sparsity": "target sparsity", "activation": "",
}


def _add_eoc_options(p: argparse.ArgumentParser, *, several: bool) -> None:
    kw = {"nargs": "+", "default": ["relu_tau", "crelu"]} if several else {"required": True}
    p.add_argument("--activation", choices=ACTIVATIONS, metavar="NAME", **kw,
                   help=f"one of {', '.join(ACTIVATIONS)}" + (" (default relu_tau crelu)" if several else ""))
    p.add_argument("--sparsity", type=float, default=None if not several else 0.85,
                   help="target activation sparsity s in (0, 1) (ignored by relu; "
                        + ("default 0.85)" if several else "required by the others)"))
    group = p.add_mutually_exclusive_group()
    group.add_argument("--m", type=float, help="clip m > 0 for crelu/cst (default 1)")
    group.add_argument("--slope", type=float, help="target V'(q*) in (0, 1) for crelu/cst; m is solved for")
    p.add_argument("--q-star", type=float, default=1.0, help="fixed-point variance q* in [1e-6, 1e6] (default 1)")
    p.add_argument("--clip", choices=CLIP_MODES, default="absolute",
                   help="read --m as absolute, or relative to sqrt(q*) (default absolute)")


def _points(args: argparse.Namespace) -> list:
    names = args.activation if isinstance(args.activation, list) else [args.activation]
    out = []
    for name in names:
        # with several activations, --m / --slope apply to the clipped ones; alone, an unclipped one refuses them
        clipped = name in ("crelu", "cst") or len(names) == 1
        out.append(edge_of_chaos(
            name, None if name == "relu" else args.sparsity, q_star=args.q_star, clip=args.clip,
            m=args.m if clipped else None, slope=args.slope if clipped else None,
        ))
    return out


def _add_figure_options(p: argparse.ArgumentParser, default: str, json_help: str) -> None:
    p.add_argument("--out", default=default, help=f"figure path (default {default})")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help=json_help)


def _writable(path: str | Path, overwrite: bool, option: str = "--out") -> Path:
    out = Path(path)
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; refusing to overwrite it (pass --overwrite or choose another {option})")
    return out


def _figure_path(path: str, overwrite: bool, option: str = "--out") -> Path:
    """The file a figure will really be written to (``.png`` added when ``path`` has no extension), checked
    for a format matplotlib writes and for overwriting before any work starts."""
    from matplotlib.backend_bases import FigureCanvasBase

    out = Path(path)
    if not out.suffix:
        out = out.with_name(out.name + ".png")  # what savefig would write
    formats = FigureCanvasBase.get_supported_filetypes()
    if out.suffix[1:].lower() not in formats:
        raise ValueError(f"{option} {path}: matplotlib cannot write {out.suffix!r} files; "
                         f"use one of {', '.join('.' + f for f in sorted(formats))}")
    return _writable(out, overwrite, option)


def _cmd_eoc(args: argparse.Namespace) -> None:
    (point,) = _points(args)
    data = point.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return
    for key in _EOC_FIELDS:
        value = data[key]
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"{key:<11} {shown:<12} {_FIELD_HELP[key]}")


def _cmd_maps(args: argparse.Namespace) -> None:
    from .figures import plot_maps

    out = _figure_path(args.out, args.overwrite)
    points = _points(args)
    path = plot_maps(points, out)
    if args.json:
        print(json.dumps([p.to_dict() for p in points], indent=2))
    else:
        for p in points:
            print(f"{p.piecewise().describe():<28} sigma_w2={p.sigma_w2:.5g} sigma_b2={p.sigma_b2:.5g} "
                  f"V'(q*)={p.slope:.4f} V''(q*)={p.curvature:.4f}")
        print(f"wrote {path}")


def _cmd_propagate(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from .figures import plot_propagation
    from .propagation import propagate_network

    out = _figure_path(args.out, args.overwrite)
    points = _points(args)
    jobs = [(p, q0 if args.q0 else factor * p.q_star) for p in points
            for q0, factor in zip(args.q0 or [None] * 3, (0.5, 1.0, 2.0), strict=False)]
    runs = [propagate_network(p, q0, depth=args.depth, width=args.width, n_inputs=args.inputs, seed=args.seed)
            for p, q0 in tqdm(jobs, desc="propagate", unit="net", disable=args.json or None)]
    path = plot_propagation(runs, out)
    if args.json:
        print(json.dumps([r.to_dict() for r in runs]))
        return
    for r in runs:
        print(f"{r.eoc.piecewise().describe():<28} q0={r.q0:<6g} layer {args.depth}: variance {r.variance[-1]:<10.4g}"
              f" (theory {r.theory_variance[-1]:.4g}), sparsity {r.sparsity[-1]:.3f} (target {r.eoc.sparsity:g})")
    print(f"wrote {path}")


# Second spellings of config options, as the papers name them: a CNN's width is its number of channels.
_ALIASES = {"width": ("--channels",)}


def _add_config_options(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field (default: the config's), so CLI, sweeps and Python share one schema."""
    import dataclasses

    from .training.config import TrainConfig, field_type

    for f in dataclasses.fields(TrainConfig):
        flags = ("--" + f.name.replace("_", "-"), *_ALIASES.get(f.name, ()))
        typ = field_type(f)
        # a None default means "depends on other options"; the help line says on what
        helptext = f.metadata["help"] + ("" if f.default is None else f" (default {f.default})")
        if typ is bool:
            p.add_argument(*flags, action=argparse.BooleanOptionalAction, default=None, help=helptext)
        else:
            p.add_argument(*flags, dest=f.name, type=typ, default=None, choices=f.metadata.get("choices"),
                           help=helptext, metavar=None if "choices" in f.metadata else f.name.upper())


def _given_options(args: argparse.Namespace) -> dict:
    """The TrainConfig options given on the command line."""
    import dataclasses

    from .training.config import TrainConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    return {name: value for name, value in given.items() if value is not None}


def _config_from_args(args: argparse.Namespace):
    from .training.config import TrainConfig

    given = _given_options(args)
    config = TrainConfig(**given)
    ignored = config.ignored_options(given)
    if ignored:  # a mistyped intention, not something to drop silently
        raise ValueError(f"{ignored[0]}; leave it out")
    return config


def _cmd_train(args: argparse.Namespace) -> None:
    from .training.loop import train
    from .training.run_dir import CONFIG

    # --resume alone continues the run with the options saved in its folder
    config = None if args.resume and not _given_options(args) else _config_from_args(args)
    if args.resume and not (Path(args.out) / CONFIG).exists() and os.environ.get("RANK", "0") == "0":
        print(f"sparseinit train: note: {args.out} holds no run to resume; starting a new one", file=sys.stderr)
    summary = train(config, out=args.out, resume=args.resume, progress=not args.json)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, the main process reports
        return
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['status']}: test accuracy {summary['test_accuracy']:.2f}%, sparsity train "
          f"{summary['train_sparsity']:.3f} / test {summary['test_sparsity']:.3f} (target {summary['sparsity']:g}), "
          f"{summary['wall_time_s']:.0f} s; run folder {args.out}")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .training.run_dir import ERROR
    from .training.sweep import sweep

    summaries = sweep(args.config, args.out, workers=args.workers, threads=args.threads, progress=True)
    counts = {status: sum(s.get("status") == status for s in summaries) for status in ("ok", "diverged", "failed")}
    print(f"{len(summaries)} runs in {args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["failed"]:
        print(f"each failed run's error is in its folder's {ERROR}; fix the cause and run the same command again "
              "to retry them (finished runs are kept)")
    if counts["failed"] < len(summaries):
        print(f"next: sparseinit report {args.out}")
    return 1 if counts["failed"] else 0


def _cmd_report(args: argparse.Namespace) -> None:
    from .training.report import report

    paths = report(args.folder, also=args.also, baseline=args.baseline, within=args.within,
                   overwrite=args.overwrite)
    print(Path(paths["table"]).read_text(), end="")
    if "gaps" in paths:
        print(Path(paths["gaps"]).read_text(), end="")
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from .training.trained import evaluate_run

    out = evaluate_run(args.run, split=args.split, accelerate=args.accelerate, device=args.device,
                       batch_size=args.batch_size)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    epochs = out["epochs_trained"]
    print(f"{args.run}: {out['split']} ({out['examples']} examples, weights after {epochs} "
          f"epoch{'' if epochs == 1 else 's'}): "
          f"accuracy {out['accuracy']:.2f}%, loss {out['loss']:.4f}, sparsity {out['sparsity']:.3f}")
    if args.accelerate:
        print(f"accelerated ({out['accelerated_layers']} layers can skip zeros; {out['kernel_layers']} ran the sparse "
              f"kernel at batch {out['batch_size']}): accuracy "
              f"{out['accelerated_accuracy']:.2f}%, largest logit difference {out['max_logit_difference']:.2e}; "
              f"one pass at batch {out['batch_size']}: dense {out['dense_seconds']:.2f} s, accelerated "
              f"{out['accelerated_seconds']:.2f} s")


def _bench_outputs(args: argparse.Namespace) -> dict[str, Path | None]:
    """A benchmark's output files, each checked (and the plot's format) before the benchmark runs."""
    return {
        "json_path": _writable(args.json, args.overwrite, "--json") if args.json else None,
        "markdown_path": _writable(args.markdown, args.overwrite, "--markdown") if args.markdown else None,
        "plot_path": _figure_path(args.plot, args.overwrite, "--plot") if args.plot else None,
    }


def _cmd_bench_dctps(args: argparse.Namespace) -> None:
    from .layers.dctps_benchmark import benchmark_dctps, dctps_conv_table, dctps_table, write_dctps_results

    outs = _bench_outputs(args)
    convs = [_conv_spec(c) for c in args.convs]
    result = benchmark_dctps(args.widths, args.densities, args.batches, args.train_batches, convs=convs,
                             reps=args.reps, warmup=args.warmup, threads=args.threads, seed=args.seed,
                             progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(dctps_table(result["rows"]), end="")
    if result["conv_rows"]:
        print(dctps_conv_table(result["conv_rows"]), end="")
    command = "sparseinit " + " ".join(args.argv) if getattr(args, "argv", None) else None
    for path in write_dctps_results(result, command=command, **outs):
        print(f"wrote {path}")


def _conv_spec(text: str) -> tuple[int, int, int]:
    try:
        channels, size, batch = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--convs takes CxHxB (channels x map size x batch, e.g. 512x4x32), got {text!r}") from None
    return channels, size, batch


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _add_bench(sub: argparse._SubParsersAction) -> None:
    """``sparseinit bench WHAT``: speed measurements, one sub-command per benchmark."""
    p = sub.add_parser("bench", help="speed benchmarks (dctps, activations)",
                       description="Speed benchmarks; every one is a library function (see its help).")
    bench_sub = p.add_subparsers(dest="bench_what", required=True, metavar="WHAT")

    q = bench_sub.add_parser(
        "dctps", help="fast DCTpS (FFT + CSR) against dense nn.Linear and the dense-kernel DCTpS",
        description="Time a dense nn.Linear, the dense-kernel DCTpSLinear, the fast DCTpSLinear and the compact "
                    "layer of one shape side by side (sparseinit.layers.dctps_benchmark.benchmark_dctps); print "
                    "the table and optionally write JSON, a markdown page and a plot.")
    q.add_argument("--widths", type=int, nargs="+", default=[4096], help="layer widths n (n × n; default 4096)")
    q.add_argument("--densities", type=float, nargs="+", default=[1e-1, 1e-2, 1e-3],
                   help="densities of S in (0, 1] (default 1e-1 1e-2 1e-3)")
    q.add_argument("--batches", type=int, nargs="+", default=[1, 64], help="forward batches (default 1 64)")
    q.add_argument("--train-batches", type=int, nargs="*", default=[128],
                   help="forward+backward batches (default 128; the option with no value skips them)")
    q.add_argument("--convs", nargs="*", default=[], metavar="CxHxB",
                   help="also time 3x3 C->C convolutions on HxH maps at batch B (e.g. 512x4x32; default none)")
    _add_bench_options(q, reps_help="timed repetitions, medians reported",
                       json_help="write every row, the config and the environment as JSON here",
                       markdown_help="write the results page (table, targets, command, compute) here",
                       plot_help="write the speed-up vs density plot here")
    q.set_defaults(func=_cmd_bench_dctps)
    _add_bench_activations(bench_sub)


def _add_bench_options(q: argparse.ArgumentParser, *, reps_help: str, json_help: str, markdown_help: str,
                       plot_help: str) -> None:
    """The timing and output options every ``sparseinit bench`` command shares, with their help texts."""
    q.add_argument("--reps", type=int, default=20, help=f"{reps_help} (default 20)")
    q.add_argument("--warmup", type=int, default=3, help="untimed calls first (default 3)")
    q.add_argument("--threads", type=_positive_int, default=2, help="torch threads, >= 1 (default 2)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    q.add_argument("--json", help=json_help)
    q.add_argument("--markdown", help=markdown_help)
    q.add_argument("--plot", help=plot_help)
    q.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _cmd_bench_activations(args: argparse.Namespace) -> None:
    from .acceleration_benchmark import (
        activations_table,
        benchmark_activations,
        run_environment,
        write_activations_results,
    )

    outs = _bench_outputs(args)
    meta = run_environment("sparseinit " + " ".join(args.argv), args.threads, args.reps)
    rows = benchmark_activations(tuple(args.widths), args.depth, tuple(args.sparsities), tuple(args.batches),
                                 args.reps, args.threads, warmup=args.warmup, seed=args.seed,
                                 progress=lambda r: print(activations_table([r]).splitlines()[1], file=sys.stderr,
                                                          flush=True))
    print(activations_table(rows))
    config = {k: getattr(args, k) for k in ("widths", "depth", "sparsities", "batches", "reps", "warmup", "threads",
                                            "seed")}
    for path in write_activations_results(rows, meta, config, **outs):
        print(f"wrote {path}")


def _add_bench_activations(bench_sub: argparse._SubParsersAction) -> None:
    q = bench_sub.add_parser(
        "activations", help="accelerate() against dense torch on a DeepMLP at real activation sparsities",
        description="Time a DeepMLP at its EoC point for each target activation sparsity, dense (torch) against "
                    "sparseinit.accelerate(), interleaved, medians "
                    "(sparseinit.acceleration_benchmark.benchmark_activations); "
                    "print the table (shape, sparsity, batch, dense ms, sparse ms, speed-up, ideal 1/(1-s)) and "
                    "optionally write JSON, a markdown page and a plot.")
    q.add_argument("--widths", type=int, nargs="+", default=[4096], help="MLP widths (default 4096)")
    q.add_argument("--depth", type=int, default=8, help="activated layers, >= 2 (default 8)")
    q.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.85, 0.9, 0.95],
                   help="target activation sparsities in [0, 1) (default 0.5 0.7 0.8 0.85 0.9 0.95)")
    q.add_argument("--batches", type=int, nargs="+", default=[1, 64], help="batch sizes (default 1 64)")
    _add_bench_options(q, reps_help="timed repetitions, interleaved; medians",
                       json_help="write every row, the targets, the config and the environment as JSON here",
                       markdown_help="write the results page (table and targets) here",
                       plot_help="write the speed-up vs sparsity plot (with the ideal curve) here")
    q.set_defaults(func=_cmd_bench_activations)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the full usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sparseinit`` command (sub-commands share its one-line error style)."""
    parser = _Parser(
        prog="sparseinit",
        description="Deep networks sparse from initialisation: sparse activations on the Edge of Chaos "
                    "(exact Gaussian-process maps, EoC initialisation, propagation; [A], [B]), DCT-plus-Sparse "
                    "and prune-at-initialisation networks ([C]), and inference that skips zero activations.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("eoc", help="the Edge-of-Chaos point for an activation at a target sparsity",
                       description="Compute tau, sigma_w^2, sigma_b^2, V'(q*), V''(q*) and chi1 of the EoC "
                                   "initialisation at a target activation sparsity.")
    _add_eoc_options(p, several=False)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_eoc)

    p = sub.add_parser("maps", help="plot the variance and correlation maps of one or several activations",
                       description="Plot V(q) against the identity, V(q) - q near q*, and R(rho), at each "
                                   "activation's EoC point.")
    _add_eoc_options(p, several=True)
    _add_figure_options(p, "maps.png", "print the EoC points as JSON")
    p.set_defaults(func=_cmd_maps)

    p = sub.add_parser("propagate", help="measure variance and sparsity through a random deep network",
                       description="Push random inputs through a random finite-width network at its EoC point "
                                   "and plot the per-layer variance and sparsity against the GP theory, for "
                                   "inputs started below, at and above q*.")
    _add_eoc_options(p, several=True)
    p.add_argument("--depth", type=int, default=100, help="number of layers (default 100)")
    p.add_argument("--width", type=int, default=1000, help="units per layer (default 1000)")
    p.add_argument("--inputs", type=int, default=16, help="random inputs pushed through (default 16)")
    p.add_argument("--q0", type=float, nargs="+", help="starting variances (default q*/2, q*, 2q*)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_figure_options(p, "propagation.png", "print every run's per-layer data as JSON")
    p.set_defaults(func=_cmd_propagate)

    p = sub.add_parser("train",
                       help="train a network: [A]'s mlp/cnn at its EoC point, or a [C] model (dense, DCTpS, pruned)",
                       description="Train one run: writes config.json, metrics.jsonl (per epoch: loss, accuracies, "
                                   "per-layer sparsity), checkpoint.pt and summary.json into --out. Runs under "
                                   "torchrun --nproc_per_node=K for data parallelism.")
    p.add_argument("--out", required=True, help="run folder (refused if it holds another run)")
    p.add_argument("--resume", action="store_true",
                   help="continue an unfinished run in --out from its checkpoint (given no other option: with the "
                        "options saved in --out)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (and no progress bar)")
    _add_config_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="run a grid of training runs from a TOML file (resumable)",
                       description="Run every combination of a sweep file's [grid] lists, each crossed with its "
                                   "optional [[variant]] tables, on top of its [base] options, one folder per run "
                                   "under --out. Finished runs are skipped and "
                                   "interrupted ones resume, so the same command finishes an interrupted sweep.")
    p.add_argument("config",
                   help="sweep file (TOML with [base], [grid] and optional [[variant]] tables; see experiments/)")
    p.add_argument("--out", required=True, help="sweep folder")
    p.add_argument("--workers", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: the cores shared among the workers)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("evaluate", help="accuracy and sparsity of a run's trained network (optionally accelerated)",
                       description="Rebuild the network of a run folder, load its last checkpoint and evaluate it "
                                   "on a split: loss, accuracy, activation sparsity. With --accelerate also through "
                                   "sparseinit.accelerate (skipping zero activations): its accuracy, how far its "
                                   "logits are from the dense ones, one timed pass of each (after untimed warm-up "
                                   "calls) and how many accelerated layers ran the sparse kernel at --batch-size "
                                   "(each only where its measured break-even says the kernel beats dense).")
    p.add_argument("run", help="a run folder (written by sparseinit train, or one run of a sweep)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test",
                   help="test (default), val, or train (its first 5,000 inputs, as training measures them)")
    p.add_argument("--accelerate", action="store_true", help="also evaluate the accelerated inference copy")
    p.add_argument("--batch-size", type=int, default=256,
                   help="inputs per forward pass in the timed passes of --accelerate (default 256)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help="default cpu")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("report", help="table and plots of the runs in a folder",
                       description="Group the finished runs below FOLDER by config up to the seed and write "
                                   "table.md (mean ± std test accuracy, fraction diverged, measured sparsity), "
                                   "runs.csv (one row per run), accuracy_vs_sparsity.png and curves.png "
                                   "(accuracy_vs_depth.png where depth varies; density_table.md and "
                                   "accuracy_vs_density.png for runs with --density) into FOLDER, and report.json "
                                   "listing what it wrote.")
    p.add_argument("folder", help="a sweep folder (or any folder holding run folders)")
    p.add_argument("--also", nargs="+", default=[], metavar="RUNS",
                   help="more sweep or run folders whose runs join the report (nothing is written into them)")
    p.add_argument("--baseline", default=None, metavar="ACTIVATION",
                   help="also write gaps.md: every other row's test accuracy minus this activation's (e.g. relu), "
                        "paired by seed, with the paired std and a Student-t 95%% interval")
    p.add_argument("--within", type=float, default=None, metavar="POINTS",
                   help="with --baseline: count the seeds whose gap is at least -POINTS (default 1.5, [A]'s target)")
    p.add_argument("--overwrite", action="store_true",
                   help="write over files of the same names that an earlier report did not write (report.json "
                        "lists what a report wrote; those are always replaced)")
    p.set_defaults(func=_cmd_report)

    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sparseinit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        status = args.func(args)
        sys.stdout.flush()
    except ValueError as err:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every process has the error; one prints it
            print(f"sparseinit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error of ours
        try:  # later writes (the interpreter's last flush) go nowhere instead of raising again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as err:  # a path the user gave cannot be written or read
        where = f" {err.filename}" if err.filename else ""
        print(f"sparseinit {args.command}: error: cannot use{where}: {err.strerror or err}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
