"""Does width give crelu back the gradient directions depth takes away? (results/a_dnn/jacobian_width.txt)

jacobian_depth.txt finds that at width 300 only ~25 of crelu's units (s = 0.85, m = 1) pass a gradient in some
layer, against ~130 for ReLU, and that the effective rank of J_l = ∂h^l/∂h^1 falls towards 1 with depth much
faster for crelu. If what sets it is depth against the number k of units that pass a gradient (the GP puts it at
P(τ < h < τ + m) n = 0.13 n for crelu, n/2 for ReLU), crelu at width 4n should look like ReLU at width n, at
every depth. This measures the same quantities as jacobian_depth.py (same networks, same definitions) for crelu
at widths 300 / 600 / 1200 and for ReLU at widths 75 / 150 / 300, on 3 seeds × 6 MNIST training images (fewer
than jacobian_depth.py: one width-1200 network of depth 100 costs ~100 GFLOP per input).

Also draws jacobian_width.png (next to the text file, or --plot PATH): effective rank and gain against depth over
the number of units that pass a gradient, one line per activation and width.

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/jacobian_width.py > results/a_dnn/jacobian_width.txt
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import sparseinit
from sparseinit.figures import save_figure

sys.path.insert(0, str(Path(__file__).parent))
from jacobian_depth import jacobian_stats  # the measurement itself, shared

SEEDS, INPUTS = 3, 6
DEPTHS = (10, 20, 40, 60, 100)
POINTS = [("relu", None, 75), ("relu", None, 150), ("relu", None, 300),
          ("crelu", 0.85, 300), ("crelu", 0.85, 600), ("crelu", 0.85, 1200)]


def plot(results: dict[tuple[str, int], np.ndarray], path: Path) -> None:
    """Effective rank and median gain against l / k (k: mean fewest units passing a gradient) per line."""
    import matplotlib.pyplot as plt

    fig, (rank_ax, gain_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, width), stats in results.items():
        k = stats[:, :, 1].mean(axis=0)
        x = np.array(DEPTHS) / k
        style = dict(marker="o" if name == "relu" else "s", linestyle="-" if name == "relu" else "--",
                     label=f"{name}, width {width}")
        rank_ax.plot(x, stats[:, :, 2].mean(axis=0), **style)
        gain_ax.plot(x, np.median(stats[:, :, 0], axis=0), **style)
    rank_ax.set(xscale="log", yscale="log", xlabel="depth / units passing a gradient",
                ylabel="effective rank of ∂h^l/∂h^1", title="directions that carry the gradient")
    gain_ax.set(xscale="log", yscale="log", xlabel="depth / units passing a gradient", ylabel="median ‖J‖²_F / n",
                title="typical squared gain (median over inputs)")
    for ax in (rank_ax, gain_ax):
        ax.grid(alpha=0.3)
    rank_ax.legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=Path, default=Path(__file__).parents[2] / "results/a_dnn/jacobian_width.png",
                        help="where to draw the figure (default: results/a_dnn/jacobian_width.png)")
    args = parser.parse_args()
    print(__doc__.split("\n\n")[0])
    print(f"{SEEDS} seeds x {INPUTS} MNIST training images; q* = 1, m = 1 for crelu\n")
    print(f"{'activation':10s} {'width':>5s} {'depth':>5s} {'median gain':>11s} {'rank bound':>10s} "
          f"{'bound/width':>11s} {'eff. rank':>9s}")
    results = {}
    for name, s, width in POINTS:
        eoc = sparseinit.edge_of_chaos(name) if s is None else sparseinit.edge_of_chaos(name, s, m=1.0)
        stats = np.concatenate([jacobian_stats(eoc, seed, DEPTHS, width, INPUTS) for seed in range(SEEDS)])
        results[(name, width)] = stats
        for k, d in enumerate(DEPTHS):
            gain = np.median(stats[:, k, 0])
            bound, eff = stats[:, k, 1:].mean(axis=0)
            print(f"{name:10s} {width:5d} {d:5d} {gain:11.3f} {bound:10.1f} {bound / width:11.3f} {eff:9.2f}",
                  flush=True)
    plot(results, args.plot)
    print(f"\nfigure: {args.plot.name}")


if __name__ == "__main__":
    main()
