"""The [A]-CNN comparison over seeds 0-7: seeds 0-6 from table_equivalence.txt, seed 7 from its committed table.

The run folders of seeds 0-6 (runs/a_cnn/..., git-ignored) did not survive into the session that ran seed 7
(experiments/a_cnn/width32_flatten_batch32_epochs20_seed7.toml), so `sparseinit report` cannot pool them. Their
test accuracies are in results/a_cnn/table_equivalence.txt, written by table_equivalence.py from those folders'
summary.json files; on 10,000 test images a test accuracy is a multiple of 0.01 %, so the two decimals printed there
are exact. Seed 7's are read from width32_flatten_batch32_epochs20_seed7/runs_transcribed.csv (its one-seed
table.md, where the mean is the run). This script pairs each crelu / cst seed with ReLU's and prints the table
`sparseinit report` writes to gaps.md (paired gap mean, std, Student-t 95 % interval, seeds within 1.5 points), and
the same over the seeds that train (test accuracy >= 15 %; chance is 10 %).

With ``--replace DIR ...`` the finished runs in those sweep folders take the place of the same activation and seed
(crelu_min_selective_seeds015.toml: crelu seeds 0, 1 and 5 redrawn under min_selective = 0.1). With ``--add DIR ...``
the finished runs in those folders join as further seeds (min_selective_seeds12to15.toml: crelu and ReLU); a seed
enters an activation's row when that activation and ReLU both finished it, and runs still going are named and left out.
Either takes a CSV file in place of a folder: the runs.csv that `sparseinit report` writes (rows not finished are
left out as above), or a runs_transcribed.csv (activation, seed, test_accuracy, source) committed for sweeps whose
run folders are gone and whose report predates runs.csv: each row names the committed table it was copied from.

Run (from a fresh clone: every input is committed):
     .venv/bin/python experiments/a_cnn/seeds0to7.py > results/a_cnn/width32_flatten_batch32_epochs20_seeds0to7/gaps.md
     .venv/bin/python experiments/a_cnn/seeds0to7.py \
         --replace results/a_cnn/crelu_min_selective_seeds015/runs_transcribed.csv \
         > results/a_cnn/crelu_min_selective_seeds0to7/gaps.md
     .venv/bin/python experiments/a_cnn/seeds0to7.py \
         --replace results/a_cnn/crelu_min_selective_seeds015/runs_transcribed.csv \
         --add results/a_cnn/min_selective_seeds12to15/runs_transcribed.csv \
               results/a_cnn/min_selective_seeds8to11/runs.csv \
         --plot results/a_cnn/crelu_min_selective_pooled/gaps.png \
         > results/a_cnn/crelu_min_selective_pooled/gaps.md
"""

import argparse
import csv
import json
import math
import re
import statistics
from pathlib import Path

from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENCE = ROOT / "results/a_cnn/table_equivalence.txt"
SEED7 = ROOT / "results/a_cnn/width32_flatten_batch32_epochs20_seed7/runs_transcribed.csv"
WITHIN = 1.5

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--replace", nargs="+", type=Path, default=[], metavar="DIR",
                    help="sweep folders (or CSV files of runs) whose finished runs replace the same activation and "
                         "seed")
parser.add_argument("--add", nargs="+", type=Path, default=[], metavar="DIR",
                    help="sweep folders (or CSV files of runs) whose finished runs join as further seeds (runs "
                         "still going are left out)")
parser.add_argument("--plot", type=Path, metavar="FILE.png",
                    help="also draw each seed's paired gap against ReLU, with each row's mean and 95 %% interval "
                         "(an existing file is not overwritten)")
arguments = parser.parse_args()
if arguments.plot is not None and arguments.plot.exists():
    raise SystemExit(f"--plot: {arguments.plot} exists; remove it or choose another file")
replace, add = arguments.replace, arguments.add
left_out: list[str] = []


def _listed_runs(table: Path, partial: bool) -> dict[tuple[str, int], float]:
    """Test accuracy by (activation, seed) from a CSV of runs (report's runs.csv, or a runs_transcribed.csv)."""
    found = {}
    with table.open(newline="") as handle:
        for number, line in enumerate(csv.DictReader(handle), 2):
            status, done, epochs = line.get("status"), line.get("epochs_done"), line.get("epochs")
            if (status is not None and status != "ok") or (done and epochs and done != epochs):
                if not partial:
                    raise SystemExit(f"{table} line {number}: not a finished run")
                left_out.append(line.get("run") or f"{line['activation']} seed {line['seed']}")
                continue
            key = (line["activation"], int(line["seed"]))
            if key in found:
                raise SystemExit(f"{table} line {number}: {key[0]} seed {key[1]} is listed twice")
            found[key] = float(line["test_accuracy"])
    if not found:
        raise SystemExit(f"{table}: no finished run")
    return found


def finished_runs(folder: Path, partial: bool = False) -> dict[tuple[str, int], float]:
    """Test accuracy of each run in a sweep folder (or CSV of runs) by (activation, seed); unfinished runs: an
    error, or skipped."""
    if folder.suffix == ".csv":
        return _listed_runs(folder, partial)
    found = {}
    for run in sorted(path for path in folder.iterdir() if path.is_dir()):
        summary_path = run / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
        if summary is None or summary["status"] != "ok" or summary["epochs_done"] != summary["epochs"]:
            if not partial:
                raise SystemExit(f"{run}: not a finished run")
            left_out.append(run.name)
            continue
        found[summary["activation"], summary["seed"]] = summary["test_accuracy"]
    if not found:
        raise SystemExit(f"{folder}: no finished run")
    return found


accuracy: dict[tuple[str, int], float] = {}
for line in EQUIVALENCE.read_text().splitlines():
    found = re.match(r"(relu|crelu|cst)\s+seed (\d+):.*?\s([\d.]+) %", line)
    if found:
        accuracy[found[1], int(found[2])] = float(found[3])
accuracy.update(finished_runs(SEED7))
replaced = {}
for folder in replace:
    replaced.update(finished_runs(folder))
accuracy.update(replaced)
base_seeds = sorted({seed for (_, seed) in accuracy})
missing = [(name, seed) for name in ("relu", "crelu", "cst") for seed in base_seeds if (name, seed) not in accuracy]
if missing:
    raise SystemExit(f"no test accuracy for {missing}")
added = {}
for folder in add:
    added.update(finished_runs(folder, partial=True))
clash = sorted(set(added) & set(accuracy))
if clash:
    raise SystemExit(f"--add: {clash[0][0]} seed {clash[0][1]} is already in the table (use --replace)")
accuracy.update(added)


def mean_std(values: list[float]) -> str:
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


print(f"Seeds {base_seeds[0]}-{base_seeds[-1]}: {EQUIVALENCE.relative_to(ROOT)} (seeds 0-6) and "
      f"{SEED7.relative_to(ROOT)} (seed 7)" + ("" if not replaced else ", with " + ", ".join(
          f"{name} seed {seed}" for name, seed in sorted(replaced)) + " from " + ", ".join(map(str, replace)))
      + ("" if not added else "; added: " + ", ".join(f"{name} seed {seed}" for name, seed in sorted(added))
         + " from " + ", ".join(map(str, add)))
      + ("" if not left_out else "; not finished, left out: " + ", ".join(left_out)) + "\n")
print("| activation | m | sparsity | seeds | test acc. (%) | relu (%) | gap (points) | paired std | 95 % interval "
      "| seeds within 1.5 | per seed |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
CHANCE = 15.0  # a run that ends below this (10 classes: chance is 10 %) did not train


def paired(name: str, picked: list[int]) -> tuple[list[float], float, float]:
    """Each seed's gap (points, activation − ReLU), their mean and the half-width of its Student-t 95 % interval."""
    gaps = [accuracy[name, seed] - accuracy["relu", seed] for seed in picked]
    return gaps, statistics.fmean(gaps), float(stats.t.ppf(0.975, len(gaps) - 1)) * statistics.stdev(gaps) / math.sqrt(
        len(gaps))


def row(label: str, name: str, picked: list[int]) -> str:
    sparse = [accuracy[name, seed] for seed in picked]
    relu = [accuracy["relu", seed] for seed in picked]
    gaps, gap, half = paired(name, picked)
    std, n = statistics.stdev(gaps), len(gaps)
    within = sum(g >= -WITHIN for g in gaps)
    return (f"| {label} | 1 | 0.85 | {n} | {mean_std(sparse)} | {mean_std(relu)} | {gap:.2f} | {std:.2f} | "
            f"{gap - half:.2f} … {gap + half:+.2f} | {within} of {n} | {' / '.join(f'{g:.2f}' for g in gaps)} |")


pooled = {}
for name in ("crelu", "cst"):
    seeds = sorted(seed for (key, seed) in accuracy if key == name and ("relu", seed) in accuracy)
    pooled[name] = seeds
    label = name if seeds == base_seeds else f"{name}, seeds {', '.join(map(str, seeds))}"
    print(row(label, name, seeds))
    new = [seed for seed in seeds if (name, seed) in added]
    if len(new) >= 2:
        print(row(f"{name}, added seeds {', '.join(map(str, new))} only", name, new))
    trained = [seed for seed in seeds if accuracy[name, seed] >= CHANCE]
    if len(trained) < len(seeds):
        print(row(f"{name}, seeds {', '.join(map(str, trained))} (the ones that train)", name, trained))


def plot(path: Path) -> None:
    """Each seed's paired gap (filled: the base seeds and --replace; open: --add), each activation's mean with its
    95 % interval at the right, and the target's −1.5 points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    right = max(max(seeds) for seeds in pooled.values()) + 1.5
    for offset, (name, colour) in zip((-0.12, 0.12), (("crelu", "tab:blue"), ("cst", "tab:orange")), strict=True):
        seeds = pooled[name]
        gaps, gap, half = paired(name, seeds)
        for seed, value in zip(seeds, gaps, strict=True):
            ax.plot(seed + offset, value, "o", color=colour, mfc="white" if (name, seed) in added else colour, ms=6)
        ax.errorbar(right + offset, gap, yerr=half, fmt="s", color=colour, capsize=4,
                    label=f"{name}: {len(seeds)} seeds, mean {gap:.2f} ({gap - half:.2f} … {gap + half:+.2f})")
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(-WITHIN, color="black", ls="--", lw=0.9, label=f"target: within {WITHIN} points of ReLU")
    ax.set_xticks([*sorted({seed for seeds in pooled.values() for seed in seeds}), right],
                  [*map(str, sorted({seed for seeds in pooled.values() for seed in seeds})), "mean"])
    ax.set_xlabel("seed (open: seeds added with --add)")
    ax.set_ylabel("test accuracy − ReLU's (points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if arguments.plot is not None:
    plot(arguments.plot)
