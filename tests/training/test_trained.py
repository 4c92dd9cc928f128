"""A run's trained network loaded back: it gives the run's own numbers, computed here by hand from the data."""

import inspect
import json
import subprocess
import sys

import pytest
import torch

from sparseinit import data
from sparseinit.training.loop import train
from sparseinit.training.trained import evaluate_run, load_run

SMALL = {"dataset": "synthetic", "depth": 6, "width": 48, "batch_size": 64, "lr": 0.01, "progress": False}


def by_hand(model, split):
    """Accuracy (%) and mean zero fraction of the hidden activations, from the data set's own tensors."""
    x, y = data.load("synthetic", split).x, data.load("synthetic", split).y
    outs = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: outs.append(out)) for m in model.layers
             if type(m).__name__ in ("ClippedReLU", "ClippedSoftThreshold", "ReLU")]
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    zero_fractions = [int((o == 0).sum()) / o.numel() for o in outs]
    return 100.0 * int((logits.argmax(1) == y).sum()) / len(y), sum(zero_fractions) / len(zero_fractions)


@pytest.fixture(scope="module")
def crelu_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained") / "crelu"
    summary = train(out=folder, activation="crelu", sparsity=0.8, epochs=3, **SMALL)
    return folder, summary


def test_loaded_network_gives_the_runs_test_accuracy_and_sparsity(crelu_run):
    folder, summary = crelu_run
    before = torch.get_rng_state()
    run = load_run(folder)
    assert torch.equal(torch.get_rng_state(), before)  # rebuilding the network leaves the caller's RNG alone
    assert not run.model.training and run.epochs_trained == 3 and run.summary == summary
    assert run.config.activation == "crelu" and run.config.sparsity == 0.8
    accuracy, sparsity = by_hand(run.model, "test")
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=1e-9) and accuracy > 35.0  # it has learned
    assert sparsity == pytest.approx(summary["test_sparsity"], abs=1e-9)
    out = evaluate_run(folder, split="test")
    assert out["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert out["sparsity"] == pytest.approx(sparsity, abs=1e-9) and len(out["layer_sparsity"]) == 6
    val = evaluate_run(folder, split="val")
    assert val["examples"] == 512 and val["accuracy"] == pytest.approx(by_hand(run.model, "val")[0], abs=1e-9)
    assert evaluate_run(folder, split="train")["accuracy"] == pytest.approx(summary["train_accuracy"], abs=1e-9)


def test_an_untrained_draw_is_not_what_comes_back(crelu_run):
    folder, summary = crelu_run
    fresh = train(out=folder.parent / "one_epoch_less", activation="crelu", sparsity=0.8, epochs=1, **SMALL)
    assert load_run(folder.parent / "one_epoch_less").epochs_trained == 1
    assert evaluate_run(folder.parent / "one_epoch_less")["accuracy"] == pytest.approx(fresh["test_accuracy"])
    assert fresh["test_accuracy"] != summary["test_accuracy"]  # so the 3-epoch figure above is the 3-epoch weights


def test_accelerated_evaluation_matches_the_dense_network(crelu_run):
    folder, _ = crelu_run
    out = evaluate_run(folder, accelerate=True, batch_size=7, mode="sparse")  # the kernel, whatever it costs
    assert out["accelerated_layers"] == 6  # every layer after a crelu: 5 hidden and the read-out
    assert out["kernel_layers"] == 6
    assert out["max_logit_difference"] < 1e-4
    assert out["accelerated_accuracy"] == pytest.approx(out["accuracy"], abs=0.2)  # one near-tie at most
    assert out["dense_seconds"] > 0 and out["accelerated_seconds"] > 0


def test_accelerated_evaluation_counts_only_the_layers_that_ran_the_kernel(crelu_run):
    from sparseinit import accelerate

    folder, _ = crelu_run
    out = evaluate_run(folder, accelerate=True, batch_size=7)
    fast = accelerate(load_run(folder).model)  # at width 48 the kernel never pays: every break-even is 1
    layers = [m for m in fast.modules() if hasattr(m, "threshold")]
    assert len(layers) == out["accelerated_layers"] == 6 and all(m.threshold(7) == 1.0 for m in layers)
    assert out["kernel_layers"] == 0


def test_the_timed_pass_starts_after_untimed_warm_up_calls(monkeypatch):
    # an accelerated layer's first call on a path loads its compiled kernel (~0.6 s): timed, it made accelerate()
    # look 2× slower than dense. Warm-up: the first chunk's size and the short last chunk's.
    from types import SimpleNamespace

    from sparseinit.training import trained

    clock, calls, stamps = iter([10.0, 12.5]), [], []

    def perf_counter():
        stamps.append(len(calls))  # forward calls made when the clock is read
        return next(clock)

    monkeypatch.setattr(trained, "time", SimpleNamespace(perf_counter=perf_counter))
    model = torch.nn.Linear(3, 2)
    model.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    x = torch.randn(10, 3)
    logits, seconds = trained._timed_logits(model, x, 4)
    assert calls == [4, 2, 4, 4, 2] and stamps == [2, 5]  # both warm-ups before the clock starts, the pass within
    assert seconds == 2.5 and torch.allclose(logits, model(x))
    calls.clear(), stamps.clear()
    clock = iter([0.0, 1.0])
    trained._timed_logits(model, torch.randn(8, 3), 4)
    assert calls == [4, 4, 4] and stamps == [1, 3]  # no short last chunk, one warm-up


def test_a_sparsified_model_comes_back_with_its_masks(tmp_path):
    s = train(out=tmp_path / "snip", model="lenet300100", density=0.05, offset="none", prune_method="snip",
              optimizer="adam", lr=1e-3, epochs=1, dataset="synthetic", batch_size=64, progress=False)
    run = load_run(tmp_path / "snip")
    state = torch.load(tmp_path / "snip" / "checkpoint.pt", weights_only=False)["model"]
    for name, mask in ((k, v) for k, v in run.model.state_dict().items() if k.endswith(".mask")):
        assert torch.equal(mask, state[name])
    x, y = data.load("synthetic", "test").x, data.load("synthetic", "test").y
    with torch.no_grad():
        accuracy = 100.0 * float((run.model(x).argmax(1) == y).float().mean())
    assert accuracy == pytest.approx(s["test_accuracy"], abs=1e-9)


def test_bad_folders_get_one_line_errors(tmp_path, crelu_run):
    with pytest.raises(ValueError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no config\.json"):
        load_run(tmp_path / "empty")
    (tmp_path / "started").mkdir()
    config = json.loads((crelu_run[0] / "config.json").read_text())
    (tmp_path / "started" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"no checkpoint\.pt yet"):
        load_run(tmp_path / "started")
    (tmp_path / "started" / "summary.json").write_text(json.dumps({"status": "diverged"}))
    with pytest.raises(ValueError, match=r"ended \(diverged\) before its first epoch finished, so it has no weights"):
        load_run(tmp_path / "started")
    (tmp_path / "started" / "summary.json").write_text(json.dumps({"status": "ok", "epochs_done": 3}))
    with pytest.raises(ValueError, match=r"finished 3 epoch\(s\) but its checkpoint\.pt is missing"):
        load_run(tmp_path / "started")
    (tmp_path / "other").mkdir()  # a checkpoint of another network under this config
    (tmp_path / "other" / "config.json").write_text(json.dumps(config))
    state = torch.load(crelu_run[0] / "checkpoint.pt", weights_only=False)
    state["model"] = {k: v[:1] for k, v in state["model"].items()}
    torch.save(state, tmp_path / "other" / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"does not fit the network built for its config \(Error"):
        load_run(tmp_path / "other")
    with pytest.raises(ValueError, match="split must be one of train, val, test"):
        evaluate_run(crelu_run[0], split="validation")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        evaluate_run(crelu_run[0], batch_size=0)
    for bad in ({"mode": "fast"}, {"mode": "fast", "accelerate": True}):  # checked before anything is loaded
        with pytest.raises(ValueError, match=r"mode .*auto, sparse, dense"):
            evaluate_run(crelu_run[0].parent / "missing", **bad)
    with pytest.raises(ValueError, match="min_sparsity"):
        evaluate_run(crelu_run[0], accelerate=True, min_sparsity=1.5)


def test_cli(crelu_run):
    folder, summary = crelu_run
    cli = [sys.executable, "-m", "sparseinit.cli", "evaluate"]
    out = subprocess.run([*cli, str(folder), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-9)
    text = subprocess.run([*cli, str(folder), "--accelerate"], capture_output=True, text=True, check=True).stdout
    assert f"accuracy {summary['test_accuracy']:.2f}%" in text
    assert "accelerated (6 layers can skip zeros; 0 ran the sparse kernel at batch 256)" in text
    bad = subprocess.run([*cli, str(folder / "missing")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr


def test_cli_and_python_evaluate_in_the_same_batches():
    from sparseinit.cli import build_parser
    from sparseinit.training.loop import EVAL_BATCH

    args = build_parser().parse_args(["evaluate", "some_run"])
    assert args.batch_size == EVAL_BATCH == inspect.signature(evaluate_run).parameters["batch_size"].default


@pytest.mark.parametrize("readout", ["pool", "flatten"])
def test_a_cnn_run_comes_back(tmp_path, readout):
    s = train(out=tmp_path / "cnn", model="cnn", activation="cst", sparsity=0.8, readout=readout, epochs=1,
              **{**SMALL, "depth": 3, "width": 8})
    out = evaluate_run(tmp_path / "cnn", accelerate=True)
    assert out["accuracy"] == pytest.approx(s["test_accuracy"], abs=1e-9)
    assert out["sparsity"] == pytest.approx(s["test_sparsity"], abs=1e-9)
    assert out["max_logit_difference"] < 1e-4


def test_a_cst_runs_sparsity_counts_exact_zeros_not_negative_outputs(tmp_path):
    """cst passes negative values: the recorded sparsity is the fraction of exact zeros, counted here by hand."""
    s = train(out=tmp_path / "cst", activation="cst", sparsity=0.8, epochs=1, **SMALL)
    run = load_run(tmp_path / "cst")
    _, zeros = by_hand(run.model, "test")
    assert s["test_sparsity"] == pytest.approx(zeros, abs=1e-9)
    x = data.load("synthetic", "test").x
    with torch.no_grad():
        hidden = run.model.layers[:2](x)  # the first hidden layer's activations
    assert bool((hidden < 0).any()) and s["test_sparsity"] < 0.9


def test_train_accuracy_is_taken_on_the_first_examples_only(tmp_path, monkeypatch):
    import sparseinit.training.loop as loop
    import sparseinit.training.trained as trained

    monkeypatch.setattr(loop, "TRAIN_EVAL_SIZE", 300)
    monkeypatch.setattr(trained, "TRAIN_EVAL_SIZE", 300)
    s = train(out=tmp_path / "run", activation="crelu", sparsity=0.8, epochs=1, **SMALL)
    out = evaluate_run(tmp_path / "run", split="train")
    assert out["examples"] == 300 and out["accuracy"] == pytest.approx(s["train_accuracy"], abs=1e-9)
    first = data.load("synthetic", "train")
    model = load_run(tmp_path / "run").model
    with torch.no_grad():
        by_hand_300 = 100.0 * int((model(first.x[:300]).argmax(1) == first.y[:300]).sum()) / 300
    assert out["accuracy"] == pytest.approx(by_hand_300, abs=1e-9)


def test_evaluation_leaves_the_model_training():
    """Evaluation runs in eval mode (BatchNorm on running statistics) and hands the model back in train mode."""
    from sparseinit.training import distributed
    from sparseinit.training.loop import SparsityMeter, evaluate
    from sparseinit.zoo import zoo_model

    model = zoo_model("lenet5", in_channels=1, num_classes=10, image_size=8)
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(module.training))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x, y = torch.randn(20, 1, 8, 8) * 3 + 1, torch.randint(0, 10, (20,))
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    result = evaluate(model, SparsityMeter(model, torch.device("cpu")), x, y, distributed.Context(0, 1,
                                                                                                   torch.device("cpu")))
    assert seen and not any(seen) and model.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in running.items())  # a train-mode pass updates them
    seen.clear()
    with torch.no_grad():
        model.eval()
        by_hand = 100.0 * int((model(x).argmax(1) == y).sum()) / len(y)
    assert result["accuracy"] == pytest.approx(by_hand, abs=1e-9)


def test_cli_text_puts_each_number_of_evaluate_run_in_its_place(monkeypatch, capsys):
    # distinct values, so a field printed in another's place shows (dense and accelerated accuracy agree on a real run)
    fake = {"split": "val", "examples": 512, "epochs_trained": 1, "accuracy": 11.11, "loss": 2.2222,
            "sparsity": 0.333, "accelerated_layers": 4, "kernel_layers": 3, "accelerated_accuracy": 55.55,
            "max_logit_difference": 6.6e-7, "batch_size": 77, "dense_seconds": 8.88, "accelerated_seconds": 9.99}
    monkeypatch.setattr("sparseinit.training.trained.evaluate_run", lambda *a, **k: fake)
    from sparseinit.cli import main

    main(["evaluate", "some_run", "--accelerate"])
    dense, fast = capsys.readouterr().out.splitlines()
    assert dense == ("some_run: val (512 examples, weights after 1 epoch): accuracy 11.11%, loss 2.2222, "
                     "sparsity 0.333")
    assert fast == ("accelerated (4 layers can skip zeros; 3 ran the sparse kernel at batch 77): "
                    "accuracy 55.55%, largest logit difference 6.60e-07; "
                    "one pass at batch 77: dense 8.88 s, accelerated 9.99 s")
