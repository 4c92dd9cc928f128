"""Grids of training runs from a small TOML file; resumable, parallel, every run's folder kept.

    [base]                      # options shared by every run (keys of `sparseinit train --help`)
    dataset = "mnist"
    depth = 100
    [grid]                      # lists: the runs are their Cartesian product
    activation = ["relu", "crelu"]
    sparsity = [0.5, 0.85]
    seed = [0, 1, 2]
    [[variant]]                 # optional: each variant's options, crossed with the grid (inner loop)
    m = 1.0
    [[variant]]
    slope = 0.9

Variants name combinations that a product cannot (e.g. the methods of [C]: plain sparse with SNIP, DCTpS with
EPL, DCTpS with RigL); the run order is the grid's (first key outermost), each grid point running every variant.

Options an activation ignores are normalised away first (relu has s = 0.5; m/slope only clip crelu/cst), so
the grid above trains relu once per seed, not once per sparsity. Run r goes to ``OUT/<name>-<hash>/``; a finished
run is skipped, an unfinished one resumes from its checkpoint, and a run that raises is recorded as ``failed``
(its message in ``error.txt``) while the sweep goes on. Worker processes exit when the sweep process dies (even by
kill -9), so a killed sweep leaves no orphan still writing into a run folder that a restarted sweep resumes.
``OUT/sweep.toml`` keeps the first sweep file; a later one may differ in text (comments, ``device``, the order
of a list) but not in the runs it asks for. An ``OUT`` that holds a single run, or files but no ``sweep.toml``,
is refused.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import itertools
import multiprocessing
import os
import sys
import threading
import time
import traceback
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tqdm import tqdm

from .. import data
from .._validate import check_int
from . import run_dir
from .config import TrainConfig

SECTIONS = ("base", "grid", "variant", "description")


def load_grid(path: str | Path) -> list[TrainConfig]:
    """The distinct runs of a sweep file, in grid order; one-line errors name the file and the problem."""
    path = Path(path)
    where = str(path)
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"sweep file {path} not found") from None
    except OSError as err:
        raise ValueError(f"cannot read sweep file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: not valid TOML ({err})") from None
    unknown = sorted(set(spec) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{where}: unknown section {unknown[0]!r}; use [base] and [grid]")
    base, grid, variants = spec.get("base", {}), spec.get("grid", {}), spec.get("variant", [{}])
    for name, table in (("base", base), ("grid", grid)):
        if not isinstance(table, dict):
            raise ValueError(f"{where}: {name} must be a [{name}] table of options, got {table!r}")
    if not base and not grid and variants == [{}]:
        raise ValueError(f"{where}: no runs: give options in [base], lists in [grid] or [[variant]] tables")
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants) or not variants:
        raise ValueError(f"{where}: variants must be [[variant]] tables")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: grid.{key} must be a non-empty list, got {values!r}")
        twice = [v for i, v in enumerate(values) if v in values[:i]]
        if twice:  # the run would be listed once: a typo for another value, most likely
            raise ValueError(f"{where}: grid.{key} lists {twice[0]!r} more than once")
    both = sorted(set(base) & set(grid))
    if both:
        raise ValueError(f"{where}: {both[0]!r} is in both [base] and [grid]")
    in_variants = set().union(*variants)
    clash = sorted(in_variants & set(grid))
    if clash:
        raise ValueError(f"{where}: {clash[0]!r} is in both [grid] and a [[variant]]")
    unknown = sorted((set(base) | set(grid) | in_variants) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:  # typos before any expansion
        TrainConfig.from_dict({unknown[0]: None}, where)
    configs, seen = [], set()
    for combo in itertools.product(*grid.values()):
        for variant in variants:
            options = {**base, **variant, **dict(zip(grid, combo, strict=True))}
            try:
                config = TrainConfig.from_dict(options, where, drop_ignored=True).normalised()
            except ValueError as err:  # range checks do not know the file
                raise ValueError(str(err) if str(err).startswith(where) else f"{where}: {err}") from None
            if config.key() not in seen:
                seen.add(config.key())
                configs.append(config)
    return configs


def check_models_fit(configs: list[TrainConfig], where: str | Path) -> None:
    """Build every run's network on the meta device (no memory, no data) for its data set's input shape, so a
    model that cannot take those inputs (vgg on 8×8 images) is refused before any run starts."""
    import torch

    from .loop import dense_network

    built = set()
    for config in configs:
        shape = (config.model, config.dataset, config.depth, config.width, config.kernel_size, config.readout,
                 config.width_multiplier)
        if shape in built:  # seeds and activations of one architecture take the same inputs
            continue
        built.add(shape)
        try:
            with torch.device("meta"):
                dense_network(config, data.INPUT_SHAPES[config.dataset], data.NUM_CLASSES, None)
        except ValueError as err:
            raise ValueError(f"{where}: run {run_name(config)} cannot be built for {config.dataset}: {err}; "
                             "no run was started") from None


def run_name(config: TrainConfig) -> str:
    """A readable folder name: the model and its weight sparsity ([C] runs), the activation's options, the seed
    and the config's hash."""
    parts = [] if config.model in ("mlp", "cnn") else [config.model, config.dataset]
    if config.density is not None:
        method = config.prune_method
        if config.offset == "dct":
            method = "dctps" if method == "random" else f"dctps-{method}"
        parts += [f"d{config.density:g}", method, *([config.budget] if config.budget else []),
                  *(["rigl"] if config.rigl else [])]
    if config.model == "cnn" and config.readout != "pool":
        parts.append(config.readout)
    parts.append(config.activation)
    if config.activation != "relu":
        parts.append(f"s{config.sparsity:g}")
    if config.m is not None:
        parts.append(f"m{config.m:g}")
    if config.slope is not None:
        parts.append(f"slope{config.slope:g}")
    parts += [f"q{config.q_star:g}", f"seed{config.seed}", config.key()]
    return "-".join(parts)


def _exit_with(parent: int) -> None:
    """Pool initializer: end this worker within a second of the sweep process ``parent`` ending."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)  # the run resumes from its last (atomic) checkpoint when the sweep is restarted

    threading.Thread(target=watch, daemon=True).start()


def _one(config: TrainConfig, folder: str, threads: int) -> dict[str, Any]:
    import torch

    from .loop import train

    torch.set_num_threads(threads)
    try:
        summary = train(config, out=folder, resume=True, progress=False)
        (Path(folder) / run_dir.ERROR).unlink(missing_ok=True)  # an earlier attempt's failure, now past
        return summary
    except Exception as err:  # a failed run is recorded, the sweep goes on
        Path(folder).mkdir(parents=True, exist_ok=True)
        message = traceback.format_exc().encode()
        run_dir.atomic_write(Path(folder) / run_dir.ERROR, lambda fh: fh.write(message))
        return {"status": "failed", "error": f"{type(err).__name__}: {err}", "key": config.key()}


def sweep(config_path: str | Path, out: str | Path, *, workers: int = 1, threads: int | None = None,
          progress: bool = True) -> list[dict]:
    """Run (or finish) every run of the sweep file into ``out``; returns their summaries in grid order.

    ``threads``: torch threads per run (default: the machine's cores shared among the workers). With
    ``workers > 1`` the runs go to spawned processes, which import the calling script again: call ``sweep`` from
    a script under ``if __name__ == "__main__":``.
    """
    workers = check_int("workers", workers, 1)
    threads = None if threads is None else check_int("threads", threads, 1)
    configs = load_grid(config_path)
    check_models_fit(configs, config_path)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the sweep's runs")
    copy = out / "sweep.toml"
    if (out / run_dir.CONFIG).exists():
        raise ValueError(f"--out {out} holds a single run (its {run_dir.CONFIG}); give a sweep its own folder")
    if out.is_dir() and not copy.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise ValueError(f"--out {out} holds files but no {copy.name}, so it is not this sweep's folder; "
                         "choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create sweep folder {out}: {err.strerror}") from None
    text = Path(config_path).read_bytes()
    if copy.exists() and copy.read_bytes() != text:
        _check_same_runs(copy, configs, config_path)
    if not copy.exists():
        run_dir.atomic_write(copy, lambda fh: fh.write(text))
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    folders = [str(out / run_name(c)) for c in configs]
    results: dict[int, dict] = {}
    todo = []
    for index, folder in enumerate(folders):
        summary = run_dir.read_summary(Path(folder))
        if summary is not None:
            results[index] = summary
        else:
            todo.append(index)
    bar = tqdm(total=len(configs), initial=len(results), desc="sweep", unit="run", disable=not progress)
    if workers == 1:
        for index in todo:
            results[index] = _one(configs[index], folders[index], threads)
            _report_line(bar, folders[index], results[index])
    else:
        with futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_exit_with, initargs=(os.getpid(),)) as pool:
            jobs = {pool.submit(_one, configs[i], folders[i], threads): i for i in todo}
            for job in futures.as_completed(jobs):
                index = jobs[job]
                try:
                    results[index] = job.result()
                except BrokenProcessPool:
                    raise ValueError(f"a worker process died while running {Path(folders[index]).name} (out of "
                                     "memory, killed, or a script that calls sweep(workers > 1) outside an "
                                     "`if __name__ == '__main__':` block); finished runs are kept and the sweep "
                                     "resumes the rest when run again") from None
                _report_line(bar, folders[index], results[index])
    bar.close()
    return [results[i] for i in range(len(configs))]


def _check_same_runs(copy: Path, configs: list[TrainConfig], config_path: str | Path) -> None:
    """A sweep file may change where its runs run (device, comments) but not which runs it holds."""
    try:
        before = [c.key() for c in load_grid(copy)]
    except ValueError:
        before = None
    now = [c.key() for c in configs]
    if before is None or sorted(before) != sorted(now):  # the same runs in another order are the same sweep
        extra = next((run_name(c) for c in configs if before is None or c.key() not in before), None)
        what = f"e.g. {extra} is new" if extra else "its runs differ"
        raise ValueError(f"{copy.parent} holds a different sweep ({copy.name} there and {config_path} ask for "
                         f"different runs: {what}); choose another --out")


def _report_line(bar: tqdm, folder: str, summary: dict) -> None:
    bar.update(1)
    if summary.get("status") == "failed":
        bar.write(f"{Path(folder).name}: failed ({summary['error']})")
    else:
        bar.write(f"{Path(folder).name}: {summary['status']}, test {summary['test_accuracy']:.2f}%, "
                  f"sparsity {summary['test_sparsity']:.3f}")
