"""Saliency criteria against independent references: SNIP against the closed-form softmax-regression gradient,
GraSP's Hg against finite differences of the gradient, SynFlow against its closed form on a linear chain; the
iterative methods' schedules and one-round limits; every method on a plain and a DCTpS model."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparseinit.layers import DCTpSLinear, SparseConv2d, SparseLinear, masked_layers
from sparseinit.pruning import choose_masks, grasp_scores, schedule, select_top, snip_scores, synflow_scores
from sparseinit.pruning.methods import batches
from sparseinit.pruning.saliency import linearise_


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids oversubscription on shared cores
    yield
    torch.set_num_threads(threads)


def softmax_regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    layer = SparseLinear(6, 4, bias=False, dtype=torch.float64, generator=g)
    x = torch.randn(10, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (10,), generator=g)
    return layer, x, y


def test_snip_is_w_times_closed_form_gradient():
    layer, x, y = softmax_regression()
    w = layer.weight.detach()
    p = torch.softmax(x @ w.T, 1)
    grad = (p - F.one_hot(y, 4).double()).T @ x / len(y)  # ∂ mean CE / ∂W
    (score,) = snip_scores(layer, [layer.weight], (x, y), F.cross_entropy)
    torch.testing.assert_close(score, (w * grad).abs(), atol=1e-14, rtol=0)


def test_grasp_hessian_gradient_product_by_finite_differences():
    torch.manual_seed(0)
    model = nn.Sequential(SparseLinear(5, 7, dtype=torch.float64), nn.Tanh(), SparseLinear(7, 3, dtype=torch.float64))
    x = torch.randn(12, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (12,))
    weights = [layer.weight for layer in masked_layers(model)]
    t = 200.0
    scores = grasp_scores(model, weights, (x, y), F.cross_entropy, temperature=t)

    def grad_at(shift):
        with torch.no_grad():
            for w, s in zip(weights, shift, strict=True):
                w.add_(s)
        grads = torch.autograd.grad(F.cross_entropy(model(x) / t, y), weights)
        with torch.no_grad():
            for w, s in zip(weights, shift, strict=True):
                w.sub_(s)
        return grads

    g = grad_at([torch.zeros_like(w) for w in weights])
    eps = 1e-3 / max(gi.abs().max().item() for gi in g)
    plus = grad_at([eps * gi for gi in g])
    minus = grad_at([-eps * gi for gi in g])
    for w, s, gp, gm in zip(weights, scores, plus, minus, strict=True):
        hg = (gp - gm) / (2 * eps)
        torch.testing.assert_close(s, w.detach() * hg, rtol=1e-5, atol=1e-12)


def test_synflow_closed_form_on_a_linear_chain():
    torch.manual_seed(0)
    model = nn.Sequential(SparseLinear(4, 5, bias=False), nn.ReLU(), SparseLinear(5, 3, bias=False))
    w1, w2 = (layer.weight.detach().double().abs() for layer in masked_layers(model))
    linearise_(model)
    weights = [layer.weight for layer in masked_layers(model)]
    s1, s2 = synflow_scores(model, weights, (4,))
    # R = 1ᵀ |W2| |W1| 1  ⇒  ∂R/∂W1[i, j] = Σ_k |W2|[k, i],  ∂R/∂W2[k, i] = Σ_j |W1|[i, j]
    torch.testing.assert_close(s1, w1 * w2.sum(0)[:, None])
    torch.testing.assert_close(s2, w2 * w1.sum(1)[None, :])


def test_select_top_exact_counts_and_ties():
    scores = [torch.zeros(3, 4), torch.ones(5), torch.tensor([float("nan"), 2.0])]
    masks = select_top(scores, 7)
    assert sum(int(m.sum()) for m in masks) == 7
    assert masks[2].tolist() == [False, True] and bool(masks[1].all())
    per_layer = select_top(scores, [2, 0, 1])
    assert [int(m.sum()) for m in per_layer] == [2, 0, 1] and per_layer[2].tolist() == [False, True]


def test_schedule_is_exponential_and_exact_at_the_end():
    sizes = [1000, 9000]
    assert schedule(100, sizes, 10, 10) == 100
    assert schedule(100, sizes, 5, 10) == round(10000 * 0.01 ** 0.5)
    assert schedule([10, 900], sizes, 1, 2) == [round(1000 * 0.01 ** 0.5), round(9000 * 0.1 ** 0.5)]


def small_net(offset, seed=0):
    torch.manual_seed(seed)
    if offset:
        layers = [DCTpSLinear(12, 16), nn.ReLU(), DCTpSLinear(16, 16), nn.ReLU(), DCTpSLinear(16, 4)]
    else:
        layers = [SparseLinear(12, 16), nn.ReLU(), SparseLinear(16, 16), nn.ReLU(), SparseLinear(16, 4)]
    model = nn.Sequential(*layers)
    with torch.no_grad():  # candidate weights (sparsify copies the dense initialisation here)
        for layer in masked_layers(model):
            nn.init.kaiming_normal_(layer.weight)
    return model


DATA = (torch.randn(32, 12, generator=torch.Generator().manual_seed(9)),
        torch.randint(0, 4, (32,), generator=torch.Generator().manual_seed(9)))


@pytest.mark.parametrize("method", ["random", "magnitude", "snip", "grasp", "synflow", "force"])
@pytest.mark.parametrize("offset", [False, True])
def test_every_method_on_plain_and_dctps(method, offset):
    model = small_net(offset)
    layers = masked_layers(model)
    before = copy.deepcopy(model.state_dict())
    kwargs = {"data": DATA, "input_shape": (12,), "generator": torch.Generator().manual_seed(0)}
    masks = choose_masks(model, layers, 40, method, **kwargs)
    assert sum(int(m.sum()) for m in masks) == 40
    assert all(m.dtype == torch.bool and m.shape == layer.weight.shape for m, layer in zip(masks, layers,
                                                                                             strict=True))
    per_layer = choose_masks(model, layers, [5, 30, 7], method, **kwargs)
    assert [int(m.sum()) for m in per_layer] == [5, 30, 7]
    for key, value in model.state_dict().items():  # the model itself is untouched
        assert torch.equal(value, before[key])


def test_magnitude_and_grasp_keep_the_largest_signed_scores():
    model = small_net(False)
    layers = masked_layers(model)
    masks = choose_masks(model, layers, 25, "magnitude")
    flat = torch.cat([layer.weight.detach().abs().flatten() for layer in layers])
    threshold = flat.topk(25).values.min()
    for m, layer in zip(masks, layers, strict=True):
        assert bool((layer.weight.detach().abs()[m] >= threshold).all())
    assert sum(int(m.sum()) for m in masks) == 25  # an empty mask would pass the line above
    work = copy.deepcopy(model)
    scores = grasp_scores(work.train(), [layer.weight for layer in masked_layers(work)], DATA, F.cross_entropy)
    masks = choose_masks(model, layers, 25, "grasp", data=DATA)
    kept = torch.cat([s[m] for s, m in zip(scores, masks, strict=True)])
    dropped = torch.cat([s[~m] for s, m in zip(scores, masks, strict=True)])
    assert kept.min() >= dropped.max()  # signed: the most negative w ⊙ Hg are pruned first


def test_one_round_force_is_snip_and_one_round_synflow_is_single_shot():
    model = small_net(True)
    layers = masked_layers(model)
    snip = choose_masks(model, layers, 30, "snip", data=DATA)
    force = choose_masks(model, layers, 30, "force", data=DATA, iterations=1)
    assert all(torch.equal(a, b) for a, b in zip(snip, force, strict=True))
    work = linearise_(copy.deepcopy(model))
    scores = synflow_scores(work, [layer.weight for layer in masked_layers(work)], (12,))
    single = select_top(scores, 30)
    iterative = choose_masks(model, layers, 30, "synflow", iterations=1, input_shape=(12,))
    assert all(torch.equal(a, b) for a, b in zip(single, iterative, strict=True))


def _pruned_copy(model, masks=None, linear=False):
    """A copy with all-ones masks whose weights are the initial ones times ``masks`` (|·| when ``linear``)."""
    work = copy.deepcopy(model)
    if linear:
        linearise_(work)
    weights = [layer.weight for layer in masked_layers(work)]
    initial = [w.detach().clone() for w in weights]
    with torch.no_grad():
        for layer, w, w0, m in zip(masked_layers(work), weights, initial, masks or [None] * len(weights),
                                   strict=True):
            layer.mask.fill_(True)
            w.copy_(w0 if m is None else w0 * m)
    return work, weights, initial


def test_two_rounds_prune_the_network_between_rounds():
    """Round 2 scores the network pruned to round 1's support: SynFlow on |W0| ⊙ mask (only inside it), FORCE with
    gradients of W0 ⊙ mask but scores |W0 ⊙ g| everywhere (so it may revive). Written out here by hand."""
    model = small_net(False)
    layers = masked_layers(model)
    sizes = [layer.weight.numel() for layer in layers]
    first = schedule(30, sizes, 1, 2)
    assert 30 < first < sum(sizes)

    work, weights, _ = _pruned_copy(model, linear=True)
    round1 = select_top(synflow_scores(work, weights, (12,)), first)
    work, weights, _ = _pruned_copy(model, round1, linear=True)
    scores = [s.masked_fill(~m, float("-inf")) for s, m in zip(synflow_scores(work, weights, (12,)), round1,
                                                                  strict=True)]
    expected = select_top(scores, 30)
    synflow = choose_masks(model, layers, 30, "synflow", iterations=2, input_shape=(12,))
    assert all(torch.equal(a, b) for a, b in zip(synflow, expected, strict=True))
    single = choose_masks(model, layers, 30, "synflow", iterations=1, input_shape=(12,))
    assert not all(torch.equal(a, b) for a, b in zip(synflow, single, strict=True))  # the pruning changed it

    def force_scores(masks):
        work, weights, initial = _pruned_copy(model, masks)
        grads = torch.autograd.grad(F.cross_entropy(work(DATA[0]), DATA[1]), weights)
        return [(w0 * g).abs() for w0, g in zip(initial, grads, strict=True)]

    round1 = select_top(force_scores(None), first)
    expected = select_top(force_scores(round1), 30)
    force = choose_masks(model, layers, 30, "force", data=DATA, iterations=2)
    assert all(torch.equal(a, b) for a, b in zip(force, expected, strict=True))
    snip = choose_masks(model, layers, 30, "snip", data=DATA)
    assert not all(torch.equal(a, b) for a, b in zip(force, snip, strict=True))


def test_many_rounds_keep_exact_counts():
    # what happens between rounds: test_two_rounds_prune_the_network_between_rounds
    model = small_net(False)
    layers = masked_layers(model)
    synflow = choose_masks(model, layers, 30, "synflow", iterations=5, input_shape=(12,))
    assert sum(int(m.sum()) for m in synflow) == 30
    force = choose_masks(model, layers, 30, "force", data=DATA)
    assert sum(int(m.sum()) for m in force) == 30


def test_synflow_is_data_free_and_conv_ready():
    model = nn.Sequential(SparseConv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          SparseLinear(4 * 6 * 6, 5))
    model.input_shape = (3, 6, 6)
    masks = choose_masks(model, masked_layers(model), 50, "synflow", iterations=3)
    assert sum(int(m.sum()) for m in masks) == 50


def test_errors():
    model = small_net(False)
    layers = masked_layers(model)
    with pytest.raises(ValueError, match="method 'snip' needs data="):
        choose_masks(model, layers, 10, "snip")
    with pytest.raises(ValueError, match="unknown method 'obd'; choose one of random, snip, grasp, synflow, force"):
        choose_masks(model, layers, 10, "obd")
    with pytest.raises(ValueError, match="synflow needs the input shape"):
        choose_masks(model, layers, 10, "synflow")
    with pytest.raises(ValueError, match="iterations must be an integer >= 1"):
        choose_masks(model, layers, 10, "force", data=DATA, iterations=0)
    with pytest.raises(ValueError, match="data yielded no batch"):
        next(batches([]))


def test_select_top_checks_every_count():
    import numpy as np

    scores = [torch.randn(3, 4), torch.randn(5)]
    with pytest.raises(ValueError, match=r"^counts\[0\] must be an integer in \[0, 12\], got 20"):
        select_top(scores, [20, 1])  # was torch's "selected index k out of range"
    with pytest.raises(ValueError, match=r"^counts\[1\] must be an integer in \[0, 5\], got -1"):
        select_top(scores, [1, -1])
    with pytest.raises(ValueError, match=r"^counts must be an integer in \[0, 17\], got 18"):
        select_top(scores, 18)
    with pytest.raises(ValueError, match=r"^scores must hold at least one tensor"):
        select_top([], 0)
    # a numpy integer is one global count, as an int is: the 3 highest over both layers
    masks = select_top(scores, np.int64(3))
    top = torch.cat([s.flatten() for s in scores]).topk(3).values
    kept = torch.cat([s[m] for s, m in zip(scores, masks, strict=True)])
    assert sorted(kept.tolist()) == sorted(top.tolist())
