"""sparseinit: deep networks that are sparse from initialisation.

Sparse activations on the Edge of Chaos ([A] Price et al., ICLR 2024; [B] Dent & Tanner, 2026):

    >>> import sparseinit
    >>> point = sparseinit.edge_of_chaos("crelu", 0.85, m=1.0)      # τ, σ_w², σ_b², V'(q*), …
    >>> layer_act = point.module()                                  # ClippedReLU(tau=1.03643, m=1)
    >>> sparseinit.init_eoc_(model, point)                          # doctest: +SKIP

The exact Gaussian-process theory lives in :mod:`sparseinit.theory`; training (``train``, ``sweep``, ``report``;
``load_run`` / ``evaluate_run`` for a trained network) in :mod:`sparseinit.training`; offline data sets in
:mod:`sparseinit.data`; inference that skips zero activations in :mod:`sparseinit.acceleration` (``accelerate``)
and its FLOP/byte accounting in :mod:`sparseinit.cost`.
"""

from . import data, layers, pruning, theory, zoo
from .acceleration import SparseInputConv2d, SparseInputLinear, accelerate, acceleration_plan
from .activations import (
    ClippedReLU,
    ClippedSoftThreshold,
    ReLU,
    ShiftedReLU,
    SoftThreshold,
    activation,
)
from .cost import CostReport, LayerCost, cost
from .eoc import DEFAULT_M, EdgeOfChaos, clip_for_slope, edge_of_chaos
from .initialisation import init_eoc_
from .layers import (
    CompactDCTpSLinear,
    DCTpSConv2d,
    DCTpSLinear,
    SparseConv2d,
    SparseLinear,
    apply_masks_,
    compact_dctps,
    dct_matrix,
    keep_masks,
    masked_layers,
)
from .models import DeepCNN, DeepMLP
from .propagation import Propagation, propagate_network
from .pruning import RigL, density_report, layer_budgets, sparsify
from .selectivity import Selectivity, input_selectivity
from .training.config import TrainConfig
from .training.loop import train
from .training.report import report
from .training.sweep import sweep
from .training.trained import TrainedRun, evaluate_run, load_run
from .zoo import VGG, LeNet5, LeNet300100, ResNet18, ResNet20, zoo_model

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_M",
    "VGG",
    "ClippedReLU",
    "ClippedSoftThreshold",
    "CompactDCTpSLinear",
    "CostReport",
    "DCTpSConv2d",
    "DCTpSLinear",
    "DeepCNN",
    "DeepMLP",
    "EdgeOfChaos",
    "LayerCost",
    "LeNet5",
    "LeNet300100",
    "Propagation",
    "ReLU",
    "ResNet18",
    "ResNet20",
    "RigL",
    "Selectivity",
    "ShiftedReLU",
    "SoftThreshold",
    "SparseConv2d",
    "SparseInputConv2d",
    "SparseInputLinear",
    "SparseLinear",
    "TrainConfig",
    "TrainedRun",
    "accelerate",
    "acceleration_plan",
    "activation",
    "apply_masks_",
    "clip_for_slope",
    "compact_dctps",
    "cost",
    "data",
    "dct_matrix",
    "density_report",
    "edge_of_chaos",
    "evaluate_run",
    "init_eoc_",
    "input_selectivity",
    "keep_masks",
    "layer_budgets",
    "layers",
    "load_run",
    "masked_layers",
    "propagate_network",
    "pruning",
    "report",
    "sparsify",
    "sweep",
    "theory",
    "train",
    "zoo",
    "zoo_model",
]
