"""Plain sparse layers: exact support sizes, Kaiming on the support, forward = dense op with W ⊙ M."""

import math

import pytest
import torch
import torch.nn.functional as F

from sparseinit.layers import SparseConv2d, SparseLinear, random_mask


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def test_random_mask_exact_and_reproducible():
    m1 = random_mask((30, 40), 77, generator=torch.Generator().manual_seed(3))
    m2 = random_mask((30, 40), 77, generator=torch.Generator().manual_seed(3))
    assert m1.dtype == torch.bool and int(m1.sum()) == 77 and torch.equal(m1, m2)
    with pytest.raises(ValueError, match=r"nnz must be an integer in \[0, 4\], got 5"):
        random_mask((2, 2), 5)


@pytest.mark.parametrize("density", [1e-3, 0.05, 0.5, 1.0])
def test_support_size(density):
    layer = SparseLinear(300, 200, density=density)
    assert layer.nnz == round(density * 60000)
    assert int((layer.weight != 0).sum()) == layer.nnz
    assert layer.nnz == int(layer.mask.sum())


def test_kaiming_on_the_support():
    layer = SparseLinear(400, 500, density=0.2, generator=torch.Generator().manual_seed(0))
    values = layer.weight[layer.mask]
    assert values.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert abs(values.mean().item()) < 0.003
    assert not layer.weight[~layer.mask].any() and not layer.bias.any()
    sparse = SparseLinear(400, 500, density=0.2, fan_in="sparse", generator=torch.Generator().manual_seed(0))
    fan = sparse.mask.sum(1, keepdim=True).double()
    normalised = (sparse.weight.double() * (fan / 2).sqrt())[sparse.mask]
    assert normalised.std().item() == pytest.approx(1.0, rel=0.02)


def test_conv_forward_is_masked_conv():
    conv = SparseConv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=True, density=0.4)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(3, 4, 8, 9)
    ref = F.conv2d(x, conv.weight * conv.mask, conv.bias, 2, 1, (1, 2), 2)
    torch.testing.assert_close(conv(x), ref)
    assert conv.weight.shape == (6, 2, 3, 2)


def test_from_dense_keeps_weights_on_support():
    dense = torch.nn.Conv2d(3, 5, 3, bias=True)
    mask = torch.rand(dense.weight.shape) < 0.5
    layer = SparseConv2d.from_dense(dense, mask)
    torch.testing.assert_close(layer.weight, dense.weight * mask)
    assert torch.equal(layer.bias, dense.bias) and torch.equal(layer.mask, mask)
    with pytest.raises(ValueError, match="padding_mode"):
        SparseConv2d.from_dense(torch.nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular"))


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5, float("nan")])
def test_bad_density(density):
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        SparseLinear(3, 3, density=density)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mask must have the weight's shape"):
        SparseLinear(3, 4, mask=torch.ones(3, 4))
    with pytest.raises(ValueError, match="only 0 and 1"):
        SparseLinear(3, 4, mask=torch.full((4, 3), 2.0))
    with pytest.raises(ValueError, match="divisible by groups"):
        SparseConv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="unknown fan_in"):
        SparseLinear(3, 4, fan_in="wide")
    with pytest.raises(ValueError, match="in_features must be an integer"):
        SparseLinear(0, 4)


def test_kaiming_on_support_of_a_convolution_kernel_per_unit():
    """A conv kernel (out, in, kh, kw): dense fan-in is in·kh·kw; sparse fan-in is each unit's own support size."""
    from sparseinit.layers.sparse import kaiming_on_support_

    generator = torch.Generator().manual_seed(0)
    weight = torch.empty(64, 8, 3, 3)
    full = torch.ones_like(weight, dtype=torch.bool)
    kaiming_on_support_(weight, full, generator=generator)
    assert weight.std().item() == pytest.approx(math.sqrt(2 / (8 * 9)), rel=0.02)
    # units 0-127 keep 6 of their 72 entries, units 128-255 keep 60: per-unit scales differ by √10
    mask = torch.zeros(256, 8, 3, 3, dtype=torch.bool)
    flat = mask.view(256, -1)
    for unit in range(256):
        keep = 6 if unit < 128 else 60
        flat[unit, torch.randperm(72, generator=generator)[:keep]] = True
    weight = torch.empty(256, 8, 3, 3)
    kaiming_on_support_(weight, mask, fan_in="sparse", gain=1.5, generator=generator)
    assert not weight[~mask].any()
    for units, keep in [(slice(0, 128), 6), (slice(128, 256), 60)]:
        values = weight[units][mask[units]].double()
        assert values.numel() == 128 * keep
        assert values.std().item() == pytest.approx(1.5 / math.sqrt(keep), rel=0.08)  # 3 standard errors at 6
    kaiming_on_support_(weight, mask, fan_in="dense", gain=1.5, generator=generator)
    assert weight[mask].std().item() == pytest.approx(1.5 / math.sqrt(72), rel=0.03)


def test_convolution_arguments_are_checked_when_built_as_nn_conv2d_does():
    for kernel_size in ((3, 3, 3), (3,), 0):
        with pytest.raises(ValueError, match="kernel_size must be"):
            SparseConv2d(3, 4, kernel_size)
    with pytest.raises(ValueError, match="unknown padding 'foo'; choose one of valid, same"):
        SparseConv2d(3, 4, 3, padding="foo")
    with pytest.raises(ValueError, match=r"^padding must be an integer >= 0, got -1"):
        SparseConv2d(3, 4, 3, padding=-1)
    # what is accepted computes what nn.Conv2d computes with the same kernel
    x = torch.randn(2, 3, 6, 5)
    for kwargs in ({"kernel_size": (3, 1), "padding": (1, 0)}, {"kernel_size": 3, "padding": "same"}):
        layer = SparseConv2d(3, 4, density=0.5, bias=False, **kwargs)
        torch.testing.assert_close(layer(x), F.conv2d(x, layer.kernel(), padding=kwargs["padding"]))


def test_mask_and_initialiser_arguments():
    import numpy as np

    from sparseinit.layers.sparse import kaiming_on_support_

    with pytest.raises(ValueError, match=r"^nnz must be an integer in \[0, 9\], got 2\.5"):
        random_mask((3, 3), 2.5)
    with pytest.raises(ValueError, match=r"^every entry of shape must be an integer >= 1, got -3"):
        random_mask((3, -3), 2)
    with pytest.raises(ValueError, match=r"^shape must be a tuple of integers >= 1, got 5"):
        random_mask(5, 2)
    assert int(random_mask(torch.Size([2, 3]), np.int64(4)).sum()) == 4
    with pytest.raises(ValueError, match=r"mask must have the weight's shape \(3, 3\), got \(2, 2\)"):
        kaiming_on_support_(torch.zeros(3, 3), torch.ones(2, 2, dtype=torch.bool))
    layer = SparseLinear(np.int64(4), np.int32(3))
    assert layer.weight.shape == (3, 4)
