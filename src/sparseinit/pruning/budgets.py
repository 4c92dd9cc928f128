"""How many trainable weights each layer gets: the per-layer budgets of [C] §5 (SPEC §4).

With layers l = 1..L of |W_l| kernel weights and a target density d, the network has T = round(d · Σ|W_l|)
trainable weights (at least 1). Each rule returns integers nnz_l ≤ |W_l| with Σ nnz_l = T exactly, so the realised
density is the one asked for up to 1/Σ|W_l|:

    uniform   nnz_l ≈ d · |W_l|                                 (every layer at density d)
    epf       nnz_l ∝ C_out,l                                   (equal per filter / output unit)
    erk       nnz_l = min(|W_l|, ε · (C_out + C_in/g + k_h + k_w))   (Erdős–Rényi-kernel, Evci et al. 2020: the sum
              of the weight's dimensions; for a linear layer C_out + C_in), ε solved so that Σ nnz_l = T
    epl       nnz_l = min(|W_l|, ⌊T/L⌋), leftover to the last layer  ([C]'s default for DCTpS)

The proportional rules (uniform, epf, erk) are solved by water-filling: a layer whose share exceeds |W_l| is made
dense and the rest re-share the remainder, which is what renormalising ε means. For epl, any leftover the last
layer cannot hold (it is already dense) goes to the layer before it, and so on backwards — only possible at
densities where the small layers saturate, and the one choice that keeps both "leftover to the last layer" and
the exact total. Real-valued shares become integers by largest remainder.

"global" is not a rule here: it means one top-T over all layers' saliency scores (:mod:`.selection`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._validate import check_choice, check_int, check_range

BUDGETS = ("epl", "uniform", "epf", "erk")


def total_budget(density: float, sizes: Sequence[int]) -> int:
    """T = round(density · Σ sizes), at least 1 (density in (0, 1])."""
    density = check_range("density", density, 0.0, 1.0, hi_open=False)
    total = sum(sizes)
    return min(total, max(1, round(density * total)))


def layer_budgets(shapes: Sequence[Sequence[int]], density: float, budget: str = "epl") -> list[int]:
    """Trainable weights per layer for weights of ``shapes`` ((out, in) or (C_out, C_in/g, k_h, k_w)) at ``density``.

    Returns integers with sum exactly :func:`total_budget`.
    """
    check_choice("budget", budget, BUDGETS)
    if not shapes:
        raise ValueError("budgets need at least one layer")
    for layer, shape in enumerate(shapes):
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) not in (2, 4):
            raise ValueError(f"shapes[{layer}] must be a weight shape, (out, in) or (C_out, C_in/g, k_h, k_w), "
                             f"got {shape!r}")
        for size in shape:
            check_int(f"every entry of shapes[{layer}]", size, 1)
    sizes = [math.prod(shape) for shape in shapes]
    total = total_budget(density, sizes)
    if budget == "epl":
        return _equal_per_layer(sizes, total)
    if budget == "uniform":
        weights = [float(n) for n in sizes]
    elif budget == "epf":
        weights = [float(shape[0]) for shape in shapes]
    else:
        weights = [float(sum(shape)) for shape in shapes]
    return _round(_water_fill(weights, sizes, total), sizes, total)


def _equal_per_layer(sizes: list[int], total: int) -> list[int]:
    share = total // len(sizes)
    counts = [min(n, share) for n in sizes]
    leftover = total - sum(counts)
    for index in reversed(range(len(sizes))):
        take = min(leftover, sizes[index] - counts[index])
        counts[index] += take
        leftover -= take
    return counts


def _water_fill(weights: list[float], caps: list[int], total: int) -> list[float]:
    """x_l = min(cap_l, c · w_l) with Σ x_l = total (total ≤ Σ caps)."""
    dense: set[int] = set()
    while True:
        free = [i for i in range(len(caps)) if i not in dense]
        remaining = total - sum(caps[i] for i in dense)
        scale = remaining / sum(weights[i] for i in free)
        newly = {i for i in free if scale * weights[i] >= caps[i]}
        if not newly or len(newly) == len(free):
            dense |= newly
            break
        dense |= newly
    return [float(caps[i]) if i in dense else scale * weights[i] for i in range(len(caps))]


def _round(shares: list[float], caps: list[int], total: int) -> list[int]:
    counts = [min(cap, math.floor(x)) for x, cap in zip(shares, caps, strict=True)]
    order = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])  # largest remainder first
    short = total - sum(counts)
    for i in order:
        if short == 0:
            break
        if counts[i] < caps[i]:
            counts[i] += 1
            short -= 1
    return counts
