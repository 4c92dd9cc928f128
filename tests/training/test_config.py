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
    ({"lr": -1.0}, r"lr must be in \(0.0, inf\)"),
    ({"activation": "crelu", "sparsity": 2.0}, r"sparsity must be in \(0.0, 1.0\)"),
    ({"activation": "crelu", "sparsity": 0.8, "m": 1.0, "slope": 0.5}, "either m or slope"),
    ({"momentum": 1.5}, r"momentum must be in \[0.0, 1.0\)"),
])
def test_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_from_dict_catches_typos_and_types():
    with pytest.raises(ValueError, match=r"sweep.toml: unknown key 'learning_rate'; valid keys: dataset"):
        TrainConfig.from_dict({"learning_rate": 0.1}, where="sweep.toml")
    with pytest.raises(ValueError, match=r"lr must be float, got 'fast'"):
        TrainConfig.from_dict({"lr": "fast"})
    with pytest.raises(ValueError, match=r"depth must be int, got 2\.5"):
        TrainConfig.from_dict({"depth": 2.5})
    assert TrainConfig.from_dict({"lr": 1, "sparsity": None, "activation": "relu"}).lr == 1.0
