"""benchmark_dctps / `sparseinit bench dctps`: rows, table, files, refusal to overwrite (no timings asserted)."""

import json

import pytest

from sparseinit.cli import main
from sparseinit.layers.dctps_benchmark import benchmark_dctps, dctps_markdown, dctps_table

SMALL = ["--widths", "64", "--densities", "0.1", "--batches", "2", "--train-batches", "4", "--reps", "1",
         "--warmup", "0", "--threads", "1"]


def test_rows_and_table():
    result = benchmark_dctps((64,), (0.1, 0.05), (1,), (3,), reps=1, warmup=0, threads=1)
    rows = result["rows"]
    assert [(r["density"], r["mode"], r["batch"]) for r in rows] == [
        (0.1, "forward", 1), (0.1, "train", 3), (0.05, "forward", 1), (0.05, "train", 3)]
    row = rows[0]
    assert row["nnz"] == round(0.1 * 64 * 64) and row["auto_path"] in ("fast", "dense")
    assert row["ideal_bytes"] == row["nnz"] * 8 + 4 + 64 * 4 and row["stored_bytes"] > row["ideal_bytes"]
    assert all(row[f"{v}_ms"] > 0 for v in ("dense", "kernel", "fast", "compact"))
    table = dctps_table(rows)
    assert table.count("\n") == 2 + len(rows) and "64×64" in table
    assert "## Compute" in dctps_markdown(result, "sparseinit bench dctps")
    assert result["config"]["threads"] == 1 and result["environment"]["torch"]


def test_targets_section_for_width_4096_rows():
    row = {"width": 4096, "density": 0.01, "mode": "forward", "batch": 1, "nnz": 167772, "dense_ms": 3.0,
           "kernel_ms": 9.0, "fast_ms": 0.5, "compact_ms": 0.3, "speedup_fast": 6.0, "speedup_compact": 10.0,
           "speedup_vs_kernel": 30.0, "ideal": 80.0, "stored_bytes": 1_360_797, "ideal_bytes": 1_358_564}
    result = {"rows": [row], "config": {"reps": 20, "warmup": 3, "threads": 2},
              "environment": {"cpu": "x", "cores": 2, "torch": "2", "python": "3", "load_before": None,
                              "load_after": None}}
    page = dctps_markdown(result)
    assert "batch 1: 10.0× — met" in page and "(+0.16%) — met" in page


def test_cli_writes_files_and_refuses_to_overwrite(capsys, tmp_path):
    out = [f"--json={tmp_path / 'd.json'}", f"--markdown={tmp_path / 'd.md'}", f"--plot={tmp_path / 'd.png'}"]
    assert main(["bench", "dctps", *SMALL, *out]) == 0
    printed = capsys.readouterr().out
    assert "| 64×64 | 0.1 | forward | 2 |" in printed and "wrote" in printed
    data = json.loads((tmp_path / "d.json").read_text())
    assert len(data["rows"]) == 2 and data["command"].startswith("sparseinit bench dctps")
    assert (tmp_path / "d.png").stat().st_size > 0 and "```bash" in (tmp_path / "d.md").read_text()
    assert main(["bench", "dctps", *SMALL, *out]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["bench", "dctps", *SMALL, *out, "--overwrite"]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--densities", "0"], "density must be in (0, 1]"),
    (["--widths", "0"], "each of widths must be an integer >= 1, got 0"),
    (["--warmup", "-1"], "warmup must be an integer >= 0, got -1"),
    (["--reps", "0"], "reps must be an integer >= 1"),
])
def test_bad_values(capsys, argv, message):
    assert main(["bench", "dctps", *SMALL, *argv]) == 2
    assert message in capsys.readouterr().err


def test_bench_needs_a_benchmark_name(capsys):
    with pytest.raises(SystemExit):
        main(["bench"])
    assert "WHAT" in capsys.readouterr().err


def test_conv_rows_and_table(capsys):
    from sparseinit.layers.dctps_benchmark import dctps_conv_table

    result = benchmark_dctps((32,), (0.2,), (1,), (), convs=[(4, 5, 2)], reps=1, warmup=0, threads=1)
    conv = result["conv_rows"]
    assert [(r["mode"], r["channels"], r["size"], r["batch"]) for r in conv] == [("forward", 4, 5, 2),
                                                                                  ("train", 4, 5, 2)]
    assert all(r["fast_ms"] > 0 and r["auto_path"] in ("fast", "dense") for r in conv)
    assert "| 4→4 | 5×5 | 2 | 0.2 | forward |" in dctps_conv_table(conv)
    assert "## Convolutions" in dctps_markdown(result)
    assert main(["bench", "dctps", *SMALL, "--convs", "4x5"]) == 2
    assert "--convs takes CxHxB" in capsys.readouterr().err


def test_ratios_ideal_and_paths_from_replaced_timings(monkeypatch):
    """Timings replaced by known numbers: each speed-up is the ratio the table names, the ideal is n² / (nnz +
    n log₂ n), the measured path is the faster of fast and the dense kernel, and the auto path is dctps_path's."""
    import math

    import sparseinit.layers.dctps_benchmark as bench
    from sparseinit.layers.fast_dctps import dctps_path

    def fake_interleaved(fns, reps, warmup):
        return {"dense": 2.0, "kernel": 9.0, "fast": 3.0, "compact": 1.0}  # fast: behind dense, ahead of kernel

    monkeypatch.setattr(bench, "_interleaved", fake_interleaved)
    result = bench.benchmark_dctps((64,), (0.1,), (2,), (4,), convs=((4, 5, 2),), reps=1, warmup=0, threads=1)
    forward, train = result["rows"]
    nnz = forward["nnz"]
    assert forward["ideal"] == pytest.approx(64 * 64 / (nnz + 64 * math.log2(64)))
    assert forward["speedup_fast"] == pytest.approx(2 / 3)
    assert (forward["speedup_compact"], forward["speedup_vs_kernel"]) == (2.0, 9.0)
    assert forward["measured_path"] == "fast"
    assert forward["auto_path"] == dctps_path(64, 64, nnz, 2, training=False)
    assert train["auto_path"] == dctps_path(64, 64, nnz, 4, training=True)
    conv = result["conv_rows"][0]
    assert conv["speedup_fast"] == pytest.approx(2 / 3)
    assert (conv["speedup_vs_kernel"], conv["measured_path"]) == (3.0, "fast")
    assert conv["auto_path"] == dctps_path(4, 4 * 9, conv["nnz"], 2 * 5 * 5, conv=True, training=False)
