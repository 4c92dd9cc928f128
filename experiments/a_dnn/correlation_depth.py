"""How alike do two inputs look at depth 100? The GP correlation map iterated (results/a_dnn/correlation_depth.txt)

crelu / cst at 85 % zeros train far slower than ReLU at depth 100 (results/a_dnn/README.md), and at initialisation
the input-dependent part of their last hidden layer is ≤ 0.03 % of its second moment against 5–8 % for ReLU
(results/recipe/diag_correlation.txt). This asks what the infinite-width theory predicts for that, with no network:
two inputs at q* with correlation ρ⁰ = 0.5, ρ^{l+1} = R(ρ^l) (SPEC §2), for every EoC point of the [A]-DNN grid.

Columns: V'(q*); σ_b²/q* (the share of each pre-activation's variance that is a per-unit constant, the same for
every input); 1 − ρ^l at l = 1, 10, 50, 100; 1 − ρ^100 relative to ReLU's; and l²(1 − ρ^l) at l = 100, which on
the EoC tends to the constant 4/c² of R(ρ) ≈ ρ + c(1−ρ)^{3/2} (ReLU: 9π²/2 ≈ 44.4 as l → ∞).

Second table: the ReLU-equivalent depth — for each clipped point (m = 1) and depth l, the depth at which ReLU's
1 − ρ first falls to this point's 1 − ρ^l: the depth of a ReLU network whose inputs are as alike as this one's at
depth l (the depth sweep of results/a_dnn/README.md trains l = 20, 30, 40, 60, 100).

Run: OMP_NUM_THREADS=1 .venv/bin/python experiments/a_dnn/correlation_depth.py > results/a_dnn/correlation_depth.txt
"""

import numpy as np

from sparseinit import edge_of_chaos

RHO0 = 0.5
DEPTHS = (1, 10, 50, 100)
SWEEP_DEPTHS = (20, 30, 40, 60, 100)
POINTS = [
    ("relu", None, None),
    *[(a, s, 1.0) for a in ("crelu", "cst") for s in (0.5, 0.7, 0.8, 0.85, 0.9)],
    *[(a, 0.85, m) for a in ("crelu", "cst") for m in (0.5, 1.5, 2.0, 3.0)],
    ("relu_tau", 0.85, None),
    ("st", 0.85, None),
]


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print(f"rho0 = {RHO0}; q* = 1\n")
    head = f"{'activation':9s} {'s':>5s} {'m':>4s} {'V_slope':>7s} {'sb2/q*':>6s}"
    head += "".join(f" {'1-rho@' + str(d):>11s}" for d in DEPTHS) + f" {'vs relu@100':>11s} {'l^2(1-rho)':>10s}"
    print(head)
    relu_gap = None
    for name, s, m in POINTS:
        point = edge_of_chaos(name) if s is None else edge_of_chaos(name, s, **({} if m is None else {"m": m}))
        rhos = point.propagate_correlation(RHO0, max(DEPTHS))
        gaps = [1 - rhos[d] for d in DEPTHS]
        relu_gap = gaps[-1] if relu_gap is None else relu_gap
        row = f"{name:9s} {point.sparsity:5.2f} {'-' if m is None else f'{m:4.1f}':>4s} {point.slope:7.3f}"
        row += f" {point.sigma_b2 / point.q_star:6.2f}"
        row += "".join(f" {g:11.2e}" for g in gaps)
        row += f" {gaps[-1] / relu_gap:11.2f} {max(DEPTHS) ** 2 * gaps[-1]:10.2f}"
        print(row)

    relu_gaps = 1 - edge_of_chaos("relu").propagate_correlation(RHO0, 5000)
    print(f"\nReLU-equivalent depth (first ReLU depth with 1 - rho <= this point's 1 - rho^l)\n{'activation':9s} "
          f"{'s':>5s}" + "".join(f" {'l=' + str(d):>6s}" for d in SWEEP_DEPTHS))
    for name, s, m in POINTS:
        if s is None or m != 1.0:
            continue
        gaps = 1 - edge_of_chaos(name, s, m=m).propagate_correlation(RHO0, max(SWEEP_DEPTHS))
        print(f"{name:9s} {s:5.2f}" + "".join(f" {int(np.argmax(relu_gaps <= gaps[d])):6d}" for d in SWEEP_DEPTHS))


if __name__ == "__main__":
    main()
