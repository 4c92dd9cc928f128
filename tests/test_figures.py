"""Figures plot what their titles say: the lines' data against the maps and runs they were drawn from."""

import numpy as np
import pytest

from sparseinit import edge_of_chaos, figures, propagate_network


@pytest.fixture
def captured(monkeypatch):
    """The figure a plot function would save, kept open for inspection."""
    kept = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: kept.append(fig) or path)
    yield kept
    import matplotlib.pyplot as plt

    for fig in kept:
        plt.close(fig)


def test_plot_maps_draws_the_variance_and_correlation_maps(captured, tmp_path):
    points = [edge_of_chaos("crelu", 0.85), edge_of_chaos("relu_tau", 0.85)]
    figures.plot_maps(points, tmp_path / "m.png")
    (fig,) = captured
    variance, distance, correlation = fig.axes
    for axis, f in ((variance, lambda p, x: p.variance_map(x)), (distance, lambda p, x: p.variance_map(x) - x),
                    (correlation, lambda p, x: p.correlation_map(x))):
        lines = [line for line in axis.get_lines() if line.get_linestyle() != ":"]
        assert len(lines) == 2
        for point, line in zip(points, lines, strict=True):
            x, y = line.get_data()
            np.testing.assert_allclose(y, f(point, np.asarray(x)), rtol=1e-12, atol=1e-12)
    assert correlation.get_ylabel() == "R(ρ)" and variance.get_ylabel() == "V(q)"


def test_plot_propagation_draws_measured_and_theory(captured, tmp_path):
    point = edge_of_chaos("crelu", 0.85)
    runs = [propagate_network(point, q0, depth=6, width=64, n_inputs=8, seed=0) for q0 in (0.5, 2.0)]
    figures.plot_propagation(runs, tmp_path / "p.png")
    (fig,) = captured
    variance_axis, sparsity_axis = fig.axes[:2]
    variance = [line.get_ydata() for line in variance_axis.get_lines() if line.get_linestyle() != ":"]
    sparsity = [line.get_ydata() for line in sparsity_axis.get_lines() if line.get_linestyle() != ":"]
    for index, run in enumerate(runs):  # measured (solid), then theory (dashed), per run
        np.testing.assert_allclose(variance[2 * index], run.variance)
        np.testing.assert_allclose(variance[2 * index + 1], run.theory_variance)
        np.testing.assert_allclose(sparsity[2 * index], run.sparsity)
        np.testing.assert_allclose(sparsity[2 * index + 1], run.theory_sparsity)
    # the labels say what is drawn, and the dotted guides sit at the point's q* and target sparsity
    assert variance_axis.get_title() == f"{figures.label(point)}\nwidth 64, q*=1"
    assert (variance_axis.get_ylabel(), sparsity_axis.get_ylabel()) == ("pre-activation variance q^l",
                                                                        "activation sparsity")
    guides = [line.get_ydata()[0] for ax in (variance_axis, sparsity_axis) for line in ax.get_lines()
              if line.get_linestyle() == ":"]
    assert guides == pytest.approx([point.q_star, point.sparsity])
