"""The accelerate() benchmark: its rows compute their ratios from the timings it measured."""

import pytest

import sparseinit.acceleration_benchmark as acc


def test_benchmark_rows_compute_their_ratios_from_the_timings(monkeypatch):
    """With the timer replaced: speed-up = dense / sparse; the hidden part is timed on the first activation's
    (sparse) output with ideal 1/(1 − s); the model on x with Amdahl's depth / (1 + (depth − 1)(1 − s))."""
    timed = []

    def fake_interleaved(fns, inp, reps, warmup):
        timed.append(inp)
        return {"dense": 6.0, "sparse": 2.5}

    monkeypatch.setattr(acc, "_interleaved", fake_interleaved)
    rows = acc.benchmark_activations(widths=(64,), depth=4, sparsities=(0.85,), batches=(3,), reps=1, warmup=0)
    hidden, model = rows
    assert (hidden["part"], model["part"]) == ("hidden", "model")
    assert hidden["speedup"] == model["speedup"] == pytest.approx(6.0 / 2.5)
    s = hidden["measured_sparsity"]
    assert hidden["ideal"] == pytest.approx(1 / (1 - s)) and model["ideal"] == pytest.approx(4 / (1 + 3 * (1 - s)))
    hidden_in, x = timed
    assert x.shape == (3, 64) and float((x == 0).float().mean()) == 0.0
    assert hidden_in.shape == (3, 64) and float((hidden_in == 0).float().mean()) > 0.6  # an activation's output
    # the sparsity the ideals use is measured: near the EoC target, and the first activation's own zero fraction
    # lies within the reported per-layer range
    assert abs(s - 0.85) < 0.05
    assert hidden["measured_sparsity_min"] <= float((hidden_in == 0).float().mean()) <= hidden["measured_sparsity_max"]
