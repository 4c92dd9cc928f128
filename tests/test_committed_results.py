"""Committed result tables that are computed from other committed files regenerate from a fresh clone."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
A_CNN = "results/a_cnn"
POOL = [sys.executable, "experiments/a_cnn/seeds0to7.py"]
REPLACE = ["--replace", f"{A_CNN}/crelu_min_selective_seeds015/runs_transcribed.csv"]
ADD = ["--add", f"{A_CNN}/min_selective_seeds12to15/runs_transcribed.csv"]
if (ROOT / A_CNN / "min_selective_seeds8to11/runs.csv").exists():
    ADD.append(f"{A_CNN}/min_selective_seeds8to11/runs.csv")


@pytest.mark.parametrize(("arguments", "table"), [
    ([], "width32_flatten_batch32_epochs20_seeds0to7"),
    (REPLACE, "crelu_min_selective_seeds0to7"),
    (REPLACE + ADD, "crelu_min_selective_pooled"),
])
def test_the_a_cnn_seed_pools_regenerate(arguments, table):
    printed = subprocess.run(POOL + arguments, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    committed = (ROOT / A_CNN / table / "gaps.md").read_text()
    # the first line names the inputs (run folders when the table was first written); the table itself must match
    assert printed.splitlines()[1:] == committed.splitlines()[1:]
    assert printed.splitlines()[0].startswith("Seeds 0-7: ")


def test_the_pool_plot_is_written_once(tmp_path):
    figure = tmp_path / "gaps.png"
    subprocess.run([*POOL, *REPLACE, "--plot", str(figure)], cwd=ROOT, capture_output=True, check=True)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = subprocess.run([*POOL, "--plot", str(figure)], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 1 and "exists" in again.stderr and again.stderr.count("\n") == 1


def test_transcribed_runs_agree_with_the_tables_they_were_copied_from():
    """The per-seed figures copied from the README reproduce the committed one-seed tables and means."""
    import csv
    import statistics

    def listed(name: str) -> dict[tuple[str, int], float]:
        with (ROOT / A_CNN / name / "runs_transcribed.csv").open() as handle:
            return {(r["activation"], int(r["seed"])): float(r["test_accuracy"]) for r in csv.DictReader(handle)}

    def table_means(name: str) -> dict[str, str]:
        lines = (ROOT / A_CNN / name / "table.md").read_text().splitlines()
        column = [c.strip() for c in lines[0].strip("|").split("|")].index("test acc. (%)")
        return {cells[0]: cells[column].split(" ±")[0] for cells in
                ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}

    for name in ("width32_flatten_batch32_epochs20_seed7", "crelu_min_selective_seeds015", "min_selective_seeds12to15"):
        runs = listed(name)
        for activation, mean in table_means(name).items():
            seeds = [value for (act, _), value in runs.items() if act == activation]
            assert f"{statistics.fmean(seeds):.2f}" == mean, (name, activation)


def test_run_names_quoted_in_the_results_are_still_the_runs_the_experiment_files_ask_for():
    """A run's folder name ends in a hash of its options (TrainConfig.key): if that hash changed, every sweep
    folder written before would be a different sweep and no run in it could resume."""
    import re

    from sparseinit.training.sweep import load_grid, run_name

    asked = {run_name(config) for path in (ROOT / "experiments").rglob("*.toml") for config in load_grid(path)}
    quoted = set()
    for path in (ROOT / "results").rglob("*"):
        if path.suffix in (".md", ".txt", ".csv"):
            quoted |= set(re.findall(r"\b[a-z0-9_.]+(?:-[a-z0-9_.]+)*-seed\d+-[0-9a-f]{8}\b", path.read_text()))
    assert len(quoted) >= 20
    assert sorted(quoted - asked) == []


def test_the_depth100_ladder_regenerates(tmp_path):
    """results/a_dnn/depth100_ladder.txt is what its script prints from the committed runs.csv / configs."""
    figure = tmp_path / "ladder.png"
    printed = subprocess.run([sys.executable, "experiments/a_dnn/depth100_ladder.py", "--plot", str(figure)],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert printed == (ROOT / "results/a_dnn/depth100_ladder.txt").read_text()
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
