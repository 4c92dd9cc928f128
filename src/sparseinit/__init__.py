"""sparseinit: deep networks that are sparse from initialisation.

Sparse activations on the Edge of Chaos ([A] Price et al., ICLR 2024; [B] Dent & Tanner, 2026):

    >>> import sparseinit
    >>> point = sparseinit.edge_of_chaos("crelu", 0.85, m=1.0)      # τ, σ_w², σ_b², V'(q*), …
    >>> layer_act = point.module()                                  # ClippedReLU(tau=1.03643, m=1)
    >>> sparseinit.init_eoc_(model, point)                          # doctest: +SKIP

The exact Gaussian-process theory lives in :mod:`sparseinit.theory`; training (``train``, ``sweep``, ``report``)
in :mod:`sparseinit.training`; offline data sets in :mod:`sparseinit.data`.
"""

from . import data, theory
from .activations import (
    ClippedReLU,
    ClippedSoftThreshold,
    ReLU,
    ShiftedReLU,
    SoftThreshold,
    activation,
)
from .eoc import DEFAULT_M, EdgeOfChaos, clip_for_slope, edge_of_chaos
from .initialisation import init_eoc_
from .models import DeepCNN, DeepMLP
from .propagation import Propagation, propagate_network
from .training.config import TrainConfig
from .training.loop import train
from .training.report import report
from .training.sweep import sweep

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_M",
    "ClippedReLU",
    "ClippedSoftThreshold",
    "DeepCNN",
    "DeepMLP",
    "EdgeOfChaos",
    "Propagation",
    "ReLU",
    "ShiftedReLU",
    "SoftThreshold",
    "TrainConfig",
    "activation",
    "clip_for_slope",
    "data",
    "edge_of_chaos",
    "init_eoc_",
    "propagate_network",
    "report",
    "sweep",
    "theory",
    "train",
]
