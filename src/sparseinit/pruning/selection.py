"""Turning saliency scores into supports: top-k selection and the exponential schedule of iterative pruning.

``counts`` is either one integer T — keep the T highest scores over all layers together (the global threshold of
SNIP, GraSP, SynFlow and FORCE as published) — or one integer per layer (a budget of :mod:`.budgets`: keep the
highest nnz_l scores within layer l). Exactly that many entries are kept: ties are broken by ``torch.topk``, not
by a ``>=`` threshold that could keep more. NaN scores rank lowest.

Iterative methods prune in n rounds to the densities d^{t/n}, t = 1..n (SynFlow: Tanaka et al. 2020, eq. 6 and
§7; FORCE: de Jorge et al. 2021, §4): :func:`schedule` gives the counts of round t.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch

from .._validate import check_int

Counts = int | Sequence[int]


def _is_total(counts: Counts) -> bool:
    """One count for all layers together (any integer, numpy's included), not one per layer."""
    return isinstance(counts, numbers.Integral)


def _ranked(score: torch.Tensor) -> torch.Tensor:
    score = score.detach().double().flatten()
    return torch.where(torch.isnan(score), torch.full_like(score, float("-inf")), score)


def select_top(scores: Sequence[torch.Tensor], counts: Counts) -> list[torch.Tensor]:
    """Boolean masks (one per score tensor, same shape) keeping the highest scores: ``counts`` in all, or per layer."""
    if len(scores) == 0:
        raise ValueError("scores must hold at least one tensor, got none")
    if _is_total(counts):
        flat = torch.cat([_ranked(s).cpu() for s in scores])
        counts = check_int("counts", counts, 0, flat.numel())
        keep = torch.zeros(flat.numel(), dtype=torch.bool)
        keep[torch.topk(flat, counts, sorted=False).indices] = True
        masks, start = [], 0
        for s in scores:
            masks.append(keep[start:start + s.numel()].reshape(s.shape).to(s.device))
            start += s.numel()
        return masks
    if len(counts) != len(scores):
        raise ValueError(f"need one count per layer: {len(scores)} layers, {len(counts)} counts")
    masks = []
    for layer, (s, k) in enumerate(zip(scores, counts, strict=True)):
        k = check_int(f"counts[{layer}]", k, 0, s.numel())
        flat = _ranked(s)
        keep = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
        keep[torch.topk(flat, int(k), sorted=False).indices] = True
        masks.append(keep.reshape(s.shape))
    return masks


def schedule(counts: Counts, sizes: Sequence[int], step: int, steps: int) -> Counts:
    """Counts of round ``step`` (1..steps) on the way to ``counts``: N · (k/N)^{step/steps}, exact at the last round.

    For a global count N is Σ sizes; per layer, each layer follows its own exponential path.
    """
    if step >= steps:
        return counts
    frac = step / steps
    if _is_total(counts):
        total = sum(sizes)
        return max(counts, round(total * (counts / total) ** frac))
    return [max(k, round(n * (k / n) ** frac)) for k, n in zip(counts, sizes, strict=True)]
