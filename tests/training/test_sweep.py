"""Sweeps: grid expansion with normalisation, typo'd keys, resumability; reports: the table's numbers."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    ('[grid]\nlr = ["fast"]\n', "s.toml: lr must be float, got 'fast'"),
    ('[grid]\nlr = 0.1\n', r"s.toml: grid.lr must be a non-empty list"),
    ('[runs]\nlr = 0.1\n', "unknown section 'runs'"),
    ('[base]\nlr = \n', "not valid TOML"),
    ('[base]\nlr = 0.1\n[grid]\nlr = [0.2]\n', "'lr' is in both"),
    ('[grid]\nlr = [0.2]\n[[variant]]\nlr = 0.1\n', "'lr' is in both \\[grid\\] and a \\[\\[variant\\]\\]"),
    ('[[variant]]\nlearning_rate = 0.1\n', "unknown key 'learning_rate'"),
    ('variant = 3\n', "variants must be"),
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
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep.sweep(write(tmp_path, SWEEP, "other.toml"), out, progress=False)

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


def test_report_errors(tmp_path):
    with pytest.raises(ValueError, match="no finished runs"):
        report.report(tmp_path)
    with pytest.raises(ValueError, match="is not a folder of runs"):
        report.report(tmp_path / "missing")


def _fake_run(folder, identity, accuracy, stored):
    import json

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"identity": identity}))
    (folder / "summary.json").write_text(json.dumps({"status": "ok", "test_accuracy": accuracy,
                                                     "train_sparsity": 0.5, "test_sparsity": 0.5,
                                                     "stored_bytes": stored}))


def test_report_pivots_c_runs_by_method_and_density(tmp_path):
    base = {"dataset": "mnist", "model": "lenet5", "activation": "relu", "sparsity": 0.5, "width_multiplier": 1.0,
            "offset": "dct", "budget": None,
            "prune_method": "random", "rigl": False, "density": None}
    runs = [({}, [98.0, 97.0], 4096), ({"density": 0.01, "offset": "none", "prune_method": "snip"}, [60.0, 70.0], 512),
            ({"density": 0.01, "budget": "epl"}, [90.0, 92.0], 600),
            ({"density": 0.1, "budget": "epl", "rigl": True}, [95.0, 95.0], 2048),
            ({"density": 0.01, "budget": "erk", "rigl": True}, [93.0, 95.0], 600)]
    for i, (change, accs, stored) in enumerate(runs):
        for seed, acc in enumerate(accs):
            _fake_run(tmp_path / f"r{i}s{seed}", {**base, **change, "seed": seed}, acc, stored)
    assert [report.method_label({**base, **c}) for c, _, _ in runs] == [
        "dense", "snip", "DCTpS (epl)", "DCTpS+RigL (epl)", "DCTpS+RigL (erk)"]
    paths = report.report(tmp_path)
    table = paths["density_table"].read_text().splitlines()
    assert "### mnist / lenet5" in table
    header = next(line for line in table if line.startswith("| method"))
    assert header == "| method | d = 0.1 | d = 0.01 |"
    snip = next(line for line in table if line.startswith("| snip |"))
    std = (2 * 5.0**2) ** 0.5  # sample std of 60 and 70
    assert snip == f"| snip | – | 65.00 ± {std:.2f} (2) · 0.5 KiB |"
    # d = 0.01: worst DCTpS (epl) 91 / best DCTpS+RigL (erk) 94 − snip 65; d = 0.1 has no plain run
    worst = next(line for line in table if line.startswith("| *margin: worst"))
    assert worst.endswith("| – | *+26.00* |")
    best = next(line for line in table if line.startswith("| *margin: best"))
    assert best.endswith("| – | *+29.00* |")
    dense = next(line for line in table if line.startswith("| dense |"))
    assert dense.count("97.50 ± 0.71 (2) · 4.0 KiB") == 2
    assert paths["accuracy_density"].stat().st_size > 5000


def test_table_shows_no_spread_for_one_seed_and_no_sparsity_when_all_diverged():
    rows = [{"identity": {"activation": "st"}, "test_accuracy": (9.79, 0.0), "seeds": 1, "diverged": 1.0,
             "train_sparsity": float("nan"), "test_sparsity": float("nan")},
            {"identity": {"activation": "relu"}, "test_accuracy": (95.17, 0.5), "seeds": 3, "diverged": 0.0,
             "train_sparsity": 0.5284, "test_sparsity": 0.5281}]
    lines = report.table_markdown(rows, ["activation"]).splitlines()
    assert lines[2] == "| st | 9.79 | 1 | 100% | – | – |"
    assert lines[3] == "| relu | 95.17 ± 0.50 | 3 | 0% | 0.528 | 0.528 |"


def test_report_plots_accuracy_against_depth_per_activation(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "width": 300, "q_star": 1.0}
    cells = {("relu", 0.5, 20): [97.0, 97.2], ("relu", 0.5, 100): [95.0, 95.4],
             ("crelu", 0.85, 100): [30.0, 34.0], ("crelu", 0.85, 20): [95.8, 95.8]}
    for (activation, sparsity, depth), accs in cells.items():
        for seed, acc in enumerate(accs):
            # crelu at depth 100 leaves m at its default, 1: it still groups with the runs that give m = 1
            m = None if activation == "relu" or (depth, seed) == (100, 0) else 1.0
            _fake_run(tmp_path / f"{activation}{depth}s{seed}", {**base, "activation": activation, "m": m,
                      "slope": None, "sparsity": sparsity, "depth": depth, "seed": seed}, acc, 0)
    rows, varying = report.aggregate(report.collect(tmp_path))
    # rows sort numbers by value: depth 20 before depth 100
    assert [(r["identity"]["activation"], r["identity"]["depth"]) for r in rows] == [
        ("crelu", 20), ("crelu", 100), ("relu", 20), ("relu", 100)]
    series = report.series_against(rows, "depth", varying)
    # sparsity varies too, so it names the series; each series is sorted by depth with mean and sample std
    assert set(series) == {"relu, m=–, sparsity=0.5", "crelu, m=1, sparsity=0.85"}
    (d1, m1, s1), (d2, m2, s2) = series["crelu, m=1, sparsity=0.85"]
    assert (d1, m1, d2, m2) == (20, pytest.approx(95.8), 100, pytest.approx(32.0))
    assert (s1, s2) == (pytest.approx(0.0, abs=1e-12), pytest.approx(8**0.5))
    assert [p[0] for p in series["relu, m=–, sparsity=0.5"]] == [20, 100]
    paths = report.report(tmp_path)
    assert paths["accuracy_depth"].stat().st_size > 5000
    # runs of one depth get no depth plot
    one = tmp_path / "one"
    _fake_run(one / "r", {**base, "activation": "relu", "sparsity": 0.5, "depth": 20, "seed": 0}, 97.0, 0)
    assert "accuracy_depth" not in report.report(one)


def test_report_joins_runs_from_other_folders_without_writing_there(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "activation": "relu", "sparsity": 0.5}
    _fake_run(tmp_path / "a" / "r0", {**base, "depth": 20, "seed": 0}, 97.0, 0)
    _fake_run(tmp_path / "b" / "r0", {**base, "depth": 100, "seed": 0}, 95.0, 0)
    _fake_run(tmp_path / "b" / "r1", {**base, "depth": 100, "seed": 1}, 94.0, 0)
    before = sorted(p.name for p in (tmp_path / "b").rglob("*"))
    # a single run folder and its parent both given: the run counts once
    paths = report.report(tmp_path / "a", also=[tmp_path / "b", tmp_path / "b" / "r1"])
    table = paths["table"].read_text()
    assert "| relu | 20 | 97.00 | 1 |" in table
    assert "| relu | 100 | 94.50 ± 0.71 | 2 |" in table
    assert sorted(p.name for p in (tmp_path / "b").rglob("*")) == before
    with pytest.raises(ValueError, match="missing \\(in also\\) is not a folder of runs"):
        report.report(tmp_path / "a", also=[tmp_path / "missing"])


EXPERIMENTS = sorted((Path(__file__).parents[2] / "experiments").glob("*/*.toml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_experiment_loads_and_names_its_command(path):
    """Each config in experiments/ expands to a non-empty grid and its header holds the command that runs it."""
    configs = sweep.load_grid(path)
    assert configs
    assert len({sweep.run_name(c) for c in configs}) == len(configs)  # no two runs share a folder
    header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    assert f"experiments/{path.parent.name}/{path.name}" in header
