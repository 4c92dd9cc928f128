"""Saliency scores of pruning at initialisation, one function per published criterion (higher = keep).

Every function scores the tensors ``weights`` (the kernels of the layers being pruned) of ``model`` as it stands:
the caller decides which network is evaluated (the dense candidate, or a partly pruned one) by what it writes in
the weights. For a DCT-plus-Sparse model the forward includes the offsets α·D, so the scores are those of the
sparse part S inside the network that will be trained.

    snip       |w ⊙ ∂L/∂w|, one mini-batch                 Lee et al., ICLR 2019 (SNIP), eq. 6
    grasp      w ⊙ H g, g = ∂L/∂w, logits / T (T = 200)    Wang et al., ICLR 2020 (GraSP), eq. 8: GraSP removes
               the largest −w ⊙ H g, i.e. keeps the largest w ⊙ H g
    synflow    |w ⊙ ∂R/∂w|, R = 1ᵀ f(1; |w|), data-free    Tanaka et al., NeurIPS 2020 (SynFlow), eq. 5: all
               parameters replaced by their absolute values, an all-ones input, float64, BatchNorm in eval mode
    magnitude  |w|
    FORCE (de Jorge et al., ICLR 2021) is SNIP's |w ⊙ g| with w the *unpruned* initial weights and g the gradient of
    the *pruned* network; see :mod:`.methods`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def gradients(model: nn.Module, weights: Sequence[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor],
              loss_fn: Loss) -> list[torch.Tensor]:
    """∂L/∂w for each of ``weights`` on one mini-batch (zeros for a weight the loss does not reach)."""
    return _zero_if_none(_gradients(model, weights, batch, loss_fn), weights)


def _gradients(model: nn.Module, weights: Sequence[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor],
               loss_fn: Loss, scale: float = 1.0, create_graph: bool = False) -> tuple[torch.Tensor, ...]:
    x, y = batch
    loss = loss_fn(model(x) / scale if scale != 1.0 else model(x), y)
    return torch.autograd.grad(loss, list(weights), create_graph=create_graph, allow_unused=True)


def _zero_if_none(grads: Sequence[torch.Tensor | None], weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.zeros_like(w) if g is None else g for g, w in zip(grads, weights, strict=True)]


def snip_scores(model: nn.Module, weights: Sequence[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor],
                loss_fn: Loss) -> list[torch.Tensor]:
    """|w ⊙ ∂L/∂w| on one mini-batch: the connection sensitivity |∂L/∂c| at c = 1 (SNIP eq. 6, unnormalised)."""
    grads = gradients(model, weights, batch, loss_fn)
    return [(w.detach() * g).abs() for w, g in zip(weights, grads, strict=True)]


def grasp_scores(model: nn.Module, weights: Sequence[torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor],
                 loss_fn: Loss, temperature: float = 200.0) -> list[torch.Tensor]:
    """w ⊙ H g with g = ∇L and H the Hessian, on logits divided by ``temperature`` (GraSP Alg. 1).

    H g = ∇(gᵀ stop_grad(g)) by double backpropagation. Kept: the largest values (GraSP prunes the largest −w ⊙ Hg).
    """
    g_fixed = [g.detach() for g in _zero_if_none(_gradients(model, weights, batch, loss_fn, temperature), weights)]
    g_live = _gradients(model, weights, batch, loss_fn, temperature, create_graph=True)
    z = sum((g * f).sum() for g, f in zip(g_live, g_fixed, strict=True) if g is not None)
    hg = _zero_if_none(torch.autograd.grad(z, list(weights), allow_unused=True), weights)
    return [w.detach() * h for w, h in zip(weights, hg, strict=True)]


@torch.no_grad()
def linearise_(model: nn.Module) -> nn.Module:
    """SynFlow's network: float64, every parameter replaced by its absolute value, BatchNorm in eval mode."""
    model.double().eval()
    for p in model.parameters():
        p.abs_()
    return model


def synflow_scores(model: nn.Module, weights: Sequence[torch.Tensor],
                   input_shape: Sequence[int]) -> list[torch.Tensor]:
    """|w ⊙ ∂R/∂w| with R = Σ f(1) on a :func:`linearise_`-d ``model`` (SynFlow eq. 5; data-free)."""
    first = next(iter(weights))
    ones = torch.ones((1, *input_shape), dtype=first.dtype, device=first.device)
    r = model(ones).sum()
    grads = _zero_if_none(torch.autograd.grad(r, list(weights), allow_unused=True), weights)
    return [(w.detach() * g).abs() for w, g in zip(weights, grads, strict=True)]


def magnitude_scores(weights: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """|w|."""
    return [w.detach().abs() for w in weights]
