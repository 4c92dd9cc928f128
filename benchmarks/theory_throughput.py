"""Throughput of the closed-form Gaussian maps versus adaptive quadrature, on the same inputs.

For crelu (τ = 1.03643, m = 1: the Edge of Chaos at sparsity 0.85, q* = 1, with its σ_w², σ_b²) evaluates
``sparseinit.theory.variance_map`` on q ∈ [0.1, 3] and ``correlation_map`` on ρ ∈ [−1, 1] through

    closed form   phi = PiecewiseLinear.from_name("crelu", τ, m)          (vectorised, exact)
    quadrature    phi = Elementwise(f, kinks=tuple(f.kinks))              (scipy quad, one value at a time)

and reports evaluations per second (median over repetitions), the speed-up, and the largest relative
difference between the two paths as a sanity check.

    .venv/bin/python benchmarks/theory_throughput.py --json results/benchmarks/theory_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy

from sparseinit import theory


def timed(fn, reps: int) -> tuple[float, np.ndarray]:
    """(median seconds over ``reps`` calls, result of the last call)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), np.asarray(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="values of q and of ρ for the closed form (default 200)")
    p.add_argument("--quad-n", type=int, default=200,
                   help="values for quadrature, an evenly spaced subset of the --n inputs (default 200)")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions, closed form (default 20)")
    p.add_argument("--quad-reps", type=int, default=3, help="timed repetitions, quadrature (default 3)")
    p.add_argument("--tau", type=float, default=1.03643)
    p.add_argument("--m", type=float, default=1.0)
    p.add_argument("--sigma-w2", type=float, default=7.74314, help="default: crelu EoC at sparsity 0.85")
    p.add_argument("--sigma-b2", type=float, default=0.621340, help="default: crelu EoC at sparsity 0.85")
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    p.add_argument("--overwrite", action="store_true", help="allow --json to replace an existing file")
    args = p.parse_args()
    if args.json and args.json.exists() and not args.overwrite:
        p.error(f"{args.json} exists; pass --overwrite to replace it")
    if not 1 <= args.quad_n <= args.n:
        p.error("--quad-n must be in [1, --n]")

    f = theory.PiecewiseLinear.from_name("crelu", args.tau, args.m)
    numeric = theory.Elementwise(f, kinks=tuple(f.kinks))
    sw2, sb2 = args.sigma_w2, args.sigma_b2
    inputs = {"variance_map": np.linspace(0.1, 3.0, args.n), "correlation_map": np.linspace(-1.0, 1.0, args.n)}
    subset = np.unique(np.linspace(0, args.n - 1, args.quad_n).round().astype(int))
    maps = {
        "variance_map": lambda phi, v: theory.variance_map(phi, v, sw2, sb2),
        "correlation_map": lambda phi, v: theory.correlation_map(phi, v, sw2, sb2, q=1.0),
    }

    rows = []
    print(f"{'map':<16} {'path':<11} {'n':>4} {'s/value':>10} {'values/s':>10} {'speed-up':>9} {'max rel diff':>12}")
    for name, fn in maps.items():
        x = inputs[name]
        fn(f, x[:2]), fn(numeric, x[:1])  # warm-up (imports, first-call overheads)
        t_cf, exact = timed(lambda fn=fn, x=x: fn(f, x), args.reps)
        t_q, approx = timed(lambda fn=fn, x=x: fn(numeric, x[subset]), args.quad_reps)
        ref = exact[subset]
        rel = float(np.max(np.abs(approx - ref) / np.maximum(np.abs(ref), 1e-300)))
        per_cf, per_q = t_cf / len(x), t_q / len(subset)
        row = {"map": name, "closed_form": {"n": len(x), "median_s": t_cf, "s_per_value": per_cf,
                                            "values_per_s": 1 / per_cf},
               "quadrature": {"n": len(subset), "median_s": t_q, "s_per_value": per_q, "values_per_s": 1 / per_q},
               "speedup": per_q / per_cf, "max_rel_diff": rel}
        rows.append(row)
        print(f"{name:<16} {'closed form':<11} {len(x):>4} {per_cf:>10.3g} {1 / per_cf:>10.4g}")
        print(f"{'':<16} {'quadrature':<11} {len(subset):>4} {per_q:>10.3g} {1 / per_q:>10.4g} "
              f"{per_q / per_cf:>8.0f}x {rel:>12.2e}")

    if args.json:
        config = {k: v for k, v in vars(args).items() if k not in ("json", "overwrite")}
        out = {"benchmark": "theory_throughput", "activation": f.describe(), "config": config,
               "numpy": np.__version__, "scipy": scipy.__version__, "python": platform.python_version(),
               "machine": platform.machine(), "cpu_count": os.cpu_count(),
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "results": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
