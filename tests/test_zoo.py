"""The model zoo: standard parameter counts, shapes for any in_channels / num_classes / width, sparsify on every
model (plain and DCTpS, realised density exact, trains one step with masks intact), bad arguments."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparseinit.layers import masked_layers
from sparseinit.pruning import density_report, prunable_layers, sparsify
from sparseinit.zoo import VGG, ZOO, LeNet5, LeNet300100, ResNet18, ResNet20, zoo_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_standard_parameter_counts():
    assert count(LeNet300100()) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    # LeNet-5: convolutions without bias, each followed by BatchNorm (weight and bias per channel)
    assert count(LeNet5()) == (6 * 25 + 12) + (16 * 6 * 25 + 32) + (120 * 16 * 25 + 240) + (120 * 84 + 84) + 850
    assert count(ResNet20()) == 269_722  # He et al. 2016: 0.27M
    assert count(ResNet18()) == 11_173_962  # the usual CIFAR ResNet-18
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    convs = sum(9 * a * b + 2 * b for a, b in itertools.pairwise(channels))  # 3x3 conv + BN affine
    assert count(VGG(16)) == convs + 512 * 10 + 10 == 14_724_042


def test_vgg_depths_count_their_convolutions():
    for depth, convs in ((11, 8), (16, 13), (19, 16)):
        model = VGG(depth, width=0.125)
        assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize(("in_channels", "size"), [(1, 28), (3, 32)])
def test_shapes(name, in_channels, size):
    kwargs = {"in_channels": in_channels, "num_classes": 7, "image_size": size}
    if name.startswith(("vgg", "resnet")):
        kwargs["width"] = 0.125
    model = zoo_model(name, **kwargs)
    assert model.input_shape == (in_channels, size, size)
    assert model(torch.randn(2, in_channels, size, size)).shape == (2, 7)


def test_width_multiplier():
    assert ResNet18(width=0.5).fc.in_features == 256
    assert ResNet20(width=2).fc.in_features == 128
    assert VGG(11, width=0.25).classifier.in_features == 128
    assert VGG(11, width=0.001).classifier.in_features == 1  # at least one channel


def test_kaiming_initialisation():
    model = LeNet300100()
    w = model.layers[1].weight
    assert w.std().item() == pytest.approx((2 / 784) ** 0.5, rel=0.02)
    assert not model.layers[1].bias.any()


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("offset", ["dct", None])
def test_sparsify_every_model(name, offset):
    kwargs = {"width": 0.125} if name.startswith(("vgg", "resnet")) else {}
    channels = 1 if name.startswith("lenet") else 3
    size = 28 if name.startswith("lenet") else 32
    model = zoo_model(name, in_channels=channels, num_classes=10, **kwargs)
    sizes = [m.weight.numel() for _, m in prunable_layers(model)]
    sparsify(model, 0.01, offset=offset)
    assert not prunable_layers(model)  # every linear / conv layer replaced
    report = density_report(model)
    assert report.nnz == round(0.01 * sum(sizes)) and report.numel == sum(sizes)
    x, y = torch.randn(4, channels, size, size), torch.randint(0, 10, (4,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    loss = F.cross_entropy(model(x), y)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    for layer in masked_layers(model):
        assert not layer.weight[~layer.mask].any()


def test_dctps_signal_propagates_at_tiny_density():
    # [C]'s point: at 1e-4 a plain sparse ResNet-18 has (near) empty layers, the DCTpS one still has signal
    x = torch.randn(4, 3, 32, 32)
    plain = sparsify(ResNet18(width=0.25), 1e-4, offset=None).eval()
    dct = sparsify(ResNet18(width=0.25), 1e-4, offset="dct").eval()
    assert dct(x).std(0).mean() > 100 * plain(x).std(0).mean()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'alexnet'; choose one of lenet300100, lenet5"):
        zoo_model("alexnet")
    with pytest.raises(ValueError, match="unknown VGG depth 13; choose one of 11, 16, 19"):
        VGG(13)
    with pytest.raises(ValueError, match="width must be a number > 0"):
        ResNet18(width=0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        LeNet5(num_classes=0)
    assert LeNet5(image_size=8)(torch.randn(2, 1, 8, 8)).shape == (2, 10)  # small inputs are padded to 32
    with pytest.raises(ValueError, match=r"vgg11 needs images of at least 16x16 \(4 max-pools\), got 8x8"):
        VGG(11, image_size=8)
    assert VGG(11, in_channels=1, image_size=16, width=0.125)(torch.randn(2, 1, 16, 16)).shape == (2, 10)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_relu_is_a_module_the_sparsity_meter_sees(name, monkeypatch):
    """Each ReLU the forward applies is an activation module (F.relu inside forward would go unmeasured)."""
    from sparseinit.models import hidden_activations

    model = zoo_model(name, in_channels=1, num_classes=10, image_size=28).eval()
    seen = []
    for module in hidden_activations(model):
        module.register_forward_hook(lambda mod, inp, out: seen.append(mod))
    calls = []
    relu = F.relu
    monkeypatch.setattr(F, "relu", lambda x, inplace=False: calls.append(1) or relu(x, inplace=inplace))
    # a ReLU applied any other way (torch.relu, Tensor.relu, clamp(min=0)) outside an activation module is counted too
    inside, outside = [0], []
    for module in hidden_activations(model):
        module.register_forward_pre_hook(lambda mod, args: inside.__setitem__(0, inside[0] + 1))
        module.register_forward_hook(lambda mod, args, out: inside.__setitem__(0, inside[0] - 1))

    def watch(owner, name):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            if not inside[0]:
                outside.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    for owner, name in ((torch, "relu"), (torch, "relu_"), (torch.Tensor, "relu"), (torch.Tensor, "relu_"),
                        (torch, "clamp"), (torch.Tensor, "clamp"), (torch.Tensor, "clamp_")):
        watch(owner, name)
    with torch.no_grad():
        model(torch.randn(2, 1, 28, 28))
    assert len(calls) == len(seen) > 0 and len(set(map(id, seen))) == len(seen)
    assert outside == []


@pytest.mark.parametrize(("model", "sizes"), [
    (lambda: ResNet20(width=0.25), [32] * 3 + [16] * 3 + [8] * 3),  # He et al. 2016 §4.2: maps of 32, 16, 8
    (lambda: ResNet18(width=0.125), [32] * 2 + [16] * 2 + [8] * 2 + [4] * 2),
])
def test_resnet_stages_halve_the_feature_map(model, sizes):
    model = model()
    seen = []
    for block in model.blocks:
        block.register_forward_hook(lambda module, args, out: seen.append(out.shape[-1]))
    model(torch.randn(2, 3, 32, 32))
    assert seen == sizes


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_a_block_whose_residual_branch_is_zero_passes_its_shortcut(shortcut):
    """out = ReLU(F(x) + shortcut(x)): with F ≡ 0 a block is ReLU(x) (same shape), or ReLU of x subsampled by the
    stride and zero-padded to the new channels (option A)."""
    from sparseinit.zoo import BasicBlock

    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 8)
    same = BasicBlock(4, 4).eval()
    nn.init.zeros_(same.conv2.weight)
    torch.testing.assert_close(same(x), F.relu(x))
    down = BasicBlock(4, 8, stride=2, shortcut=shortcut).eval()
    nn.init.zeros_(down.conv2.weight)
    if shortcut == "A":
        expected = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 4, 4, 4)], 1)
    else:
        expected = down.shortcut[1](F.conv2d(x, down.shortcut[0].weight, stride=2))
    torch.testing.assert_close(down(x), F.relu(expected))
    assert bool((down(x) > 0).any())


@pytest.mark.parametrize("depth", [11, 16, 19])
def test_vgg_max_pools_halve_the_image_four_times(depth):
    """The CIFAR VGGs of the pruning-at-initialisation papers (GraSP's configs): four max-pools, the fifth stage
    read by the global average pool, so 32×32 images reach it as 2×2 maps."""
    model = VGG(depth, width=0.125)
    assert model.features(torch.randn(2, 3, 32, 32)).shape[-2:] == (2, 2)
    assert model.features(torch.randn(2, 3, 48, 48)).shape[-2:] == (3, 3)


def test_numpy_integers_are_accepted_as_sizes():
    import numpy as np

    assert LeNet5(in_channels=np.int64(1), num_classes=np.int64(7))(torch.randn(2, 1, 28, 28)).shape == (2, 7)
    with pytest.raises(ValueError, match=r"^num_classes must be an integer >= 1, got 7\.0"):
        LeNet5(num_classes=7.0)
