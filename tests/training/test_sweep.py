"""Sweeps: grid expansion with normalisation, typo'd keys, resumability; reports: the table's numbers."""

import dataclasses
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sparseinit import data
from sparseinit.training import report, sweep

SWEEP = """
[base]
dataset = "synthetic"
depth = 4
width = 32
epochs = 1
batch_size = 128
lr = 0.01
[grid]
activation = ["relu", "crelu"]
sparsity = [0.6, 0.8]
m = [1.0, 2.0]
seed = [0, 1]
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_normalises_ignored_options(tmp_path):
    configs = sweep.load_grid(write(tmp_path, SWEEP))
    # relu ignores sparsity and m: 2 seeds; crelu: 2 sparsities × 2 m × 2 seeds
    assert len(configs) == 2 + 8
    assert sum(c.activation == "relu" for c in configs) == 2
    assert len({sweep.run_name(c) for c in configs}) == 10


VARIANTS = """
[base]
dataset = "synthetic"
model = "lenet5"
[grid]
seed = [0, 1]
density = [0.01, 0.1]
[[variant]]
offset = "none"
prune_method = "snip"
[[variant]]
offset = "dct"
budget = "epl"
rigl = true
"""


def test_variants_cross_the_grid_inside_it(tmp_path):
    configs = sweep.load_grid(write(tmp_path, VARIANTS))
    got = [(c.seed, c.density, c.offset, c.prune_method, c.rigl) for c in configs]
    assert got == [(s, d, *v) for s in (0, 1) for d in (0.01, 0.1)
                   for v in (("none", "snip", False), ("dct", "random", True))]
    names = [sweep.run_name(c) for c in configs]
    assert names[0].startswith("lenet5-synthetic-d0.01-snip-")
    assert names[1].startswith("lenet5-synthetic-d0.01-dctps-epl-rigl-")
    assert len(set(names)) == len(names)
    synflow_support = dataclasses.replace(configs[1], prune_method="synflow", rigl=False, budget=None)
    assert sweep.run_name(synflow_support).startswith("lenet5-synthetic-d0.01-dctps-synflow-relu-")


@pytest.mark.parametrize("text,match", [
    ('[base]\nlearning_rate = 0.1\n', "s.toml: unknown key 'learning_rate'; valid keys:"),
    ('[grid]\nlr = ["fast"]\n', "s.toml: lr must be a number, got 'fast'"),
    ('[grid]\nlr = 0.1\n', r"s.toml: grid.lr must be a non-empty list"),
    ('[runs]\nlr = 0.1\n', "unknown section 'runs'"),
    ('[base]\nlr = \n', "not valid TOML"),
    ('[base]\nlr = 0.1\n[grid]\nlr = [0.2]\n', "'lr' is in both"),
    ('[grid]\nlr = [0.2]\n[[variant]]\nlr = 0.1\n', "'lr' is in both \\[grid\\] and a \\[\\[variant\\]\\]"),
    ('[[variant]]\nlearning_rate = 0.1\n', "unknown key 'learning_rate'"),
    ('variant = 3\n', "variants must be"),
    ('base = 3\n', r"s.toml: base must be a \[base\] table of options, got 3"),
    ('grid = [1]\n', r"s.toml: grid must be a \[grid\] table"),
    ('', "s.toml: no runs: give options in"),
    ('[grid]\nlr = [0.1, nan]\n', r"s.toml: lr must be in \(0, inf\), got nan"),
    ('[grid]\nseed = [0, 1, 0]\n', r"s.toml: grid.seed lists 0 more than once"),
])
def test_bad_sweep_files(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        sweep.load_grid(write(tmp_path, text))


def test_sweep_resumes_skips_and_reports(tmp_path):
    spec = write(tmp_path, SWEEP.replace('m = [1.0, 2.0]', 'm = [1.0]').replace('sparsity = [0.6, 0.8]',
                                                                             'sparsity = [0.8]'))
    out = tmp_path / "out"
    first = sweep.sweep(spec, out, progress=False)
    assert [s["status"] for s in first] == ["ok"] * 4
    finished = sorted(out.glob("*/summary.json"))
    stamps = [p.stat().st_mtime_ns for p in finished]
    again = sweep.sweep(spec, out, progress=False)  # everything finished: nothing is rerun or rewritten
    assert [p.stat().st_mtime_ns for p in finished] == stamps and again == first
    with pytest.raises(ValueError, match=r"holds a different sweep .*: e\.g\. crelu-s0\.6-m1-q1-seed0-.* is new"):
        sweep.sweep(write(tmp_path, SWEEP, "other.toml"), out, progress=False)
    # the same runs, asked for on another device and with a comment: the sweep carries on (nothing rerun)
    moved = write(tmp_path, "# moved\n" + spec.read_text().replace("[base]", '[base]\ndevice = "auto"'), "moved.toml")
    assert sweep.sweep(moved, out, progress=False) == first
    # the grid's lists in another order ask for the same runs
    reordered = write(tmp_path, spec.read_text().replace("seed = [0, 1]", "seed = [1, 0]"), "reordered.toml")
    assert sorted(s["key"] for s in sweep.sweep(reordered, out, progress=False)) == sorted(s["key"] for s in first)
    assert (out / "sweep.toml").read_text() == spec.read_text()  # the first sweep file is kept as it was
    # a file asking for fewer runs is another sweep too (its report would silently drop runs)
    fewer = write(tmp_path, spec.read_text().replace("seed = [0, 1]", "seed = [0]"), "fewer.toml")
    with pytest.raises(ValueError, match=r"holds a different sweep .*: its runs differ"):
        sweep.sweep(fewer, out, progress=False)

    paths = report.report(out)
    table = paths["table"].read_text()
    rows, _ = report.aggregate(report.collect(out))
    crelu = next(r for r in rows if r["identity"]["activation"] == "crelu")
    accs = [s["test_accuracy"] for s in first if s["activation"] == "crelu"]
    mean = sum(accs) / 2
    std = (sum((a - mean) ** 2 for a in accs)) ** 0.5  # sample std of two values
    assert crelu["test_accuracy"] == pytest.approx((mean, std))
    assert f"{mean:.2f} ± {std:.2f}" in table and crelu["seeds"] == 2
    assert paths["accuracy"].stat().st_size > 5000 and paths["curves"].stat().st_size > 5000


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = write(tmp_path, '[base]\ndataset = "cifar10"\ndepth = 2\nwidth = 8\nepochs = 1\n[grid]\nseed = [0]\n')
    (result,) = sweep.sweep(spec, tmp_path / "out", progress=False)
    assert result["status"] == "failed" and "cifar10 needs root=DIR" in result["error"]
    (error,) = (tmp_path / "out").glob("*/error.txt")
    assert "DataError" in error.read_text()

    # the data given later (data_root is where the data lies, not what the run computes): the same folder takes
    # the run, and the failure it recorded goes once the run succeeds
    root = tmp_path / "data"
    (root / "cifar-10-batches-py").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, 4))}
        (root / "cifar-10-batches-py" / name).write_bytes(pickle.dumps(batch))
    (config,) = sweep.load_grid(spec)
    done = sweep._one(dataclasses.replace(config, data_root=str(root)), str(error.parent), 1)
    assert done["status"] == "ok" and not error.exists()
    saved = json.loads((error.parent / "config.json").read_text())
    assert saved["config"]["data_root"] == str(root) and saved["identity"]["data_root"] is None
    assert sweep.run_name(config) == error.parent.name  # the folder keeps its name


def test_sweep_file_and_out_errors_are_one_line(tmp_path):
    spec = write(tmp_path, '[base]\ndataset = "synthetic"\n')
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"--out .*afile is a file"):
        sweep.sweep(spec, tmp_path / "afile", progress=False)
    with pytest.raises(ValueError, match="cannot read sweep file"):
        sweep.load_grid(tmp_path)
    assert (tmp_path / "afile").read_text() == "x"
    # a folder holding one run, or files of the user's without a sweep.toml, is not this sweep's folder
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"--out .*run holds a single run"):
        sweep.sweep(spec, tmp_path / "run", progress=False)
    (tmp_path / "mine" / "notes").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"--out .*mine holds files but no sweep\.toml"):
        sweep.sweep(spec, tmp_path / "mine", progress=False)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes"]


def test_a_model_that_cannot_take_the_data_is_refused_before_any_run(tmp_path):
    """vgg11 has 4 max-pools, so 8×8 synthetic images are too small: the sweep stops before it writes anything,
    and a sweep folder that already holds runs keeps them."""
    spec = write(tmp_path, '[base]\ndataset = "synthetic"\nepochs = 1\n[grid]\nmodel = ["lenet5", "vgg11"]\n')
    with pytest.raises(ValueError, match=r"run vgg11-synthetic-.* cannot be built for synthetic: vgg11 needs images "
                                         r"of at least 16x16 .*no run was started"):
        sweep.sweep(spec, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    # the check builds the dense network for the data set's input shape, the shape the reader returns
    fits = write(tmp_path, '[base]\ndataset = "synthetic"\n[grid]\nmodel = ["lenet5", "resnet20", "cnn"]\n',
                 name="fits.toml")
    sweep.check_models_fit(sweep.load_grid(fits), fits)
    assert data.INPUT_SHAPES["synthetic"] == data.load("synthetic", "test").shape


def _state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a live process from /proc, None once it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (fields[0], int(fields[1]))


def _children(pid: int) -> list[int]:
    procs = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [k for k in procs if (_state(k) or ("", -1))[1] == pid]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list processes")
def test_killing_the_sweep_ends_its_workers(tmp_path):
    spec = write(tmp_path, SWEEP.replace("epochs = 1", "epochs = 500").replace("width = 32", "width = 256"))
    parent = subprocess.Popen([sys.executable, "-m", "sparseinit.cli", "sweep", str(spec), "--out",
                               str(tmp_path / "out"), "--workers", "2", "--threads", "1"],
                              env={**os.environ, "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((tmp_path / "out").glob("*/metrics.jsonl")):
        time.sleep(0.5)  # a worker has finished an epoch: the pool is up and training
    workers = _children(parent.pid)
    assert len(workers) >= 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_state(w) for w in workers):
        time.sleep(0.5)
    alive = [w for w in workers if _state(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert alive == [], "sweep workers outlived the killed sweep"


EXPERIMENTS = sorted((Path(__file__).parents[2] / "experiments").glob("*/*.toml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_experiment_loads_and_names_its_command(path):
    """Each config in experiments/ expands to a non-empty grid and its header holds the command that runs it."""
    configs = sweep.load_grid(path)
    assert configs
    assert len({sweep.run_name(c) for c in configs}) == len(configs)  # no two runs share a folder
    sweep.check_models_fit(configs, path)  # every run's network takes its data set's inputs
    header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    assert f"experiments/{path.parent.name}/{path.name}" in header
