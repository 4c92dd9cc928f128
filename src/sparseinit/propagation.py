"""Signal propagation through a random finite-width network at its EoC point, against the GP theory ([A] §3).

The first pre-activation h¹ ~ N(0, q⁰) per unit; then h^{l+1} = W^{l+1} φ(h^l) + b^{l+1} through a real
nn.Linear re-drawn by :func:`init_eoc_` at every layer. Measured: the mean square of h^l (its variance q^l) and
the fraction of exact zeros in φ(h^l); theory: q^{l+1} = V(q^l) and the zero fraction at q^l.

Started above q*, ReLU_τ / ST_τ on the EoC run away (V'(q*) = 1, V''(q*) > 0) and their sparsity drifts down;
CReLU / CST return to q* and to the target sparsity — the picture of [A]'s instability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._validate import MAX_SEED, check_int, check_range
from .eoc import EdgeOfChaos
from .initialisation import init_eoc_

MAX_Q0 = 1e12  # starting variances beyond this overflow the plots' log axes


@dataclass(frozen=True)
class Propagation:
    """Per-layer measured and predicted variance and sparsity for one start q⁰ (arrays of length depth)."""

    eoc: EdgeOfChaos
    q0: float
    width: int
    variance: np.ndarray
    sparsity: np.ndarray
    theory_variance: np.ndarray
    theory_sparsity: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready: the EoC point, q0, width and the four per-layer curves (non-finite values as None)."""
        def clean(a: np.ndarray) -> list:
            return [float(v) if np.isfinite(v) else None for v in a]

        return {
            "eoc": self.eoc.to_dict(), "q0": self.q0, "width": self.width,
            "variance": clean(self.variance), "sparsity": clean(self.sparsity),
            "theory_variance": clean(self.theory_variance), "theory_sparsity": clean(self.theory_sparsity),
        }


@torch.no_grad()
def propagate_network(
    eoc: EdgeOfChaos, q0: float, *, depth: int = 100, width: int = 1000, n_inputs: int = 16, seed: int = 0,
) -> Propagation:
    """Push ``n_inputs`` random inputs through a depth-``depth``, width-``width`` random network (float64)."""
    q0 = check_range("q0", q0, 0.0, MAX_Q0, hi_open=False)
    # one width × width float64 layer is reused for every depth: 16,384 units is 2 GiB
    for name, value, hi in (("depth", depth, 100_000), ("width", width, 16_384), ("n_inputs", n_inputs, 65_536)):
        check_int(name, value, 1, hi)
    check_int("seed", seed, 0, MAX_SEED)
    gen = torch.Generator().manual_seed(seed)
    act = eoc.module()
    layer = nn.Linear(width, width, dtype=torch.float64)
    h = torch.randn(n_inputs, width, generator=gen, dtype=torch.float64) * math.sqrt(q0)
    variance, sparsity = np.empty(depth), np.empty(depth)
    for index in range(depth):
        a = act(h)
        variance[index] = h.square().mean().item()
        sparsity[index] = (a == 0).double().mean().item() if torch.isfinite(h).all() else np.nan
        init_eoc_(layer, eoc, input_second_moment=None, generator=gen)
        h = layer(a)
    theory_variance = eoc.propagate(q0, depth - 1)
    with np.errstate(over="ignore", invalid="ignore"):
        theory_sparsity = eoc.zero_fraction(np.minimum(theory_variance, 1e300))
    return Propagation(eoc, q0, width, variance, sparsity, theory_variance, theory_sparsity)
