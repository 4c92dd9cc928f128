"""Monte Carlo through real finite-width torch layers: measured per-layer variance and sparsity follow V."""

import numpy as np
import pytest
from scipy.stats import norm

from sparseinit import edge_of_chaos, propagate_network


def one_step_ratios(point, seeds=12, depth=5, width=2000):
    """q^{l+1} / V(q^l) per layer, measured q^l, for independent networks (rows) started off the fixed point."""
    rows = []
    for seed in range(seeds):
        run = propagate_network(point, 1.6 * point.q_star, depth=depth, width=width, n_inputs=16, seed=seed)
        rows.append(run.variance[1:] / point.variance_map(run.variance[:-1]))
    return np.array(rows)


@pytest.mark.parametrize("name,m", [("crelu", 1.0), ("cst", 0.7), ("relu_tau", None)])
def test_measured_variance_follows_the_variance_map(name, m):
    p = edge_of_chaos(name, 0.8, m=m)
    ratios = one_step_ratios(p)
    mean, sem = ratios.mean(axis=0), ratios.std(axis=0, ddof=1) / np.sqrt(len(ratios))
    # within sampling error: 4 standard errors of the mean over independent networks (plus 0.3% finite-width slack)
    assert np.all(np.abs(mean - 1.0) < 4 * sem + 0.003), (mean, sem)
    assert np.all(sem < 0.01)  # and the test has the power to see a 4% error in V


def test_measured_sparsity_and_trajectory_follow_the_theory():
    p = edge_of_chaos("crelu", 0.8, m=1.0)
    runs = [propagate_network(p, 1.6, depth=8, width=2000, seed=s) for s in range(6)]
    variance = np.mean([r.variance for r in runs], axis=0)
    sparsity = np.mean([r.sparsity for r in runs], axis=0)
    np.testing.assert_allclose(variance, runs[0].theory_variance, rtol=0.03)
    np.testing.assert_allclose(sparsity, p.zero_fraction(variance), atol=0.01)
    # the predicted sparsity along the trajectory: crelu is zero below τ, so P(z < τ) for z ~ N(0, q^l)
    np.testing.assert_allclose(runs[0].theory_sparsity, norm.cdf(p.tau / np.sqrt(runs[0].theory_variance)),
                               rtol=1e-10)
    np.testing.assert_allclose(sparsity, runs[0].theory_sparsity, atol=0.01)
    assert runs[0].theory_sparsity[0] < 0.75 < 0.79 < runs[0].theory_sparsity[-1]  # started at 1.6 q*: it moves


def test_a_wrong_map_would_be_caught():
    p = edge_of_chaos("crelu", 0.8, m=1.0)
    ratios = one_step_ratios(p) / 1.04  # as if V were 4% too high
    mean, sem = ratios.mean(axis=0), ratios.std(axis=0, ddof=1) / np.sqrt(len(ratios))
    assert not np.all(np.abs(mean - 1.0) < 4 * sem + 0.003)


def test_instability_from_above():
    """[A] §3: started above q*, ReLU_τ on the EoC runs away and loses sparsity; CReLU comes back."""
    unclipped = propagate_network(edge_of_chaos("relu_tau", 0.85), 2.0, depth=40, width=500, seed=0)
    clipped = propagate_network(edge_of_chaos("crelu", 0.85, m=1.0), 2.0, depth=40, width=500, seed=0)
    assert unclipped.variance[-1] > 1e6 and unclipped.sparsity[-1] < 0.6
    assert clipped.variance[-1] == pytest.approx(1.0, rel=0.2) and clipped.sparsity[-1] == pytest.approx(0.85, abs=0.03)


def test_bad_arguments():
    p = edge_of_chaos("crelu", 0.85)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[1, 100000\], got 0"):
        propagate_network(p, 1.0, depth=0)
    with pytest.raises(ValueError, match=r"q0 must be in \(0, 1e\+12\]"):
        propagate_network(p, -1.0)
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, 16384\], got 10000000000"):
        propagate_network(p, 1.0, width=10**10)  # refused before torch tries to allocate it
    with pytest.raises(ValueError, match=r"n_inputs must be an integer in \[1, 65536\], got 2.5"):
        propagate_network(p, 1.0, n_inputs=2.5)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 4294967295\]"):
        propagate_network(p, 1.0, seed=10**23)
