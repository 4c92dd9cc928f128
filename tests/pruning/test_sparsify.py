"""sparsify: every layer replaced, realised density per budget, offset semantics (S = 0 and the model computes
α·D exactly; plain layers keep their initial weights on the support), keep_first/last, errors; density_report."""

import copy

import numpy as np
import pytest
import scipy.fft
import torch
import torch.nn.functional as F
from torch import nn

from sparseinit.layers import DCTpSConv2d, DCTpSLinear, SparseConv2d, SparseLinear, masked_layers
from sparseinit.pruning import density_report, sparsify


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, bias=False),
                         nn.ReLU(), nn.Flatten(), nn.Linear(8 * 3 * 3, 20), nn.ReLU(), nn.Linear(20, 5))


SIZES = [6 * 2 * 9, 8 * 6 * 9, 20 * 72, 5 * 20]
DATA = (torch.randn(16, 2, 7, 7), torch.randint(0, 5, (16,)))


@pytest.mark.parametrize("budget", ["epl", "uniform", "epf", "erk", "global"])
@pytest.mark.parametrize("density", [0.003, 0.05, 0.5, 1.0])
def test_realised_density(budget, density):
    model = sparsify(net(), density, budget=budget)
    report = density_report(model)
    assert report.nnz == max(1, round(density * sum(SIZES)))
    assert report.numel == sum(SIZES)
    assert [r.nnz for r in report.layers] == [layer.nnz for layer in masked_layers(model)]


def test_dct_offset_replaces_everything_and_starts_at_alpha_d():
    dense = net()
    model = sparsify(copy.deepcopy(dense), 0.05, offset="dct")
    kinds = [type(m) for m in model if not isinstance(m, (nn.ReLU, nn.Flatten))]
    assert kinds == [DCTpSConv2d, DCTpSConv2d, DCTpSLinear, DCTpSLinear]
    for layer in masked_layers(model):
        assert layer.alpha.item() == 1.0 and not layer.weight.any()
    # the dense network with each kernel replaced by the scipy DCT (flattened channel-fastest) computes the same
    reference = copy.deepcopy(dense)
    with torch.no_grad():
        for module in reference:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                w = module.weight
                p = w[0].numel()
                d = scipy.fft.dct(np.eye(max(w.shape[0], p)), norm="ortho", axis=0)[:w.shape[0], :p]
                d = torch.from_numpy(d).float()
                if w.dim() == 4:
                    d = d.reshape(w.shape[0], w.shape[2], w.shape[3], w.shape[1]).permute(0, 3, 1, 2)
                w.copy_(d)
    x = torch.randn(3, 2, 7, 7)
    torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)  # biases are copied


def test_plain_sparse_keeps_initial_weights_on_the_support():
    dense = net()
    model = sparsify(copy.deepcopy(dense), 0.1, offset=None, budget="uniform")
    dense_layers = [m for m in dense if isinstance(m, (nn.Conv2d, nn.Linear))]
    for old, new in zip(dense_layers, masked_layers(model), strict=True):
        assert isinstance(new, (SparseConv2d, SparseLinear)) and not new.has_offset
        torch.testing.assert_close(new.weight, old.weight * new.mask, rtol=0, atol=0)
        assert (old.bias is None) == (new.bias is None)


def test_seed_reproducible_and_distinct():
    a = masked_layers(sparsify(net(), 0.1, seed=1))
    b = masked_layers(sparsify(net(), 0.1, seed=1))
    c = masked_layers(sparsify(net(), 0.1, seed=2))
    assert all(torch.equal(x.mask, y.mask) for x, y in zip(a, b, strict=True))
    assert any(not torch.equal(x.mask, y.mask) for x, y in zip(a, c, strict=True))


def test_global_rng_untouched():
    model = net()
    torch.manual_seed(123)
    sparsify(model, 0.1, offset=None, seed=4)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(3))  # supports come from the seed alone


def test_keep_first_and_last():
    model = sparsify(net(), 0.1, keep_first=True, keep_last=True)
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[7], nn.Linear)
    assert isinstance(model[2], DCTpSConv2d) and isinstance(model[5], DCTpSLinear)
    report = density_report(model)
    assert report.layers[0].nnz == SIZES[0] and report.layers[-1].nnz == SIZES[-1]
    assert report.layers[1].nnz + report.layers[2].nnz == round(0.1 * (SIZES[1] + SIZES[2]))


@pytest.mark.parametrize("method", ["snip", "grasp", "synflow", "force", "magnitude"])
@pytest.mark.parametrize("offset", ["dct", None])
def test_scored_methods_train(method, offset):
    model = sparsify(net(), 0.05, offset=offset, method=method, data=DATA, iterations=3)
    assert density_report(model).nnz == round(0.05 * sum(SIZES))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    F.cross_entropy(model(DATA[0]), DATA[1]).backward()
    optimizer.step()
    for layer in masked_layers(model):
        assert not layer.weight[~layer.mask].any()


def test_density_report_bytes():
    model = sparsify(net(), 0.05, offset="dct")
    report = density_report(model)
    layers = masked_layers(model)
    expected = sum(layer.nnz * (4 + 4) + 4 + (0 if layer.bias is None else 4 * layer.bias.numel())
                   for layer in layers)
    assert report.stored_bytes == expected and report.other_bytes == 0
    assert report.dense_bytes == 4 * sum(SIZES) + 4 * (6 + 20 + 5)
    assert report.density == pytest.approx(report.nnz / sum(SIZES))
    text = str(report)
    assert "DCTpSConv2d" in text and "total" in text
    assert report.as_dict()["layers"][0]["shape"] == [6, 2, 3, 3]
    bn = density_report(nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.BatchNorm2d(2)))
    assert bn.density == 1.0 and bn.other_bytes == 4 * (2 + 2 + 2 + 2) + 8  # affine, running stats, counter


def test_errors():
    for density in (0, 1.5, -0.2):
        with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
            sparsify(net(), density)
    with pytest.raises(ValueError, match="unknown budget 'dense'; choose one of epl, uniform, epf, erk, global"):
        sparsify(net(), 0.1, budget="dense")
    with pytest.raises(ValueError, match="unknown method 'obd'; choose one of random, snip"):
        sparsify(net(), 0.1, method="obd")
    with pytest.raises(ValueError, match="unknown offset 'fft'"):
        sparsify(net(), 0.1, offset="fft")
    with pytest.raises(ValueError, match="method 'force' needs data="):
        sparsify(net(), 0.1, method="force")
    with pytest.raises(ValueError, match=r"no nn\.Linear or nn\.Conv2d layer to sparsify"):
        sparsify(nn.Sequential(nn.ReLU()), 0.1)
    with pytest.raises(ValueError, match="leave no layer"):
        sparsify(nn.Sequential(nn.Linear(2, 2)), 0.1, keep_first=True)
    with pytest.raises(ValueError, match=r"no nn\.Linear, nn\.Conv2d or sparse layer"):
        density_report(nn.Sequential(nn.ReLU()))
    for seed in (-1, 2**70, 1.0):  # what torch.Generator takes; 2**70 was an overflow trace
        with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 4294967295\], got"):
            sparsify(net(), 0.1, seed=seed)
    a, b = sparsify(net(), 0.1, seed=np.int64(7)), sparsify(net(), 0.1, seed=7)
    assert all(torch.equal(x.mask, y.mask) for x, y in zip(masked_layers(a), masked_layers(b), strict=True))
    model = net()
    with pytest.raises(ValueError):
        sparsify(model, 0.1, method="snip")
    assert isinstance(model[0], nn.Conv2d)  # validation happens before anything is replaced


def test_failure_leaves_the_model_untouched():
    x, y = DATA
    cases = [dict(method="synflow"),                                   # no input_shape and no data: ValueError
             dict(method="snip", data=x),                              # one tensor, not a pair
             dict(method="snip", data=(x,)),                           # a 1-tuple
             dict(method="snip", data=[x, (x, y)]),                    # a loader yielding a non-pair
             dict(method="synflow", input_shape=(3, 7, 7)),            # the model cannot run on that shape
             dict(seed="a")]
    messages = ["input_shape", "pair of tensors", "pairs of tensors", "pairs of tensors",
                "could not run the model", "seed must be an integer"]
    for kwargs, message in zip(cases, messages, strict=True):
        model = net()
        before = copy.deepcopy(model.state_dict())
        with pytest.raises(ValueError, match=message):
            sparsify(model, 0.1, **kwargs)
        assert [type(m) for m in model] == [type(m) for m in net()], kwargs
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and \
            set(model.state_dict()) == set(before)


def test_stored_index_width_follows_the_compact_layers_rule():
    """Indices are counted as CompactDCTpSLinear stores them: int32 for layers below 2³¹ entries (every flat index
    fits), int64 from 2³¹ entries on."""
    from sparseinit.pruning.report import _index_bytes

    assert torch.iinfo(torch.int32).max >= 2**31 - 2  # the last flat index of a layer of 2³¹ − 1 entries
    assert _index_bytes(2**31 - 1) == torch.int32.itemsize
    assert _index_bytes(2**31) == torch.int64.itemsize
    assert _index_bytes(1) == 4 and _index_bytes(10**12) == 8


@pytest.mark.parametrize(("first", "last"), [(True, False), (False, True)])
def test_keep_first_or_last_alone(first, last):
    model = sparsify(net(), 0.1, keep_first=first, keep_last=last)
    assert isinstance(model[0], DCTpSConv2d) != first and isinstance(model[7], DCTpSLinear) != last
    kept = [r.nnz == size for r, size in zip(density_report(model).layers, SIZES, strict=True)]
    assert kept == [first, False, False, last]


def test_default_budgets_epl_for_random_and_global_for_scored_methods():
    # SPEC §4: EPL gives every layer T / L (here every layer is larger than that): T = 104 = 4 × 26
    total = round(0.05 * sum(SIZES))
    assert total == 104 and min(SIZES) > total / 4
    random = sparsify(net(), 0.05, seed=3)
    assert [r.nnz for r in density_report(random).layers] == [26, 26, 26, 26]
    scored = sparsify(net(), 0.05, method="snip", data=DATA)
    explicit = sparsify(net(), 0.05, method="snip", data=DATA, budget="global")
    assert [r.nnz for r in density_report(scored).layers] == [r.nnz for r in density_report(explicit).layers]
    assert len({r.nnz for r in density_report(scored).layers}) > 1  # not EPL's equal shares


def test_replaced_layers_keep_the_models_mode():
    model = sparsify(net().eval(), 0.1)
    assert all(not module.training for module in model.modules())
    model = sparsify(net().train(), 0.1)
    assert all(module.training for module in model.modules())
