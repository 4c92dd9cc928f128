"""Every depth-100 MLP set-up on the 60-epoch budget, side by side (depth100_ladder.txt / .png)

Collects the committed runs (results/*/**/runs.csv) of MNIST MLPs of depth 100 and width 300 trained for 60 epochs,
finds each run's full configuration by its name in the committed sweep configs (experiments/**/*.toml; a run's name
ends in a hash of its configuration; for a sweep reported before `report` wrote runs.csv, its table.md where that
holds a single run of the activation), groups the runs by what differs between set-ups (activation, q*, clip mode,
softmax temperature, learning rate, per-group learning-rate scales) and prints, for each set-up, the test accuracy of
every seed, the mean ± std over seeds and the gap to ReLU's mean on the same budget. Target (i) of issue 3 is a gap
within 1.5 points. Nothing is trained: it reads what the sweeps wrote.

Run: .venv/bin/python experiments/a_dnn/depth100_ladder.py > results/a_dnn/depth100_ladder.txt
(also draws results/a_dnn/depth100_ladder.png, or --plot PATH)
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from sparseinit.figures import plt, save_figure  # the non-interactive (Agg) back end set there
from sparseinit.training.config import TrainConfig
from sparseinit.training.sweep import load_grid, run_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = TrainConfig()
TARGET = 1.5
COLOURS = {"relu": "tab:gray", "crelu": "tab:blue", "cst": "tab:orange"}


def configs_by_name() -> dict[str, tuple[TrainConfig, str]]:
    """Every run name of every committed sweep config -> (its configuration, the config file)."""
    found = {}
    for path in sorted((ROOT / "experiments").rglob("*.toml")):
        for config in load_grid(path):
            found[run_name(config)] = (config, str(path.relative_to(ROOT)))
    return found


def accuracies_by_run() -> dict[str, float]:
    """Run name -> test accuracy (%) of every finished run in a committed runs.csv."""
    found = {}
    for path in sorted((ROOT / "results").rglob("runs.csv")):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("status") == "ok" and row.get("test_accuracy"):
                    found[row["run"].rsplit("/", 1)[-1]] = float(row["test_accuracy"])
    return found


def single_run_accuracy(source: str, config: TrainConfig) -> float | None:
    """A run's test accuracy from its sweep's committed table.md, where that table has one row for its activation,
    over one seed, and the sweep ran one config of that activation (reports older than runs.csv)."""
    table = ROOT / "results" / Path(source).relative_to("experiments").with_suffix("") / "table.md"
    same = [c for c in load_grid(ROOT / source) if c.activation == config.activation]
    if not table.exists() or len(same) != 1:
        return None
    lines = [line.strip().strip("|").split("|") for line in table.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0]]
    rows = [dict(zip(header, (cell.strip() for cell in line), strict=True)) for line in lines[2:]]
    rows = [row for row in rows if row.get("activation") == config.activation]
    if len(rows) != 1 or rows[0].get("seeds") != "1":
        return None
    return float(rows[0]["test acc. (%)"])


def setup_label(config: TrainConfig) -> str:
    """What sets a run's set-up apart: activation, then every option that differs from the plain one."""
    parts = [config.activation]
    if config.q_star != 1.0:
        parts.append(f"q*={config.q_star:g}" + (" (clip relative)" if config.clip == "relative" else ""))
    if config.logit_scale != 1.0:
        parts.append(f"logits x{config.logit_scale:g}")
    parts.append(("" if config.optimizer == "sgd" else f"{config.optimizer} ") + f"lr {config.lr:g}"
                 + (f" (cosine to {config.min_lr:g})" if config.min_lr else ""))
    for field, name in (("bias_lr_scale", "bias lr"), ("first_layer_lr_scale", "first-layer lr")):
        if getattr(config, field) != getattr(DEFAULTS, field):
            parts.append(f"{name} x{getattr(config, field):g}")
    return ", ".join(parts)


def is_depth100_budget60(config: TrainConfig) -> bool:
    plain = (config.dataset, config.model, config.depth, config.width, config.epochs) == ("mnist", "mlp", 100, 300, 60)
    sparse = config.activation == "relu" or (config.sparsity == 0.85 and config.m in (None, 1.0))
    return plain and sparse and config.train_subset is None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=Path, default=ROOT / "results/a_dnn/depth100_ladder.png",
                        help="where to draw the figure (default: results/a_dnn/depth100_ladder.png)")
    plot = parser.parse_args().plot
    configs, accuracies = configs_by_name(), accuracies_by_run()
    groups: dict[str, dict[int, float]] = defaultdict(dict)
    missing: dict[str, list[str]] = defaultdict(list)
    for name, (config, source) in configs.items():
        if not is_depth100_budget60(config):
            continue
        accuracy = accuracies.get(name, single_run_accuracy(source, config))
        if accuracy is not None:
            groups[setup_label(config)][config.seed] = accuracy
        else:
            missing[source].append(f"{setup_label(config)}, seed {config.seed}")
    relu = [label for label in groups if label.startswith("relu")]
    if len(relu) != 1:
        raise SystemExit(f"expected one ReLU set-up on the 60-epoch budget, found {relu}")
    relu_mean = float(np.mean(list(groups[relu[0]].values())))
    order = sorted(groups, key=lambda label: np.mean(list(groups[label].values())))

    print(__doc__.split("\n\n")[0])
    print("MNIST MLP depth 100, width 300, s = 0.85, m = 1, SGD momentum 0.9, one-epoch warm-up, cosine over 60 epochs,"
          f" grad-norm clip 1, batch 128; gap against ReLU's mean {relu_mean:.2f} %\n")
    print(f"{'set-up':<56s} {'test accuracy by seed (%)':<34s} {'mean ± std':>14s} {'gap':>7s}")
    for label in reversed(order):
        by_seed = groups[label]
        values = np.array(list(by_seed.values()))
        seeds = "  ".join(f"{seed}: {by_seed[seed]:.2f}" for seed in sorted(by_seed))
        spread = f"{values.mean():6.2f} ± {values.std(ddof=1):4.2f}" if len(values) > 1 else f"{values.mean():6.2f}"
        print(f"{label:<56s} {seeds:<34s} {spread:>14s} {values.mean() - relu_mean:+7.2f}")
    print("\nIn a committed sweep config but not in any committed runs.csv (not run yet, or running):")
    for source, runs in sorted(missing.items()):
        print(f"  {source}: {'; '.join(runs)}")

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.2))
    ax.axvspan(relu_mean - TARGET, relu_mean, color="tab:green", alpha=0.15,
               label=f"within {TARGET} of ReLU (target (i))")
    for row, label in enumerate(order):
        values = list(groups[label].values())
        colour = COLOURS[label.split(",")[0]]
        ax.scatter(values, [row] * len(values), s=18, color=colour, zorder=3)
        ax.plot([np.mean(values)] * 2, [row - 0.3, row + 0.3], color="black", lw=1.5, zorder=4)
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_xlabel("test accuracy (%): dots are seeds, bars their mean")
    ax.set_title("MNIST MLP, depth 100, width 300, s = 0.85, 60 epochs")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, plot)


if __name__ == "__main__":
    main()
