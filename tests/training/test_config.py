"""TrainConfig: validation with one-line errors, normalisation of ignored options, sweep-file coercion."""

import pytest

from sparseinit.training.config import TrainConfig


def test_defaults_and_normalisation():
    c = TrainConfig(activation="relu", sparsity=None)
    assert c.normalised().sparsity == 0.5 and c.eoc().sigma_w2 == pytest.approx(2.0)
    a = TrainConfig(activation="relu_tau", sparsity=0.8)
    assert a.key() == TrainConfig(activation="relu_tau", sparsity=0.8, device="cpu").key()  # device is not identity
    assert a.key() != TrainConfig(activation="relu_tau", sparsity=0.8, lr=0.1).key()


@pytest.mark.parametrize("kwargs,match", [
    ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
    ({"model": "transformer"}, "unknown model 'transformer'"),
    ({"depth": 0}, "depth must be an integer >= 1"),
    ({"lr": -1.0}, r"lr must be in \(0, inf\)"),
    ({"activation": "crelu", "sparsity": 2.0}, r"sparsity must be in \(0, 1\)"),
    ({"activation": "crelu", "sparsity": 0.8, "m": 1.0, "slope": 0.5}, "either m or slope"),
    ({"momentum": 1.5}, r"momentum must be in \[0, 1\)"),
])
def test_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_from_dict_catches_typos_and_types():
    with pytest.raises(ValueError, match=r"sweep.toml: unknown key 'learning_rate'; valid keys: dataset"):
        TrainConfig.from_dict({"learning_rate": 0.1}, where="sweep.toml")
    with pytest.raises(ValueError, match=r"lr must be a number, got 'fast'"):
        TrainConfig.from_dict({"lr": "fast"})
    with pytest.raises(ValueError, match=r"depth must be an integer, got 2\.5"):
        TrainConfig.from_dict({"depth": 2.5})
    assert TrainConfig.from_dict({"lr": 1, "sparsity": None, "activation": "relu"}).lr == 1.0


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": "1e-3"}, r"^lr must be a number, got '1e-3'$"),
    ({"activation": "crelu", "sparsity": "0.85"}, r"^sparsity must be a number or None, got '0.85'$"),
    ({"keep_first": "no"}, r"^keep_first must be true or false, got 'no'$"),
    ({"grad_clip": "1"}, r"^grad_clip must be a number or None, got '1'$"),
    ({"seed": 2**40}, r"seed must be an integer in \[0, 4294967295\]"),
    ({"train_subset": 1}, "train_subset must be an integer >= 2"),
])
def test_python_values_are_type_checked_like_a_sweep_file(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_python_numbers_and_paths_are_normalised_to_the_field_types():
    import pathlib

    import numpy as np

    c = TrainConfig(lr=1, seed=np.int64(3), sparsity=np.float64(0.85), activation="crelu",
                    data_root=pathlib.Path("/tmp/data"))
    assert (type(c.lr), type(c.seed), type(c.sparsity), c.data_root) == (float, int, float, "/tmp/data")
    assert c.key() == TrainConfig(lr=1.0, seed=3, sparsity=0.85, activation="crelu").key()  # the same run


def test_ignored_options_are_named_with_the_reason():
    c = TrainConfig(model="lenet5", depth=7, budget="erk", readout="flatten")
    lines = c.ignored_options(["depth", "budget", "readout", "lr"])
    assert lines == ["--depth has no effect here: lenet5 is not one of [A]'s Edge-of-Chaos models (mlp, cnn)",
                     "--budget has no effect here: it applies only with --density",
                     "--readout has no effect here: only the cnn takes it"]
    # a value equal to what the run uses anyway is not a mistake (relu at 0.5, the default depth)
    assert TrainConfig(activation="relu", sparsity=0.5, model="lenet5", depth=100).ignored_options(
        ["sparsity", "depth"]) == []
    cnn = TrainConfig(model="cnn", readout="flatten", kernel_size=5, activation="crelu", sparsity=0.85, m=2.0)
    assert cnn.ignored_options(["readout", "kernel_size", "m"]) == []
    assert TrainConfig(kernel_size=5).ignored_options(["kernel_size"]) == [
        "--kernel-size has no effect here: only the cnn takes it"]
    # the root reason comes first; a boolean switched off is named by its --no- spelling
    assert TrainConfig(model="resnet18", activation="crelu", sparsity=0.85, match_input=False).ignored_options(
        ["sparsity", "match_input"]) == [
        "--sparsity has no effect here: resnet18 is not one of [A]'s Edge-of-Chaos models (mlp, cnn)",
        "--no-match-input has no effect here: resnet18 is not one of [A]'s Edge-of-Chaos models (mlp, cnn)"]
    assert TrainConfig(model="lenet5", width_multiplier=2.0).ignored_options(["width_multiplier"]) == [
        "--width-multiplier has no effect here: only vgg*/resnet* take it"]
    assert TrainConfig(model="vgg11", width_multiplier=2.0).ignored_options(["width_multiplier"]) == []
    # what is ignored is exactly what normalised() resets
    assert c.normalised().depth == 100 and c.normalised().budget is None and c.normalised().readout == "pool"


def test_rigl_options_count_only_with_rigl():
    sparse = TrainConfig(model="lenet5", density=0.1, rigl_every=50, rigl_drop=0.2)
    assert sparse.ignored_options(["rigl_every", "rigl_drop"]) == [
        "--rigl-every has no effect here: it applies only with --rigl",
        "--rigl-drop has no effect here: it applies only with --rigl"]
    assert sparse.key() == TrainConfig(model="lenet5", density=0.1).key()  # the same run
    with_rigl = TrainConfig(model="lenet5", density=0.1, rigl=True, rigl_every=50)
    assert with_rigl.ignored_options(["rigl", "rigl_every"]) == []
    assert with_rigl.key() != TrainConfig(model="lenet5", density=0.1, rigl=True).key()


def test_at_unit_q_star_moves_q_star_into_temperature_and_learning_rates():
    c = TrainConfig(activation="crelu", sparsity=0.85, q_star=4.0, clip="relative", lr=3e-3, logit_scale=1.5)
    u = c.at_unit_q_star()
    assert (u.q_star, u.logit_scale, u.bias_lr_scale, u.first_layer_lr_scale) == (1.0, 3.0, 0.25, 0.25)
    assert (u.lr, u.m, u.clip, u.activation, u.sparsity) == (c.lr, c.m, c.clip, c.activation, c.sparsity)
    a = TrainConfig(activation="cst", sparsity=0.85, q_star=9.0, clip="relative", optimizer="adam").at_unit_q_star()
    assert (a.logit_scale, a.bias_lr_scale, a.first_layer_lr_scale) == pytest.approx((3.0, 1 / 3, 1 / 3))
    # q* = 1 is its own equivalent; an unclipped activation's threshold always scales with sqrt(q*)
    assert TrainConfig(activation="crelu", sparsity=0.8).at_unit_q_star() == TrainConfig(activation="crelu",
                                                                                        sparsity=0.8)
    assert TrainConfig(activation="st", sparsity=0.8, q_star=4.0).at_unit_q_star().logit_scale == 2.0


@pytest.mark.parametrize("kwargs,match", [
    ({"clip": "absolute"}, "clip m must be relative"),
    ({"grad_clip": 1.0}, "grad_clip must be off"),
    ({"weight_decay": 1e-4}, "weight_decay must be 0"),
    ({"match_input": False}, "match_input must be on"),
    ({"density": 0.1}, "must be dense"),
])
def test_at_unit_q_star_refuses_what_breaks_the_equivalence(kwargs, match):
    c = TrainConfig(**{"activation": "crelu", "sparsity": 0.85, "q_star": 4.0, "clip": "relative", **kwargs})
    with pytest.raises(ValueError, match=f"^no q\\* = 1 equivalent: .*{match}"):
        c.at_unit_q_star()
    with pytest.raises(ValueError, match="no Edge-of-Chaos point"):
        TrainConfig(model="lenet300100").at_unit_q_star()


def test_scales_are_validated_and_keep_earlier_run_keys():
    for name in ("logit_scale", "bias_lr_scale", "first_layer_lr_scale"):
        with pytest.raises(ValueError, match=rf"^{name} must be in \(0, inf\)"):
            TrainConfig(**{name: 0.0})
        assert name not in TrainConfig().identity()
        assert TrainConfig(**{name: 2.0}).key() != TrainConfig().key()
    assert TrainConfig(model="lenet300100", logit_scale=2.0).ignored_options(["logit_scale"])


def test_min_lr_is_a_cosine_floor_below_lr_and_keeps_earlier_run_keys():
    with pytest.raises(ValueError, match=r"^min_lr must be in \[0, 0.01\)"):
        TrainConfig(lr=1e-2, schedule="cosine", min_lr=1e-2)
    with pytest.raises(ValueError, match=r"^min_lr must be in"):
        TrainConfig(schedule="cosine", min_lr=-1e-4)
    assert "min_lr" not in TrainConfig().identity()  # runs from before the option keep their folders
    floored = TrainConfig(schedule="cosine", min_lr=1e-4)
    assert floored.key() != TrainConfig(schedule="cosine").key() and floored.ignored_options(["min_lr"]) == []
    constant = TrainConfig(min_lr=1e-4)  # the constant schedule has no floor to apply
    assert constant.ignored_options(["min_lr"]) and constant.normalised().min_lr == 0.0
    assert constant.key() == TrainConfig().key()
