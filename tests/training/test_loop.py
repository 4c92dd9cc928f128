"""The training loop end to end on the synthetic task: metrics, sparsity, divergence, kill -9 + resume, DDP."""

import copy
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import initial_model, load_run_data, lr_at, train

SMALL = {"dataset": "synthetic", "depth": 6, "width": 48, "batch_size": 64, "lr": 0.01}
CLI = [sys.executable, "-m", "sparseinit.cli", "train"]


def cli_args(**options):
    out = []
    for k, v in options.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


def test_learns_and_keeps_its_sparsity(tmp_path):
    s = train(out=tmp_path / "run", activation="crelu", sparsity=0.8, epochs=4, progress=False, **SMALL)
    assert s["status"] == "ok" and s["test_accuracy"] > 35.0  # chance is 10%
    assert abs(s["train_sparsity"] - 0.8) < 0.05 and abs(s["test_sparsity"] - 0.8) < 0.05
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert len(rows[-1]["test_layer_sparsity"]) == 6
    assert rows[-1]["test_sparsity"] == pytest.approx(sum(rows[-1]["test_layer_sparsity"]) / 6)
    required = {"dataset", "model", "depth", "width", "activation", "sparsity", "m", "q_star", "seed", "status",
                "test_accuracy", "train_sparsity", "test_sparsity", "wall_time_s"}
    assert required <= set(json.loads((tmp_path / "run" / "summary.json").read_text()))


def test_denormals_are_flushed_while_training_only(tmp_path, monkeypatch):
    import torch

    import sparseinit.training.loop as loop

    seen = []
    real_run = loop._run

    def spy(*args, **kwargs):
        seen.append(float(torch.tensor([1e-39]) * 1.0))  # a float32 denormal: 0 once flushed
        return real_run(*args, **kwargs)

    monkeypatch.setattr(loop, "_run", spy)
    train(out=tmp_path / "run", epochs=1, progress=False, **SMALL)
    assert seen == [0.0] and float(torch.tensor([1e-39]) * 1.0) > 0  # flushed in the run, default after it


def test_divergence_is_a_result(tmp_path):
    s = train(out=tmp_path / "run", activation="relu_tau", sparsity=0.9, epochs=2, progress=False,
              **{**SMALL, "lr": 50.0})
    assert s["status"] == "diverged" and s["epochs_done"] == 0
    assert 0 < s["diverged_step"] <= 2 * 2048 // 64  # after some updates (lr 50 is what blows it up), within the run


def test_finite_but_exploding_loss_is_divergence(tmp_path):
    # relu is positively homogeneous: inputs ×1e7 with the first layer left unscaled give logits, and a
    # cross-entropy, of order 1e7 — finite, but the activations have exploded
    s = train(out=tmp_path / "run", activation="relu", epochs=1, progress=False, input_scale=1e7, match_input=False,
              **SMALL)
    assert s["status"] == "diverged" and s["epochs_done"] == 0
    assert "exploding" in s["diverged_reason"] and s["diverged_step"] == 0  # the very first forward pass
    ok = train(out=tmp_path / "ok", activation="relu", epochs=1, progress=False, **SMALL)
    assert ok["status"] == "ok" and ok["diverged_reason"] is None and ok["diverged_step"] is None


def test_image_models_run_channels_last_on_the_cpu_and_compute_the_same_network():
    cpu = torch.device("cpu")
    config = TrainConfig(dataset="synthetic", model="cnn", depth=4, width=8, activation="crelu", sparsity=0.8)
    data = load_run_data(config, cpu)
    model = initial_model(config, data, 0, cpu)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not convs[1].weight.is_contiguous()  # 8 channels: the two formats differ in memory
    assert all(x.is_contiguous(memory_format=torch.channels_last) for x, _ in (data.train, data.val, data.test))
    reference = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    assert all(m.weight.is_contiguous() for m in reference.modules() if isinstance(m, torch.nn.Conv2d))
    x = data.test[0][:64]
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x.contiguous()), rtol=1e-4, atol=1e-5)


def test_lr_schedule():
    c = TrainConfig(lr=1.0, schedule="cosine", warmup_steps=10)
    assert lr_at(c, 0, 110) == pytest.approx(0.1) and lr_at(c, 10, 110) == pytest.approx(1.0)
    assert lr_at(c, 60, 110) == pytest.approx(0.5) and lr_at(c, 110, 110) == pytest.approx(0.0, abs=1e-12)
    floored = TrainConfig(lr=1.0, schedule="cosine", warmup_steps=10, min_lr=0.2)
    assert lr_at(floored, 0, 110) == pytest.approx(0.1)  # the warm-up is unchanged
    # min_lr + (lr - min_lr)(1 + cos(pi p))/2 at p = 0, 1/4, 1/2, 1, and past the end
    for step, expected in ((10, 1.0), (35, 0.2 + 0.8 * (1 + 2 ** -0.5) / 2), (60, 0.6), (110, 0.2), (200, 0.2)):
        assert lr_at(floored, step, 110) == pytest.approx(expected)


def test_kill_9_then_resume_gives_the_same_numbers(tmp_path):
    opts = {**SMALL, "activation": "cst", "sparsity": 0.8, "epochs": 8, "depth": 12, "width": 96}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = subprocess.run([*CLI, "--out", str(tmp_path / "ref"), "--json", *cli_args(**opts)], env=env,
                               capture_output=True, text=True, check=True)
    expected = json.loads(reference.stdout)

    run = tmp_path / "killed"
    proc = subprocess.Popen([*CLI, "--out", str(run), "--json", *cli_args(**opts)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.01)
    time.sleep(0.05)  # somewhere inside the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run finished before it could be killed"
    # --resume alone: the run's options come from its config.json
    resumed = subprocess.run([*CLI, "--out", str(run), "--resume", "--json"], env=env,
                             capture_output=True, text=True, check=True)
    got = json.loads(resumed.stdout)
    for key in ("test_accuracy", "val_accuracy", "train_accuracy", "train_sparsity", "test_sparsity"):
        assert got[key] == expected[key], key
    ref_rows = (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()
    assert (run / "metrics.jsonl").read_text().splitlines() == ref_rows


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="no torchrun")
def test_two_processes_match_one(tmp_path):
    opts = {**SMALL, "activation": "crelu", "sparsity": 0.8, "epochs": 2}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([*CLI, "--out", str(tmp_path / "one"), "--json", *cli_args(**opts)], env=env,
                         capture_output=True, text=True, check=True)
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    two = subprocess.run([torchrun, "--nproc_per_node=2", "-m", "sparseinit.cli", "train", "--out",
                          str(tmp_path / "two"), "--json", *cli_args(**opts)], env=env, capture_output=True,
                         text=True, check=True)
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert b["processes"] == 2 and a["processes"] == 1
    assert b["test_accuracy"] == pytest.approx(a["test_accuracy"], abs=0.5)
    losses = [[json.loads(line)["loss"] for line in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
              for d in ("one", "two")]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    # the finished folder again, without --resume: every process stops with the one-line refusal, none with a
    # lost-peer traceback
    again = subprocess.run([torchrun, "--nproc_per_node=2", "-m", "sparseinit.cli", "train", "--out",
                            str(tmp_path / "two"), *cli_args(**opts)], env=env, capture_output=True, text=True)
    assert again.returncode != 0 and again.stderr.startswith("sparseinit train: error: output folder")
    assert again.stderr.count("sparseinit train: error:") == 1 and "closed by peer" not in again.stderr
    assert not any("sparseinit" in line for line in again.stderr.splitlines() if line.lstrip().startswith("File "))


def test_sparse_models_train_with_their_masks_kept(tmp_path):
    import torch

    s = train(out=tmp_path / "dctps", dataset="synthetic", model="lenet300100", density=0.02, optimizer="adam",
              lr=1e-3, epochs=2, batch_size=128, progress=False)
    assert s["status"] == "ok" and s["trainable_density"] == pytest.approx(0.02, rel=0.01)
    assert s["stored_bytes"] < 0.1 * s["dense_bytes"]
    state = torch.load(tmp_path / "dctps" / "checkpoint.pt", weights_only=False)["model"]
    masks = {k[: -len(".mask")]: v for k, v in state.items() if k.endswith(".mask")}
    assert masks, "the model was not sparsified"
    for name, mask in masks.items():
        assert (state[f"{name}.weight"][~mask] == 0).all()  # exactly zero after Adam steps
    # the density the summary reports is the checkpoint's own: support entries over kernel entries
    on = sum(int(mask.sum()) for mask in masks.values())
    assert on / sum(mask.numel() for mask in masks.values()) == pytest.approx(0.02, rel=0.01)
    assert s["trainable_density"] == pytest.approx(on / sum(m.numel() for m in masks.values()), rel=1e-6)

    r = train(out=tmp_path / "rigl", dataset="synthetic", model="lenet300100", density=0.05, offset="none",
              prune_method="snip", rigl=True, rigl_every=4, optimizer="adam", lr=1e-3, epochs=1, progress=False)
    assert r["status"] == "ok" and r["rigl"] and r["trainable_density"] == pytest.approx(0.05, rel=0.02)


def test_options_a_model_ignores_are_normalised_away():
    a = TrainConfig(model="lenet5", activation="crelu", sparsity=0.8, depth=7)
    assert a.key() == TrainConfig(model="lenet5").key()
    assert TrainConfig(density=None, prune_method="snip").key() == TrainConfig().key()
    with pytest.raises(ValueError, match="rigl needs --density"):
        TrainConfig(rigl=True)
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        TrainConfig(density=0.0)


def test_a_closed_initialisation_is_reported_and_cannot_train(tmp_path, capsys):
    import torch

    from sparseinit import data
    from sparseinit.training.loop import build_model

    # width 4 at s = 0.9: seed 2 starts with hidden layer 3 off for every training input, seed 1 at width 6 open
    closed = {**SMALL, "width": 4, "depth": 6, "activation": "crelu", "sparsity": 0.9, "seed": 2, "epochs": 1}
    s = train(out=tmp_path / "closed", progress=False, **closed)
    assert s["init_closed_layers"] == [3] and s["init_min_selective"] == 0.0
    assert "hidden layer 3 of 6 has no unit on a linear piece" in capsys.readouterr().err
    # the claim of the warning: no layer up to the closed one moved in a whole epoch of SGD
    config = TrainConfig(**closed).normalised()
    train_set = data.load("synthetic", "train")
    torch.manual_seed(config.seed)
    start = build_model(config, train_set.shape, train_set.num_classes, float(train_set.x.pow(2).mean()))
    trained = torch.load(tmp_path / "closed" / "checkpoint.pt", weights_only=False)["model"]
    for name, value in start.state_dict().items():
        index = int(name.split(".")[1])
        if index <= 5:  # Flatten, then (Linear, activation) × 3
            assert torch.equal(trained[name], value), name
    assert not torch.equal(trained["layers.13.weight"], start.state_dict()["layers.13.weight"])  # the read-out did

    ok = train(out=tmp_path / "open", progress=False, **{**closed, "width": 6, "seed": 1})
    assert ok["init_closed_layers"] == [] and ok["init_min_selective"] > 0
    assert "warning" not in capsys.readouterr().err
    lenet = train(out=tmp_path / "lenet", dataset="synthetic", model="lenet300100", epochs=1, progress=False)
    assert lenet["init_closed_layers"] is None  # not an [A] network: not measured


def test_redraw_closed_draws_again_until_every_layer_is_open(tmp_path, capsys):
    import torch

    from sparseinit import data, input_selectivity
    from sparseinit.training.loop import REDRAW_SEED_STEP, build_model

    options = {**SMALL, "width": 6, "depth": 6, "activation": "crelu", "sparsity": 0.9, "seed": 0, "epochs": 1}
    train_set = data.load("synthetic", "train")
    config = TrainConfig(**options).normalised()

    def closed(draw):  # independently of the loop: the network redraw ``draw`` starts from
        torch.manual_seed(config.seed + REDRAW_SEED_STEP * draw)
        net = build_model(config, train_set.shape, train_set.num_classes, float(train_set.x.pow(2).mean()))
        return input_selectivity(net, train_set.x[:5000]).closed_layers

    draws = [closed(k) for k in range(4)]
    assert draws[0], "seed 0 at width 6 should start closed"
    first_open = next(k for k, c in enumerate(draws) if not c)
    s = train(out=tmp_path / "redrawn", progress=False, redraw_closed=3, **options)
    assert s["init_redraws"] == first_open and s["init_closed_layers"] == []
    assert f"redrawn {first_open} time(s); the one used is open" in capsys.readouterr().err
    # the default never redraws, and keeps the run's identity (older run folders keep their names)
    plain = train(out=tmp_path / "plain", progress=False, **options)
    assert plain["init_redraws"] == 0 and plain["init_closed_layers"] == [i + 1 for i in draws[0]]
    assert "redraw_closed" not in TrainConfig(**options).identity()
    assert TrainConfig(**options, redraw_closed=3).identity()["redraw_closed"] == 3
    with pytest.raises(ValueError, match="redraw_closed"):
        TrainConfig(redraw_closed=-1)

    # resumed from its checkpoint, the run rebuilds the draw it used, without probing or redrawing again
    (tmp_path / "redrawn" / "summary.json").unlink()
    capsys.readouterr()
    again = train(out=tmp_path / "redrawn", progress=False, resume=True, redraw_closed=3, **options)
    assert "redrawn" not in capsys.readouterr().err
    for key in ("init_redraws", "init_closed_layers", "init_min_selective", "test_accuracy", "test_sparsity"):
        assert again[key] == s[key], key


def test_min_selective_also_redraws_open_but_nearly_closed_initialisations(tmp_path, capsys):
    import torch

    from sparseinit import data, input_selectivity
    from sparseinit.training.loop import REDRAW_SEED_STEP, build_model

    options = {**SMALL, "width": 8, "depth": 6, "activation": "crelu", "sparsity": 0.9, "seed": 0, "epochs": 1}
    train_set = data.load("synthetic", "train")
    config = TrainConfig(**options).normalised()

    def probe(draw):  # independently of the loop: (closed?, narrowest selective fraction) of redraw ``draw``
        torch.manual_seed(config.seed + REDRAW_SEED_STEP * draw)
        net = build_model(config, train_set.shape, train_set.num_classes, float(train_set.x.pow(2).mean()))
        found = input_selectivity(net, train_set.x[:5000])
        return bool(found.closed_layers), found.min_fraction

    draws = [probe(k) for k in range(4)]
    first_open = next(k for k, (closed, _) in enumerate(draws) if not closed)
    first_kept = next(k for k, (closed, low) in enumerate(draws) if not closed and low >= 0.1)
    assert first_open < first_kept, "the case wanted: an open draw with under 10 % of a layer selective comes first"
    assert train(out=tmp_path / "open", progress=False, redraw_closed=3, **options)["init_redraws"] == first_open
    s = train(out=tmp_path / "kept", progress=False, redraw_closed=3, min_selective=0.1, **options)
    assert s["init_redraws"] == first_kept and s["init_min_selective"] == pytest.approx(draws[first_kept][1])
    assert "or under 0.1 of a layer's units input-selective and was redrawn" in capsys.readouterr().err
    assert TrainConfig(**options, redraw_closed=3, min_selective=0.1).identity()["min_selective"] == 0.1
    assert "min_selective" not in TrainConfig(**options, redraw_closed=3).identity()

    # out of redraws below the threshold: the last draw is used, and the run says so
    low = train(out=tmp_path / "low", progress=False, redraw_closed=1, min_selective=0.99, **options)
    assert low["init_redraws"] == 1 and low["status"] == "ok"
    assert "warning: out of redraws" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"min_selective must be in \[0, 1\)"):
        TrainConfig(redraw_closed=1, min_selective=1.0)
    with pytest.raises(ValueError, match=r"min_selective 0\.1 needs redraw_closed >= 1"):
        TrainConfig(min_selective=0.1)


def test_out_of_redraws_the_run_goes_on_closed_and_says_so(tmp_path, capsys):
    # width 4 at s = 0.9 on the synthetic task: seed 1 and its redraws 1 and 2 all start with closed layers
    options = {**SMALL, "width": 4, "depth": 6, "activation": "crelu", "sparsity": 0.9, "seed": 1, "epochs": 1}
    s = train(out=tmp_path / "run", progress=False, redraw_closed=2, **options)
    assert s["init_redraws"] == 2 and s["init_closed_layers"] and s["status"] == "ok"
    err = capsys.readouterr().err
    assert "redrawn 2 time(s)\n" in err.replace("\r", "")
    assert s["init_closed_layers"] == [3, 4, 5, 6]  # redraw 2's; every closed layer named, blocked up to the last
    assert "hidden layers 3, 4, 5, 6 of 6 have no unit" in err and "reaches layers 1-6," in err


def test_options_that_do_not_fit_the_data_fail_before_training_and_leave_the_folder_free(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"warmup_steps must be at most the run's \d+ optimizer steps"):
        train(out=out, warmup_steps=10**6, epochs=1, progress=False, **SMALL)
    assert not out.exists()  # nothing trained, nothing kept: the corrected run may use the folder
    with pytest.raises(ValueError, match=r"train_subset must be at most synthetic's \d+ training examples"):
        train(out=out, train_subset=10**7, epochs=1, progress=False, **SMALL)
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files but no sparseinit run"):
        train(out=out, epochs=1, progress=False, **SMALL)
    (out / "notes.txt").unlink()
    with pytest.raises(ValueError, match="rigl_every must be at most"):
        train(out=out, density=0.5, rigl=True, rigl_every=10**6, epochs=1, progress=False, **SMALL)
    with pytest.raises(ValueError, match=r"input_scale 1e\+30 makes synthetic's inputs overflow float32"):
        train(out=out, input_scale=1e30, epochs=1, progress=False, **SMALL)
    assert out.is_dir() and not any(out.iterdir())  # a folder the user made is emptied of what the run wrote only
    assert train(out=out, epochs=1, progress=False, **SMALL)["status"] == "ok"


def test_python_options_are_checked_like_the_command_line(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"^train\(\): unknown key 'lerning_rate'; valid keys: dataset"):
        train(out=out, lerning_rate=1e-3, **SMALL)
    with pytest.raises(ValueError, match=r"^train\(\): lr must be a number, got '1e-3'$"):
        train(out=out, **{**SMALL, "lr": "1e-3"})
    with pytest.raises(ValueError, match="config must be a TrainConfig or a dict of its options, got list"):
        train([1], out=out)
    assert not out.exists()
    # a dict of options is a config; keyword options go on top of it
    summary = train({**SMALL, "epochs": 2}, out=out, epochs=1, progress=False)
    assert summary["epochs"] == 1 and summary["depth"] == SMALL["depth"] and summary["status"] == "ok"


def test_the_recipe_against_a_loop_written_out_by_hand(tmp_path):
    """Every option of the recipe at once — input scale, the first-N training subset, warm-up then cosine, SGD with
    momentum and weight decay, gradient-norm clipping, a new data order each epoch — against plain torch: the run's
    final weights, its summary's accuracies and its best validation accuracy."""
    import math

    import torch.nn.functional as F

    from sparseinit import data
    from sparseinit.training.loop import dense_network

    recipe = {**SMALL, "activation": "crelu", "sparsity": 0.8, "epochs": 2, "seed": 3, "input_scale": 1.7,
              "train_subset": 1000, "warmup_steps": 5, "schedule": "cosine", "momentum": 0.8, "weight_decay": 1e-3,
              "grad_clip": 0.05, "lr": 0.05}
    summary = train(out=tmp_path / "run", progress=False, **recipe)
    config = TrainConfig.from_dict(recipe, "test")

    train_set = data.load("synthetic", "train")
    x, y = train_set.x[:1000] * 1.7, train_set.y[:1000]
    torch.manual_seed(3)  # draw 0 of seed 3
    model = dense_network(config, (1, 8, 8), 10, float(x.pow(2).mean()))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.8, weight_decay=1e-3)
    steps, total, clipped = 0, 2 * math.ceil(1000 / 64), 0
    for epoch in range(2):
        order = torch.randperm(1000, generator=torch.Generator().manual_seed(3 * 100_003 + epoch))
        for batch in order.split(64):
            warm = 0.05 * (steps + 1) / 5
            lr = warm if steps < 5 else 0.05 * 0.5 * (1 + math.cos(math.pi * (steps - 5) / (total - 5)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))
            if norm > 0.05:
                clipped += 1
                for p in model.parameters():
                    p.grad.mul_(0.05 / (norm + 1e-6))
            optimizer.step()
            steps += 1
    assert clipped > steps // 2  # the clip was active: a run without it would end elsewhere
    trained = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["model"]
    for name, value in model.state_dict().items():
        torch.testing.assert_close(trained[name], value, rtol=1e-4, atol=1e-5, msg=name)

    model.eval()
    with torch.no_grad():
        for split in ("val", "test"):
            held_out = data.load("synthetic", split)
            accuracy = 100.0 * float((model(held_out.x * 1.7).argmax(1) == held_out.y).float().mean())
            assert summary[f"{split}_accuracy"] == pytest.approx(accuracy, abs=0.2), split
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["best_val_accuracy"] == max(row["val_accuracy"] for row in history)
    assert summary["val_accuracy"] == history[-1]["val_accuracy"]


def test_the_pruning_batch_is_a_seeded_sample_of_the_training_subset():
    """SNIP/GraSP/FORCE read one batch: drawn from the (subset) training split, a different one per seed."""
    batches = []
    for seed in (1, 2):
        config = TrainConfig.from_dict({**SMALL, "seed": seed, "train_subset": 500, "density": 0.1,
                                        "prune_method": "snip"}, "test")
        run = load_run_data(config, torch.device("cpu"))
        x, y = run.prune_batch
        assert len(y) == 64
        rows = {tuple(r) for r in run.train[0].reshape(500, -1).tolist()}
        assert all(tuple(r) in rows for r in x.reshape(64, -1).tolist())
        batches.append(x)
    assert not torch.equal(*batches)


def _trained_state(tmp_path, name, config):
    train(config, out=tmp_path / name, progress=False)
    return torch.load(tmp_path / name / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


@pytest.mark.parametrize("optimizer,rtol", [("sgd", 2e-4), ("adam", 2e-3)])
def test_q_star_trains_as_its_unit_q_star_equivalent(tmp_path, optimizer, rtol):
    # [B]'s larger q* with the clip relative: the same seed's network and every step of training are the q* = 1
    # network's scaled by sqrt(q*) in its first layer and biases, once that network's logits are x2 and those
    # parameters learn at lr / q* (SGD) or lr / sqrt(q*) (Adam); the hidden and read-out weights are equal
    big = TrainConfig(**{**SMALL, "depth": 4, "activation": "crelu", "sparsity": 0.8, "q_star": 4.0,
                         "clip": "relative", "optimizer": optimizer, "lr": 3e-3 if optimizer == "sgd" else 1e-3,
                         "epochs": 2})
    scaled, unit = _trained_state(tmp_path, "q4", big), _trained_state(tmp_path, "q1", big.at_unit_q_star())
    first = "layers.1.weight"
    start = initial_model(big, load_run_data(big, torch.device("cpu")), 0, torch.device("cpu")).state_dict()
    moved = 0
    for name, value in scaled.items():
        factor = 2.0 if name.endswith("bias") or name == first else 1.0
        torch.testing.assert_close(value, factor * unit[name], rtol=rtol, atol=1e-6 * factor, msg=name)
        moved += not torch.allclose(value, start[name])
    assert moved == len(scaled)  # every parameter trained; none of the equalities is the initial draw's
    # and the equivalence is not trivially true: the q* = 1 run without the rescaled rates ends elsewhere
    plain = _trained_state(tmp_path, "q1_plain", dataclasses.replace(big.at_unit_q_star(), bias_lr_scale=1.0,
                                                                     first_layer_lr_scale=1.0))
    assert not torch.allclose(plain[first], unit[first], rtol=10 * rtol)


def test_resume_without_options_uses_the_saved_config(tmp_path):
    options = {**SMALL, "activation": "crelu", "sparsity": 0.8, "epochs": 2}
    first = train(out=tmp_path / "run", progress=False, **options)
    (tmp_path / "run" / "summary.json").unlink()  # the run looks unfinished after its last checkpoint
    again = train(out=tmp_path / "run", progress=False, resume=True)
    assert again["activation"] == "crelu" and again["test_accuracy"] == first["test_accuracy"]
    # with options, they must match the saved run as before
    with pytest.raises(ValueError, match="holds a different run"):
        train(out=tmp_path / "run", progress=False, resume=True, **{**options, "activation": "cst"})
