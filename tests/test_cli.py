"""The command line: each command's output, --json, --help, one-line errors, and nothing overwritten."""

import io
import json
import os
import subprocess
import sys

import pytest

from sparseinit import edge_of_chaos
from sparseinit.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eoc_table_and_json(capsys):
    code, out, _ = run(capsys, "eoc", "--activation", "crelu", "--sparsity", "0.85", "--m", "1")
    assert code == 0 and "sigma_w2    7.74314" in out and "slope       0.611578" in out
    code, out, _ = run(capsys, "eoc", "--activation", "cst", "--sparsity", "0.85", "--slope", "0.5", "--json")
    data = json.loads(out)
    assert data == pytest.approx(edge_of_chaos("cst", 0.85, slope=0.5).to_dict())


def test_maps_writes_a_figure(capsys, tmp_path):
    out_png = tmp_path / "maps.png"
    code, out, _ = run(capsys, "maps", "--activation", "relu_tau", "crelu", "--out", str(out_png))
    assert code == 0 and out_png.stat().st_size > 10_000 and "V'(q*)=1.0000" in out
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_propagate_small_network(capsys, tmp_path):
    out_png = tmp_path / "p.png"
    code, out, _ = run(capsys, "propagate", "--activation", "relu_tau", "crelu", "--depth", "30", "--width", "200",
                       "--q0", "2", "--out", str(out_png), "--json")
    runs = json.loads(out)
    assert code == 0 and out_png.exists() and len(runs) == 2
    relu_tau, crelu = runs
    assert len(relu_tau["variance"]) == 30
    assert relu_tau["variance"][-1] > 1e3 > crelu["variance"][-1]  # the instability, from above


def test_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"user data")
    code, _, err = run(capsys, "maps", "--out", str(target))
    assert code == 2 and "refusing to overwrite" in err and err.count("\n") == 1
    assert target.read_bytes() == b"user data"


@pytest.mark.parametrize("argv,message", [
    (["eoc", "--activation", "crelu", "--sparsity", "1.5"], "sparsity must be in (0, 1), got 1.5"),
    (["eoc", "--activation", "relu_tau", "--sparsity", "0.9", "--m", "1"], "takes no m or slope"),
    (["eoc", "--activation", "crelu", "--sparsity", "0.9", "--q-star", "-1"], "q_star must be in [1e-06, 1e+06]"),
    (["eoc", "--activation", "crelu", "--sparsity", "0.8", "--q-star", "1e300"], "q_star must be in [1e-06"),
    (["maps", "--q-star", "1e100"], "q_star must be in [1e-06"),
    (["propagate", "--depth", "0"], "depth must be an integer in [1, 100000]"),
    (["propagate", "--width", "10000000000"], "width must be an integer in [1, 16384]"),
    (["propagate", "--seed", "99999999999999999999999"], "seed must be an integer in [0, 4294967295]"),
    (["propagate", "--q0", "1e300"], "q0 must be in (0, 1e+12]"),
    (["maps", "--out", "figure.xyz"], "--out figure.xyz: matplotlib cannot write '.xyz' files"),
    (["train", "--out", "never-written", "--budget", "erk"], "--budget has no effect here: it applies only with "
                                                              "--density"),
    (["train", "--out", "never-written", "--model", "lenet5", "--depth", "7"], "--depth has no effect here"),
    (["train", "--out", "never-written", "--readout", "flatten"], "--readout has no effect here: only the cnn"),
    (["train", "--out", "never-written", "--sparsity", "0.9"], "--sparsity has no effect here: relu's"),
    (["report", "no-such-folder", "--within", "2"], "within counts seeds against a baseline: give baseline too"),
])
def test_bad_values_give_one_line_errors(capsys, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_figure_without_extension_is_png_and_never_overwritten(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "maps", "--out", "fig")
    assert code == 0 and "wrote fig.png" in out and (tmp_path / "fig.png").exists()
    before = (tmp_path / "fig.png").read_bytes()
    code, _, err = run(capsys, "maps", "--out", "fig")  # savefig would write fig.png again
    assert code == 2 and "fig.png exists; refusing to overwrite" in err
    assert (tmp_path / "fig.png").read_bytes() == before


def test_bench_checks_its_plot_before_it_runs(capsys, tmp_path):
    out_json = tmp_path / "a.json"
    code, out, err = run(capsys, "bench", "activations", "--widths", "16", "--depth", "2", "--reps", "1",
                         "--sparsities", "0.5", "--batches", "1", "--json", str(out_json), "--plot",
                         str(tmp_path / "p.xyz"))
    assert code == 2 and "--plot" in err and "'.xyz'" in err and out == "" and not out_json.exists()
    out_json.write_text("mine")
    code, _, err = run(capsys, "bench", "activations", "--widths", "16", "--json", str(out_json))
    assert code == 2 and "choose another --json" in err and out_json.read_text() == "mine"


def test_resume_with_nothing_to_resume_says_so(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "fresh"), "--resume", "--dataset", "synthetic",
                       "--depth", "2", "--width", "8", "--epochs", "1", "--json")
    assert code == 0 and "holds no run to resume; starting a new one" in err


def test_report_with_runs_from_another_folder(capsys, tmp_path):
    for name, depth in (("a", 20), ("b", 100)):
        run_dir = tmp_path / name / "r"
        run_dir.mkdir(parents=True)
        identity = {"activation": "relu", "sparsity": 0.5, "depth": depth, "seed": 0}
        (run_dir / "config.json").write_text(json.dumps({"identity": identity}))
        (run_dir / "summary.json").write_text(json.dumps({"status": "ok", "test_accuracy": 90.0 + depth / 10,
                                                          "train_sparsity": 0.5, "test_sparsity": 0.5}))
    code, out, _ = run(capsys, "report", str(tmp_path / "a"), "--also", str(tmp_path / "b"))
    assert code == 0 and "| relu | 20 | 92.00 |" in out and "| relu | 100 | 100.00 |" in out
    assert (tmp_path / "a" / "accuracy_vs_depth.png").exists() and not (tmp_path / "b" / "table.md").exists()
    code, _, err = run(capsys, "report", str(tmp_path / "a"), "--also", str(tmp_path / "nope"))
    assert code == 2 and "nope (in also) is not a folder of runs" in err and err.count("\n") == 1


def test_report_paired_against_a_baseline(capsys, tmp_path):
    for activation, sparsity, accs in (("relu", 0.5, [95.0, 96.0]), ("cst", 0.85, [94.0, 93.0])):
        for seed, acc in enumerate(accs):
            run_dir = tmp_path / f"{activation}{seed}"
            run_dir.mkdir()
            identity = {"activation": activation, "sparsity": sparsity, "m": 1.0 if activation == "cst" else None,
                        "seed": seed}
            (run_dir / "config.json").write_text(json.dumps({"identity": identity}))
            (run_dir / "summary.json").write_text(json.dumps({"status": "ok", "test_accuracy": acc,
                                                              "train_sparsity": sparsity, "test_sparsity": sparsity}))
    code, out, _ = run(capsys, "report", str(tmp_path), "--baseline", "relu", "--within", "2")
    # gaps -1 and -3: mean -2, paired std sqrt(2), t(0.975, 1) = 12.706 -> half-width 12.706
    assert code == 0 and "seeds within 2 |" in out
    assert "| cst | 1 | 0.85 | 2 | 93.50 ± 0.71 | 95.50 ± 0.71 | -2.00 | 1.41 | -14.71 … +10.71 | 1 of 2 |" in out
    assert (tmp_path / "gaps.md").exists()
    code, _, err = run(capsys, "report", str(tmp_path), "--baseline", "gelu")
    assert code == 2 and "no gelu runs to pair with" in err and err.count("\n") == 1


def test_argparse_errors_and_help():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    bad = subprocess.run([sys.executable, "-m", "sparseinit.cli", "eoc", "--activation", "gelu"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "invalid choice: 'gelu'" in bad.stderr and "Traceback" not in bad.stderr
    assert bad.stderr.count("\n") == 1 and "see sparseinit eoc --help" in bad.stderr  # one line, no usage dump
    both = subprocess.run([sys.executable, "-m", "sparseinit.cli", "eoc", "--activation", "crelu", "--sparsity",
                           "0.8", "--m", "1", "--slope", "0.5"], capture_output=True, text=True, env=env)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    helptext = subprocess.run([sys.executable, "-m", "sparseinit.cli", "propagate", "--help"],
                              capture_output=True, text=True, env=env)
    assert helptext.returncode == 0 and "--q0" in helptext.stdout and "starting variances" in helptext.stdout


def test_bench_activations_tiny(capsys, tmp_path):
    """`sparseinit bench activations` on a tiny MLP: table printed, JSON written, nothing overwritten (no timing
    assertions)."""
    out_json = tmp_path / "act.json"
    argv = ["bench", "activations", "--widths", "64", "--depth", "2", "--reps", "2", "--warmup", "1",
            "--sparsities", "0.5", "0.9", "--batches", "1", "40", "--threads", "1", "--json", str(out_json)]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "speed-up" in out and "ideal" in out and f"wrote {out_json}" in out
    data = json.loads(out_json.read_text())
    assert data["config"]["widths"] == [64] and data["config"]["depth"] == 2
    rows = data["results"]
    assert len(rows) == 2 * 2 * 2  # sparsities x batches x (hidden, model)
    assert {(r["part"], r["batch"], r["target_sparsity"]) for r in rows} == {
        (p, b, s) for p in ("hidden", "model") for b in (1, 40) for s in (0.5, 0.9)}
    for r in rows:
        assert r["dense_ms"] > 0 and r["sparse_ms"] > 0 and r["max_rel_error"] <= 1e-5
        assert abs(r["measured_sparsity"] - r["target_sparsity"]) < 0.1
        hidden_ideal, amdahl = 1 / (1 - r["measured_sparsity"]), 2 / (1 + (1 - r["measured_sparsity"]))  # depth 2
        assert r["ideal"] == pytest.approx(hidden_ideal if r["part"] == "hidden" else amdahl)
    assert {t["batch"] for t in data["targets"]} == {1, 40}  # the <= 50% fallback rows
    code, _, err = run(capsys, *argv)  # the JSON exists now
    assert code == 2 and "refusing to overwrite" in err and err.count("\n") == 1
    code, _, err = run(capsys, "bench", "activations", "--depth", "1", "--widths", "8")
    assert code == 2 and "depth must be integers >= 2" in err


def test_channels_is_the_cnn_spelling_of_width():
    from sparseinit.cli import _config_from_args, build_parser

    for flag in ("--channels", "--width"):
        config = _config_from_args(build_parser().parse_args(["train", "--out", "o", "--model", "cnn", flag, "8"]))
        assert config.model == "cnn" and config.width == 8
    assert _config_from_args(build_parser().parse_args(["train", "--out", "o"])).width == 300
    sub_help = subprocess.run([sys.executable, "-m", "sparseinit.cli", "train", "--help"], capture_output=True,
                              text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert "--width WIDTH, --channels WIDTH" in sub_help.stdout


@pytest.mark.parametrize(("flags", "field", "value"), [
    (["--momentum", "0"], "momentum", 0.0),  # falsy values that differ from the default reach the run
    (["--no-match-input"], "match_input", False),
    (["--q-star", "4", "--clip", "relative"], "q_star", 4.0),
    (["--density", "0.1", "--keep-first"], "keep_first", True),
])
def test_train_options_reach_the_config(flags, field, value):
    from sparseinit.cli import _config_from_args, build_parser

    default = _config_from_args(build_parser().parse_args(["train", "--out", "o", "--activation", "crelu",
                                                           "--sparsity", "0.8"]))
    config = _config_from_args(build_parser().parse_args(["train", "--out", "o", "--activation", "crelu",
                                                          "--sparsity", "0.8", *flags]))
    assert getattr(config, field) == value and getattr(default, field) != value


def test_sweep_exit_status_says_whether_every_run_finished(capsys, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\ndataset = "synthetic"\ndepth = 2\nwidth = 8\nepochs = 1\nwarmup_steps = 10000\n'
                    '[grid]\nseed = [0]\n')
    code, out, _ = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "out"))
    assert code == 1 and "0 ok, 0 diverged, 1 failed" in out and "error.txt" in out and "next:" not in out
    spec.write_text(spec.read_text().replace("warmup_steps = 10000", "warmup_steps = 0"))
    code, out, _ = run(capsys, "sweep", str(spec), "--out", str(tmp_path / "ok"))
    assert code == 0 and "1 ok, 0 diverged, 0 failed" in out and "next: sparseinit report" in out


def test_unwritable_paths_and_closed_pipes_are_not_tracebacks(capsys, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "maps", "--activation", "crelu", "--sparsity", "0.85", "--out",
                       str(tmp_path / "file" / "m.png"))
    assert code == 2 and err.startswith("sparseinit maps: error: cannot use") and err.count("\n") == 1
    assert (tmp_path / "file").read_text() == "x"

    class ClosedPipe:  # stdout of `sparseinit eoc ... | head -1` once head has exited
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def fileno(self):
            raise io.UnsupportedOperation("fileno")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["eoc", "--activation", "crelu", "--sparsity", "0.85"]) == 1  # no traceback: a quiet exit
    monkeypatch.undo()
    with pytest.raises(SystemExit) as stopped:  # an argparse error: one line, status 2
        main(["bench", "dctps", "--widths", "8", "--threads", "0"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "--threads: must be an integer >= 1, got '0'" in err and err.count("\n") == 1


def test_train_help_states_each_default_once(capsys):
    from sparseinit.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "(default None)" not in text and "--lr LR" in text and "(default 0.001)" in text
    bench = build_parser()._subparsers._group_actions[0].choices["bench"]
    activations = bench._subparsers._group_actions[0].choices["activations"].format_help()
    assert "--convs" not in activations  # it times MLPs only; dctps has the convolution option


def test_eoc_table_shows_every_field_of_the_point(capsys):
    code, out, _ = run(capsys, "eoc", "--activation", "cst", "--sparsity", "0.9", "--m", "0.7", "--q-star", "2")
    assert code == 0
    point = edge_of_chaos("cst", 0.9, m=0.7, q_star=2.0).to_dict()
    shown = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert set(shown) == {"activation", "sparsity", "tau", "m", "q_star", "sigma_w2", "sigma_b2", "slope",
                          "curvature", "chi1"}
    for key, value in shown.items():
        assert value == (f"{point[key]:.6g}" if isinstance(point[key], float) else str(point[key])), key


def test_maps_and_propagate_defaults_and_shared_clip(capsys, tmp_path):
    # several activations: --m reaches the clipped ones only; the default sparsity is 0.85
    code, out, _ = run(capsys, "maps", "--activation", "relu_tau", "crelu", "cst", "--m", "2",
                       "--out", str(tmp_path / "m.png"), "--json")
    points = json.loads(out)
    assert [p["m"] for p in points] == [None, 2.0, 2.0] and {p["sparsity"] for p in points} == {0.85}
    code, out, _ = run(capsys, "maps", "--activation", "crelu", "--out", str(tmp_path / "n.png"))
    point = edge_of_chaos("crelu", 0.85)
    assert f"sigma_w2={point.sigma_w2:.5g} sigma_b2={point.sigma_b2:.5g}" in out
    # propagate starts each activation at 0.5, 1 and 2 times q*
    code, out, _ = run(capsys, "propagate", "--activation", "crelu", "--q-star", "2", "--depth", "3", "--width",
                       "16", "--inputs", "4", "--out", str(tmp_path / "p.png"), "--json")
    assert code == 0 and [r["q0"] for r in json.loads(out)] == [1.0, 2.0, 4.0]


class _Captured(Exception):
    pass


def test_bench_options_reach_the_benchmarks(monkeypatch):
    import sparseinit.acceleration_benchmark as acceleration_benchmark
    import sparseinit.layers.dctps_benchmark as dctps_benchmark

    seen = {}

    def capture(name):
        def fake(*args, **kwargs):
            seen[name] = (args, kwargs)
            raise _Captured

        return fake

    monkeypatch.setattr(acceleration_benchmark, "benchmark_activations", capture("activations"))
    monkeypatch.setattr(dctps_benchmark, "benchmark_dctps", capture("dctps"))
    with pytest.raises(_Captured):
        main(["bench", "activations", "--widths", "32", "--depth", "3", "--sparsities", "0.8", "--batches", "2",
              "--reps", "4", "--threads", "1", "--warmup", "5", "--seed", "7"])
    args, kwargs = seen["activations"]
    assert args == ((32,), 3, (0.8,), (2,), 4, 1) and (kwargs["warmup"], kwargs["seed"]) == (5, 7)
    with pytest.raises(_Captured):
        main(["bench", "dctps", "--widths", "32", "--densities", "0.1", "--batches", "2", "--train-batches", "3",
              "--reps", "4", "--threads", "1", "--warmup", "5", "--seed", "7"])
    args, kwargs = seen["dctps"]
    assert args == ([32], [0.1], [2], [3])
    assert (kwargs["reps"], kwargs["warmup"], kwargs["threads"], kwargs["seed"]) == (4, 5, 1, 7)
