"""Reports: the table's numbers, [C]'s density pivot, depth plots, joined folders, and paired gaps to a baseline."""

import json

import pytest
from scipy import stats

from sparseinit.training import report


def test_report_errors(tmp_path):
    with pytest.raises(ValueError, match="no finished runs"):
        report.report(tmp_path)
    with pytest.raises(ValueError, match="is not a folder of runs"):
        report.report(tmp_path / "missing")


def _fake_run(folder, identity, accuracy, stored=0, **summary):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"identity": identity}))
    (folder / "summary.json").write_text(json.dumps({"status": "ok", "test_accuracy": accuracy,
                                                     "train_sparsity": 0.5, "test_sparsity": 0.5,
                                                     "stored_bytes": stored, **summary}))


def test_report_pivots_c_runs_by_method_and_density(tmp_path):
    base = {"dataset": "mnist", "model": "lenet5", "activation": "relu", "sparsity": 0.5, "width_multiplier": 1.0,
            "offset": "dct", "budget": None,
            "prune_method": "random", "rigl": False, "density": None}
    runs = [({}, [98.0, 97.0], 4096), ({"density": 0.01, "offset": "none", "prune_method": "snip"}, [60.0, 70.0], 512),
            ({"density": 0.01, "budget": "epl"}, [90.0, 92.0], 600),
            ({"density": 0.1, "budget": "epl", "rigl": True}, [95.0, 95.0], 2048),
            ({"density": 0.01, "budget": "erk", "rigl": True}, [93.0, 95.0], 600)]
    for i, (change, accs, stored) in enumerate(runs):
        for seed, acc in enumerate(accs):
            _fake_run(tmp_path / f"r{i}s{seed}", {**base, **change, "seed": seed}, acc, stored)
    assert [report.method_label({**base, **c}) for c, _, _ in runs] == [
        "dense", "snip", "DCTpS (epl)", "DCTpS+RigL (epl)", "DCTpS+RigL (erk)"]
    paths = report.report(tmp_path)
    table = paths["density_table"].read_text().splitlines()
    assert "### mnist / lenet5" in table
    header = next(line for line in table if line.startswith("| method"))
    assert header == "| method | d = 0.1 | d = 0.01 |"
    snip = next(line for line in table if line.startswith("| snip |"))
    std = (2 * 5.0**2) ** 0.5  # sample std of 60 and 70
    assert snip == f"| snip | – | 65.00 ± {std:.2f} (2) · 0.5 KiB |"
    # d = 0.01: worst DCTpS (epl) 91 / best DCTpS+RigL (erk) 94 − snip 65; d = 0.1 has no plain run
    worst = next(line for line in table if line.startswith("| *margin: worst"))
    assert worst.endswith("| – | *+26.00* |")
    best = next(line for line in table if line.startswith("| *margin: best"))
    assert best.endswith("| – | *+29.00* |")
    dense = next(line for line in table if line.startswith("| dense |"))
    assert dense.count("97.50 ± 0.71 (2) · 4.0 KiB") == 2
    assert paths["accuracy_density"].stat().st_size > 5000


def test_table_shows_no_spread_for_one_seed_and_no_sparsity_when_all_diverged():
    rows = [{"identity": {"activation": "st"}, "test_accuracy": (9.79, 0.0), "seeds": 1, "diverged": 1.0,
             "train_sparsity": float("nan"), "test_sparsity": float("nan")},
            {"identity": {"activation": "relu"}, "test_accuracy": (95.17, 0.5), "seeds": 3, "diverged": 0.0,
             "train_sparsity": 0.5284, "test_sparsity": 0.5281}]
    lines = report.table_markdown(rows, ["activation"]).splitlines()
    assert lines[2] == "| st | 9.79 | 1 | 100% | – | – |"
    assert lines[3] == "| relu | 95.17 ± 0.50 | 3 | 0% | 0.528 | 0.528 |"


def test_table_counts_runs_that_started_closed_where_they_were_measured(tmp_path):
    base = {"dataset": "synthetic", "model": "mlp", "depth": 6, "sparsity": 0.9}
    _fake_run(tmp_path / "c0", {**base, "activation": "crelu", "seed": 0}, 10.0, init_closed_layers=[3])
    _fake_run(tmp_path / "c1", {**base, "activation": "crelu", "seed": 1}, 60.0, init_closed_layers=[])
    _fake_run(tmp_path / "c2", {**base, "activation": "crelu", "seed": 2}, 62.0)  # from before the measurement
    _fake_run(tmp_path / "r0", {**base, "activation": "relu", "seed": 0}, 90.0)
    lines = report.report(tmp_path)["table"].read_text().splitlines()
    assert lines[0].endswith("| test sparsity | closed at init |")
    assert next(line for line in lines if line.startswith("| crelu")).endswith("| 1/2 |")
    assert next(line for line in lines if line.startswith("| relu")).endswith("| – |")
    _fake_run(tmp_path / "old" / "r1", {**base, "activation": "relu", "seed": 1}, 91.0)
    assert "closed" not in report.report(tmp_path / "old")["table"].read_text()  # no column without measurements


def test_redrawn_runs_join_their_activation_and_are_counted(tmp_path):
    base = {"dataset": "synthetic", "model": "cnn", "depth": 20, "sparsity": 0.85, "activation": "cst"}
    _fake_run(tmp_path / "c0", {**base, "seed": 0}, 86.0, init_closed_layers=[])
    _fake_run(tmp_path / "c1", {**base, "seed": 1}, 85.0, init_closed_layers=[])
    _fake_run(tmp_path / "c2", {**base, "seed": 2, "redraw_closed": 3}, 87.0, init_closed_layers=[], init_redraws=1)
    lines = report.report(tmp_path)["table"].read_text().splitlines()
    assert lines[0].endswith("| closed at init | redrawn |") and len(lines) == 3  # one row, not two
    assert lines[2].startswith("| cst | 86.00 ± 1.00 | 3 |") and lines[2].endswith("| 0/3 | 1/3 |")
    _fake_run(tmp_path / "c2plain", {**base, "seed": 2}, 10.0, init_closed_layers=[9])
    with pytest.raises(ValueError, match="c2plain are the same run"):
        report.report(tmp_path)


def test_report_plots_accuracy_against_depth_per_activation(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "width": 300, "q_star": 1.0}
    cells = {("relu", 0.5, 20): [97.0, 97.2], ("relu", 0.5, 100): [95.0, 95.4],
             ("crelu", 0.85, 100): [30.0, 34.0], ("crelu", 0.85, 20): [95.8, 95.8]}
    for (activation, sparsity, depth), accs in cells.items():
        for seed, acc in enumerate(accs):
            # crelu at depth 100 leaves m at its default, 1: it still groups with the runs that give m = 1
            m = None if activation == "relu" or (depth, seed) == (100, 0) else 1.0
            _fake_run(tmp_path / f"{activation}{depth}s{seed}", {**base, "activation": activation, "m": m,
                      "slope": None, "sparsity": sparsity, "depth": depth, "seed": seed}, acc, 0)
    rows, varying = report.aggregate(report.collect(tmp_path))
    # rows sort numbers by value: depth 20 before depth 100
    assert [(r["identity"]["activation"], r["identity"]["depth"]) for r in rows] == [
        ("crelu", 20), ("crelu", 100), ("relu", 20), ("relu", 100)]
    series = report.series_against(rows, "depth", varying)
    # sparsity varies too, so it names the series; each series is sorted by depth with mean and sample std
    assert set(series) == {"relu, m=–, sparsity=0.5", "crelu, m=1, sparsity=0.85"}
    (d1, m1, s1), (d2, m2, s2) = series["crelu, m=1, sparsity=0.85"]
    assert (d1, m1, d2, m2) == (20, pytest.approx(95.8), 100, pytest.approx(32.0))
    assert (s1, s2) == (pytest.approx(0.0, abs=1e-12), pytest.approx(8**0.5))
    assert [p[0] for p in series["relu, m=–, sparsity=0.5"]] == [20, 100]
    paths = report.report(tmp_path)
    assert paths["accuracy_depth"].stat().st_size > 5000
    # runs of one depth get no depth plot
    one = tmp_path / "one"
    _fake_run(one / "r", {**base, "activation": "relu", "sparsity": 0.5, "depth": 20, "seed": 0}, 97.0, 0)
    assert "accuracy_depth" not in report.report(one)


def test_report_joins_runs_from_other_folders_without_writing_there(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "activation": "relu", "sparsity": 0.5}
    _fake_run(tmp_path / "a" / "r0", {**base, "depth": 20, "seed": 0}, 97.0, 0)
    _fake_run(tmp_path / "b" / "r0", {**base, "depth": 100, "seed": 0}, 95.0, 0)
    _fake_run(tmp_path / "b" / "r1", {**base, "depth": 100, "seed": 1}, 94.0, 0)
    before = sorted(p.name for p in (tmp_path / "b").rglob("*"))
    # a single run folder and its parent both given: the run counts once
    paths = report.report(tmp_path / "a", also=[tmp_path / "b", tmp_path / "b" / "r1"])
    table = paths["table"].read_text()
    assert "| relu | 20 | 97.00 | 1 |" in table
    assert "| relu | 100 | 94.50 ± 0.71 | 2 |" in table
    assert sorted(p.name for p in (tmp_path / "b").rglob("*")) == before
    with pytest.raises(ValueError, match="missing \\(in also\\) is not a folder of runs"):
        report.report(tmp_path / "a", also=[tmp_path / "missing"])
    # one folder given as a string is that folder, not its letters
    assert "| relu | 100 | 94.50 ± 0.71 | 2 |" in report.report(
        tmp_path / "a", also=str(tmp_path / "b"))["table"].read_text()


def test_models_without_depth_show_no_depth(tmp_path):
    """[C]'s models keep the mlp's depth/width at their defaults; a table shows "–" there, not 100 / 300."""
    for model, acc in (("lenet5", 98.0), ("mlp", 95.0)):
        _fake_run(tmp_path / model, {"dataset": "mnist", "model": model, "activation": "relu", "sparsity": 0.5,
                                     "depth": 100 if model == "lenet5" else 20, "width": 300, "seed": 0}, acc, 0)
    table = report.report(tmp_path)["table"].read_text()
    assert "| relu | – | lenet5 | 98.00 |" in table and "| relu | 20 | mlp | 95.00 |" in table


def _pairs_fixture(tmp_path):
    """relu (seeds 0-2, q* 1 and 4), crelu (seeds 0-3) at two depths, cst at q* 2 (no relu at q* 2)."""
    base = {"dataset": "mnist", "model": "mlp", "width": 300, "m": None, "slope": None, "clip": "absolute"}
    relu = {"activation": "relu", "sparsity": 0.5}
    crelu = {"activation": "crelu", "sparsity": 0.85, "m": 1.0}
    cells = [({**relu, "q_star": 1.0, "depth": 20}, [97.0, 97.4, 96.8]),
             ({**relu, "q_star": 4.0, "depth": 20}, [96.0, 96.1, 96.2]),
             ({**relu, "q_star": 1.0, "depth": 100}, [95.0, 95.2]),
             ({**crelu, "q_star": 1.0, "depth": 20}, [95.9, 95.5, 96.1, 99.0]),
             ({**crelu, "q_star": 4.0, "depth": 20}, [95.0, 95.3, 94.0]),
             ({**crelu, "q_star": 1.0, "depth": 100}, [40.0, 30.0, 50.0]),
             ({"activation": "cst", "sparsity": 0.85, "m": 1.0, "q_star": 2.0, "depth": 20}, [90.0])]
    for i, (cell, accs) in enumerate(cells):
        for seed, acc in enumerate(accs):
            _fake_run(tmp_path / f"c{i}s{seed}", {**base, **cell, "seed": seed}, acc)
    return report.aggregate(report.collect(tmp_path))


def test_paired_gaps_match_a_paired_t_test(tmp_path):
    rows, _ = _pairs_fixture(tmp_path)
    gaps = {(g["identity"]["activation"], g["identity"]["q_star"], g["identity"]["depth"]): g
            for g in report.paired_gaps(rows, "relu", within=1.5)}
    # cst at q* = 2 has two relu rows of its setting and neither at its q*: ambiguous, left out
    assert set(gaps) == {("crelu", 1.0, 20), ("crelu", 4.0, 20), ("crelu", 1.0, 100)}
    g = gaps[("crelu", 1.0, 20)]
    # crelu's seed 3 has no relu run of that seed: three pairs, against relu at the same q* (1, not 4)
    crelu, relu = [95.9, 95.5, 96.1], [97.0, 97.4, 96.8]
    assert g["seeds"] == [0, 1, 2] and g["baseline"]["q_star"] == 1.0
    assert g["gaps"] == pytest.approx([c - r for c, r in zip(crelu, relu, strict=True)])
    test = stats.ttest_rel(crelu, relu)
    low, high = test.confidence_interval(0.95)
    assert g["interval"] == pytest.approx((low, high))
    assert g["gap"] == pytest.approx(sum(crelu) / 3 - sum(relu) / 3)
    assert g["within"] == 2  # -1.1, -1.9, -0.7
    assert gaps[("crelu", 4.0, 20)]["gaps"] == pytest.approx([-1.0, -0.8, -2.2])
    # pairs stay inside a depth: at 100 only seeds 0 and 1 have relu
    assert gaps[("crelu", 1.0, 100)]["gaps"] == pytest.approx([-55.0, -65.2])
    assert gaps[("crelu", 1.0, 100)]["within"] == 0


def test_one_paired_seed_has_no_interval_and_the_table_says_so(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "q_star": 1.0}
    _fake_run(tmp_path / "r", {**base, "activation": "relu", "sparsity": 0.5, "seed": 0}, 95.0)
    _fake_run(tmp_path / "c", {**base, "activation": "cst", "sparsity": 0.85, "seed": 0}, 94.0)
    rows, varying = report.aggregate(report.collect(tmp_path))
    gaps = report.paired_gaps(rows, "relu", within=0.5)
    lines = report.gaps_markdown(gaps, varying).splitlines()
    assert "seeds within 0.5" in lines[0]
    assert lines[2] == "| cst | 1 | 0.85 | 1 | 94.00 | 95.00 | -1.00 | – | – | 0 of 1 | -1.00 |"


def test_a_row_that_differs_in_training_options_has_no_pair_and_the_table_says_why(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "q_star": 1.0, "seed": 0}
    _fake_run(tmp_path / "r", {**base, "activation": "relu", "sparsity": 0.5, "lr": 1e-2}, 97.7)
    _fake_run(tmp_path / "c", {**base, "activation": "cst", "sparsity": 0.85, "lr": 3e-3}, 92.3)
    rows, varying = report.aggregate(report.collect(tmp_path))
    gaps = report.paired_gaps(rows, "relu")
    assert gaps == []
    lines = report.gaps_markdown(gaps, varying).splitlines()
    assert len(lines) == 4 and lines[3].startswith("No row pairs with a relu run: a pair needs the same seed")


def test_highest_sparsity_within_is_bs_measure(tmp_path):
    """Per activation and depth, the highest s whose mean paired gap is >= -within; gaps worked out by hand."""
    base = {"dataset": "mnist", "model": "mlp", "q_star": 1.0, "m": 1.0}
    relu = {20: [97.0, 97.2], 40: [96.0, 96.4]}
    cells = {("crelu", 20): {0.8: [96.0, 96.4], 0.85: [95.6, 95.8], 0.9: [95.0, 95.4], 0.95: [96.0, 95.6]},
             ("cst", 20): {0.85: [95.8, 95.9], 0.9: [90.0, 91.0]},
             ("crelu", 40): {0.85: [93.0, 94.0]}}
    for depth, accs in relu.items():
        for seed, acc in enumerate(accs):
            _fake_run(tmp_path / f"relu{depth}s{seed}", {**base, "activation": "relu", "sparsity": 0.5, "m": None,
                                                         "depth": depth, "seed": seed}, acc)
    for (act, depth), by_s in cells.items():
        for s, accs in by_s.items():
            for seed, acc in enumerate(accs):
                _fake_run(tmp_path / f"{act}{depth}{s}s{seed}", {**base, "activation": act, "sparsity": s,
                                                                  "depth": depth, "seed": seed}, acc)
    rows, varying = report.aggregate(report.collect(tmp_path))
    found = {(h["identity"]["activation"], h["identity"]["depth"]): h
             for h in report.highest_sparsity(report.paired_gaps(rows, "relu", within=1.5))}
    # crelu depth 20: gaps -0.9, -1.4, -1.9, -1.3: 0.95 is within again (the list shows the dip at 0.9)
    assert found["crelu", 20]["highest"] == 0.95
    assert [s for s, _ in found["crelu", 20]["gaps"]] == [0.8, 0.85, 0.9, 0.95]
    assert [d for _, d in found["crelu", 20]["gaps"]] == pytest.approx([-0.9, -1.4, -1.9, -1.3])
    assert found["cst", 20]["highest"] == 0.85  # -1.25, then -6.6
    assert found["crelu", 40]["highest"] is None  # -2.7
    text = report.gaps_markdown(report.paired_gaps(rows, "relu"), varying)
    assert "| crelu | 20 | 1 | 0.8: -0.90 · 0.85: -1.40 · 0.9: -1.90 · 0.95: -1.30 | 0.95 |" in text
    assert "| crelu | 40 | 1 | 0.85: -2.70 | none |" in text


def test_report_writes_gaps_and_checks_before_writing(tmp_path):
    rows, varying = _pairs_fixture(tmp_path)
    with pytest.raises(ValueError, match="no gelu runs to pair with \\(activations here: crelu, cst, relu\\)"):
        report.report(tmp_path, baseline="gelu")
    with pytest.raises(ValueError, match="within counts seeds against a baseline: give baseline too"):
        report.report(tmp_path, within=2.0)
    for bad in (0, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match=r"within must be a number of points in \(0, inf\), got"):
            report.report(tmp_path, baseline="relu", within=bad)
    assert not (tmp_path / "table.md").exists()
    paths = report.report(tmp_path, baseline="relu")
    text = paths["gaps"].read_text()
    assert text == report.gaps_markdown(report.paired_gaps(rows, "relu"), varying)
    assert "| crelu | 20 | 1 | 1 | 0.85 | 3 | 95.83 ± 0.31 | 97.07 ± 0.31 | -1.23 | 0.61 |" in text
    assert "gaps" not in report.report(tmp_path)


def test_report_replaces_its_own_files_and_refuses_others(tmp_path):
    _pairs_fixture(tmp_path)
    (tmp_path / "table.md").write_text("my notes")
    with pytest.raises(ValueError, match=r"table\.md exists and was not written by sparseinit report"):
        report.report(tmp_path, baseline="relu")
    assert (tmp_path / "table.md").read_text() == "my notes" and not (tmp_path / "gaps.md").exists()
    first = report.report(tmp_path, baseline="relu", overwrite=True)
    assert "gaps" in first and json.loads((tmp_path / "report.json").read_text())["baseline"] == "relu"
    second = report.report(tmp_path)  # its own files are replaced, and the gaps.md it no longer writes goes
    assert "gaps" not in second and not (tmp_path / "gaps.md").exists()
    assert second["table"].read_text() == report.table_markdown(*report.aggregate(report.collect(tmp_path)))


def test_a_report_stopped_half_way_is_replaced_by_the_next(tmp_path, monkeypatch):
    _pairs_fixture(tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "_plot_against", killed)  # stopped after table.md and gaps.md were written
    with pytest.raises(KeyboardInterrupt):
        report.report(tmp_path, baseline="relu")
    assert (tmp_path / "table.md").exists() and (tmp_path / "gaps.md").exists()
    monkeypatch.undo()
    paths = report.report(tmp_path, baseline="relu")  # its own half-written files: no --overwrite needed
    assert paths["accuracy"].exists() and "partial" not in json.loads((tmp_path / "report.json").read_text())


def test_varying_columns_come_from_every_run(tmp_path):
    base = {"dataset": "fashion-mnist", "model": "cnn", "activation": "relu", "sparsity": 0.5, "seed": 0}
    _fake_run(tmp_path / "a", base, 50.0)  # made before readout existed: no key, i.e. the pool
    _fake_run(tmp_path / "b", {**base, "readout": "flatten"}, 60.0)
    rows, varying = report.aggregate(report.collect(tmp_path))
    assert varying == ["readout"] and len(rows) == 2


def test_collect_names_the_bad_file(tmp_path):
    _fake_run(tmp_path / "a", {"activation": "relu", "seed": 0}, 50.0)
    (tmp_path / "a" / "metrics.jsonl").write_text('{"epoch": 1}\n{"epo')
    with pytest.raises(ValueError, match=r"a/metrics\.jsonl line 2 is not valid JSON"):
        report.collect(tmp_path)
    (tmp_path / "a" / "metrics.jsonl").unlink()
    (tmp_path / "a" / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match=r"a/summary\.json is not a sparseinit run file: it lacks 'status'"):
        report.collect(tmp_path)
    (tmp_path / "a" / "config.json").unlink()
    with pytest.raises(ValueError, match=r"holds a summary\.json but no config\.json"):
        report.collect(tmp_path)


def test_the_clip_column_says_where_the_clip_mode_changes_nothing(tmp_path):
    base = {"dataset": "mnist", "model": "mlp", "depth": 30, "m": 1.0, "seed": 0}
    cells = {"relu": {"activation": "relu", "sparsity": 0.5, "m": None, "clip": "absolute", "q_star": 4.0},
             "q1": {"activation": "crelu", "sparsity": 0.9, "clip": "absolute", "q_star": 1.0},
             "q4rel": {"activation": "crelu", "sparsity": 0.9, "clip": "relative", "q_star": 4.0},
             "q4abs": {"activation": "cst", "sparsity": 0.9, "clip": "absolute", "q_star": 4.0}}
    for name, cell in cells.items():
        _fake_run(tmp_path / name, {**base, **cell}, 95.0)
    rows, varying = report.aggregate(report.collect(tmp_path))
    assert "clip" in varying
    table = report.table_markdown(rows, varying).splitlines()
    head = [c.strip() for c in table[0].split("|")]
    rows_as_cells = [[c.strip() for c in line.split("|")] for line in table[2:]]
    seen = {(r[head.index("activation")], r[head.index("q_star")], r[head.index("clip")]) for r in rows_as_cells}
    assert seen == {("relu", "4", "–"), ("crelu", "1", "either"), ("crelu", "4", "relative"), ("cst", "4", "absolute")}


def test_runs_csv_lists_every_run_with_its_seed_and_summary(tmp_path):
    import csv

    base = {"dataset": "mnist", "model": "mlp", "depth": 20, "sparsity": 0.5}
    _fake_run(tmp_path / "sweep" / "b", {**base, "activation": "relu", "seed": 1}, 96.5, epochs_done=3,
              init_redraws=None)
    _fake_run(tmp_path / "sweep" / "a", {**base, "activation": "relu", "seed": 0}, 97.25, epochs_done=3)
    _fake_run(tmp_path / "sweep" / "c", {**base, "activation": "crelu", "sparsity": 0.85, "seed": 0}, 95.0,
              epochs_done=2, init_redraws=1)
    _fake_run(tmp_path / "other" / "d", {**base, "activation": "relu", "depth": 40, "seed": 0}, 90.0)
    paths = report.report(tmp_path / "sweep", also=[tmp_path / "other"])
    rows = list(csv.DictReader(paths["runs"].open()))
    # crelu's unset m is spelled out (its default), so m varies too
    assert list(rows[0])[:6] == ["run", "activation", "seed", "depth", "m", "sparsity"]
    # sorted by activation, then seed, then the varying keys; runs joined from elsewhere keep their own path
    assert [(r["run"], r["activation"], r["seed"], r["depth"]) for r in rows] == [
        ("c", "crelu", "0", "20"), ("a", "relu", "0", "20"), (str(tmp_path / "other" / "d"), "relu", "0", "40"),
        ("b", "relu", "1", "20")]
    assert [float(r["test_accuracy"]) for r in rows] == [95.0, 97.25, 90.0, 96.5]
    assert [r["init_redraws"] for r in rows] == ["1", "", "", ""]
    assert [r["epochs_done"] for r in rows] == ["2", "3", "", "3"]
    assert [r["epochs"] for r in rows] == [""] * 4  # the fake summaries do not say
    assert "runs.csv" in json.loads((tmp_path / "sweep" / "report.json").read_text())["files"]


def test_sparsity_is_averaged_over_the_runs_that_did_not_diverge(tmp_path):
    """A diverged run's last measured sparsity says nothing about the activation: the mean leaves it out, while
    the test accuracy (what [A] counts) keeps every seed."""
    base = {"dataset": "mnist", "model": "mlp", "depth": 100, "activation": "relu_tau", "sparsity": 0.85}
    _fake_run(tmp_path / "a", {**base, "seed": 0}, 90.0, train_sparsity=0.84, test_sparsity=0.83)
    _fake_run(tmp_path / "b", {**base, "seed": 1}, 92.0, train_sparsity=0.86, test_sparsity=0.87)
    _fake_run(tmp_path / "c", {**base, "seed": 2}, 10.0, status="diverged", train_sparsity=0.1, test_sparsity=0.2)
    (row,), _ = report.aggregate(report.collect(tmp_path))
    assert row["diverged"] == pytest.approx(1 / 3)
    assert row["test_accuracy"][0] == pytest.approx(64.0)
    assert (row["train_sparsity"], row["test_sparsity"]) == (pytest.approx(0.85), pytest.approx(0.85))


def test_dctps_margins_are_taken_against_the_best_plain_method():
    """Worst / best DCTpS variant minus the *best* plain sparse method at each density (the dense row is not a
    plain sparse method)."""
    def cell(mean):
        return {"test_accuracy": (mean, 0.0)}

    methods = {"dense": {None: cell(99.0)}, "snip": {0.01: cell(60.0)}, "random": {0.01: cell(70.0)},
               "DCTpS (epl)": {0.01: cell(90.0)}, "DCTpS+RigL (erk)": {0.01: cell(94.0), 0.1: cell(97.0)}}
    assert report._dctps_margin(methods, 0.01) == pytest.approx(90.0 - 70.0)
    assert report._dctps_margin(methods, 0.01, max) == pytest.approx(94.0 - 70.0)
    assert report._dctps_margin(methods, 0.1) is None  # no plain method at that density
