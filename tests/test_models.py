"""[A]'s plain deep networks: layer structure, the CNN's two read-outs against a hand computation, bad input."""

import pytest
import torch

import sparseinit
from sparseinit.models import DeepCNN, DeepMLP, hidden_activations
from sparseinit.training.config import TrainConfig
from sparseinit.training.loop import train

CRELU = sparseinit.edge_of_chaos("crelu", 0.85)


def test_mlp_is_a_plain_stack_of_sparsified_layers():
    net = DeepMLP(5, 32, CRELU, in_features=20, num_classes=3)
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(20, 32)] + [(32, 32)] * 4 + [(32, 3)]
    assert len(hidden_activations(net)) == 5
    assert all(type(a) is type(CRELU.module()) and a.tau == CRELU.tau and a.m == CRELU.m
               for a in hidden_activations(net))  # every hidden layer is the EoC point's activation
    assert net(torch.randn(7, 1, 4, 5)).shape == (7, 3)


@pytest.mark.parametrize("readout", ["pool", "flatten"])
def test_cnn_readout_matches_a_hand_computation(readout):
    torch.manual_seed(0)
    net = DeepCNN(3, 8, CRELU, in_channels=2, num_classes=5, readout=readout, image_size=6).double()
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    h = x
    for module in net.layers:
        if isinstance(module, (torch.nn.AdaptiveAvgPool2d, torch.nn.Flatten)):
            break
        h = module(h)  # the last hidden activation, (4, 8, 6, 6)
    head = net.layers[-1]
    features = h.mean(dim=(2, 3)) if readout == "pool" else h.reshape(4, -1)  # channel-major, as nn.Flatten
    assert head.in_features == (8 if readout == "pool" else 8 * 6 * 6)
    torch.testing.assert_close(net(x), features @ head.weight.T + head.bias)
    # the read-out is initialised like every other layer: W ~ N(0, σ_w²/fan_in)
    assert head.weight.var().item() == pytest.approx(CRELU.sigma_w2 / head.in_features, rel=0.5)


def test_cnn_bad_input_is_one_line():
    with pytest.raises(ValueError, match="readout must be one of pool, flatten"):
        DeepCNN(2, 4, CRELU, readout="max")
    with pytest.raises(ValueError, match="needs image_size"):
        DeepCNN(2, 4, CRELU, readout="flatten")
    with pytest.raises(ValueError, match="image_size must be an integer >= 1"):
        DeepCNN(2, 4, CRELU, readout="flatten", image_size=0)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        DeepCNN(2, 4, CRELU, kernel_size=4)


def test_readout_option_keeps_earlier_run_keys():
    # the default read-out is left out of a run's identity, so runs made before the option existed keep their
    # folder names; only a cnn with the flatten read-out is a different run
    assert "readout" not in TrainConfig().identity()
    assert TrainConfig(readout="flatten").key() == TrainConfig().key()  # an mlp ignores it
    cnn = TrainConfig(model="cnn", depth=2, width=4)
    assert TrainConfig(model="cnn", depth=2, width=4, readout="flatten").key() != cnn.key()
    with pytest.raises(ValueError, match="readout"):
        TrainConfig(model="cnn", readout="max")


def test_cnn_with_flatten_readout_trains(tmp_path):
    s = train(out=tmp_path / "run", dataset="synthetic", model="cnn", depth=3, width=8, readout="flatten",
              activation="crelu", sparsity=0.7, epochs=3, batch_size=64, lr=0.01, progress=False)
    assert s["status"] == "ok" and s["test_accuracy"] > 30.0  # chance is 10 %


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
def test_cnn_layers_keep_the_image_size_for_every_kernel(kernel_size):
    net = DeepCNN(3, 4, CRELU, in_channels=1, num_classes=5, kernel_size=kernel_size, image_size=9,
                  readout="flatten")
    convs = [m for m in net.layers if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(kernel_size, kernel_size)] * 3
    shapes = []
    for conv in convs:
        conv.register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape[-2:])))
    assert net(torch.randn(2, 1, 9, 9)).shape == (2, 5)
    assert shapes == [(9, 9)] * 3


@pytest.mark.parametrize("model", [
    lambda moment: DeepMLP(2, 4000, CRELU, in_features=256, num_classes=3, input_second_moment=moment),
    lambda moment: DeepCNN(2, 256, CRELU, in_channels=1, num_classes=3, input_second_moment=moment, image_size=16),
])
def test_the_first_layer_starts_the_pre_activations_at_q_star(model):
    """Inputs of second moment 4: told so, the first layer puts its pre-activations at variance q* = 1; told 1,
    they come out at (q* − σ_b²)·4 + σ_b² (SPEC §2's recursion with the first layer's σ_w² = q* − σ_b²)."""
    x = 2.0 * torch.randn(64, 1, 16, 16, generator=torch.Generator().manual_seed(1))

    def first_variance(moment):
        torch.manual_seed(0)
        first = next(m for m in model(moment).layers if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
        with torch.no_grad():
            return first(x if isinstance(first, torch.nn.Conv2d) else x.flatten(1)).var().item()

    assert first_variance(4.0) == pytest.approx(CRELU.q_star, rel=0.1)  # zero padding: border pixels see less
    told_one = (CRELU.q_star - CRELU.sigma_b2) * 4 + CRELU.sigma_b2
    assert first_variance(1.0) == pytest.approx(told_one, rel=0.1)


def test_numpy_integers_are_sizes_like_ints():
    import numpy as np

    point = sparseinit.edge_of_chaos("crelu", 0.85)
    model = DeepMLP(np.int64(3), np.int32(20), point, in_features=np.int64(8), num_classes=np.int64(4))
    assert model(torch.randn(5, 8)).shape == (5, 4) and len(hidden_activations(model)) == 3
    with pytest.raises(ValueError, match=r"^width must be an integer >= 1, got 2\.0"):
        DeepMLP(3, 2.0, point)


def test_logit_scale_multiplies_the_logits_and_adds_no_state():
    plain = DeepMLP(3, 16, CRELU, in_features=12)
    scaled = DeepMLP(3, 16, CRELU, in_features=12, logit_scale=2.5)
    scaled.load_state_dict(plain.state_dict())  # strict: the same keys
    x = torch.randn(5, 12)
    torch.testing.assert_close(scaled(x), 2.5 * plain(x))
    assert hidden_activations(scaled) == list(scaled.layers)[2:-2:2]
    with pytest.raises(ValueError, match=r"^logit_scale must be in \(0, inf\)"):
        DeepCNN(2, 4, CRELU, logit_scale=-1.0)
