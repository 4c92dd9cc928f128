"""Per-layer budgets: each rule's realised total is exactly T, caps respected, the rule itself against an
independent computation (ERK's ε by root finding, EPL's leftover, EPF ∝ C_out, uniform ≈ d·|W|)."""

import math

import pytest
from scipy.optimize import brentq

from sparseinit.pruning.budgets import BUDGETS, layer_budgets, total_budget

LENET5 = [(6, 1, 5, 5), (16, 6, 5, 5), (120, 16, 5, 5), (84, 120), (10, 84)]
VGGISH = [(16, 3, 3, 3), (32, 16, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (10, 64)]
MLP = [(300, 784), (100, 300), (10, 100)]
DENSITIES = [1e-4, 1e-3, 1e-2, 0.1, 0.3, 0.7, 1.0]


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("shapes", [LENET5, VGGISH, MLP])
@pytest.mark.parametrize("density", DENSITIES)
def test_realised_density_is_the_one_asked(budget, shapes, density):
    sizes = [math.prod(s) for s in shapes]
    counts = layer_budgets(shapes, density, budget)
    assert all(isinstance(c, int) and 0 <= c <= n for c, n in zip(counts, sizes, strict=True))
    assert sum(counts) == max(1, round(density * sum(sizes))) == total_budget(density, sizes)


@pytest.mark.parametrize("density", DENSITIES)
def test_uniform(density):
    sizes = [math.prod(s) for s in VGGISH]
    for c, n in zip(layer_budgets(VGGISH, density, "uniform"), sizes, strict=True):
        assert abs(c - density * n) < 1


def test_epl_equal_then_leftover_to_last():
    sizes = [math.prod(s) for s in LENET5]
    t = total_budget(0.01, sizes)
    counts = layer_budgets(LENET5, 0.01, "epl")
    assert counts[:-1] == [t // 5] * 4 and counts[-1] == t - 4 * (t // 5)
    # at 0.1 the 150-weight first layer saturates and so does the last (840): the leftover goes backwards
    counts = layer_budgets(LENET5, 0.1, "epl")
    t = total_budget(0.1, sizes)
    share = t // 5
    assert counts[0] == 150 and counts[1] == counts[2] == share and counts[-1] == 840
    assert counts[3] == t - 150 - 2 * share - 840


def erk_reference(shapes, density):
    sizes = [math.prod(s) for s in shapes]
    t = total_budget(density, sizes)
    raw = [sum(s) for s in shapes]

    def excess(eps):
        return sum(min(n, eps * r) for n, r in zip(sizes, raw, strict=True)) - t

    eps = brentq(excess, 0.0, max(sizes) * 10.0, xtol=1e-12)
    return [min(n, eps * r) for n, r in zip(sizes, raw, strict=True)]


@pytest.mark.parametrize("shapes", [LENET5, VGGISH, MLP])
@pytest.mark.parametrize("density", [1e-3, 1e-2, 0.1, 0.5])
def test_erk_renormalised_epsilon(shapes, density):
    reference = erk_reference(shapes, density)
    counts = layer_budgets(shapes, density, "erk")
    for c, ref in zip(counts, reference, strict=True):
        assert abs(c - ref) < 1


def test_epf_proportional_to_filters():
    counts = layer_budgets(VGGISH, 0.01, "epf")
    t = sum(counts)
    filters = [s[0] for s in VGGISH]
    for c, f in zip(counts, filters, strict=True):
        assert abs(c - t * f / sum(filters)) < 1


@pytest.mark.parametrize("density", [0.0, -1.0, 1.01, float("inf")])
def test_bad_density(density):
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        layer_budgets(MLP, density, "epl")


def test_bad_budget():
    with pytest.raises(ValueError, match="unknown budget 'dense'; choose one of epl, uniform, epf, erk"):
        layer_budgets(MLP, 0.1, "dense")


@pytest.mark.parametrize(("shapes", "match"), [
    ([(10, -20)], r"^every entry of shapes\[0\] must be an integer >= 1, got -20"),  # was a budget of -200
    ([(4, 4), (0, 0)], r"^every entry of shapes\[1\] must be an integer >= 1, got 0"),
    ([10, 20], r"^shapes\[0\] must be a weight shape, \(out, in\) or \(C_out, C_in/g, k_h, k_w\), got 10"),
    ([(4, 4, 3)], r"^shapes\[0\] must be a weight shape"),
    ([(4, 2.5)], r"^every entry of shapes\[0\] must be an integer >= 1, got 2\.5"),
])
@pytest.mark.parametrize("budget", BUDGETS)
def test_bad_shapes(shapes, match, budget):
    with pytest.raises(ValueError, match=match):
        layer_budgets(shapes, 0.1, budget)


def test_erk_weighs_a_grouped_convolution_by_its_weight_dimensions():
    # (C_out, C_in/g, k_h, k_w): the sum of the weight's dimensions, C_in/g for a grouped (here depthwise) layer
    shapes = [(64, 1, 3, 3), (10, 64)]
    counts = layer_budgets(shapes, 0.05, "erk")
    assert counts[0] / counts[1] == pytest.approx((64 + 1 + 3 + 3) / (10 + 64), abs=0.02)
