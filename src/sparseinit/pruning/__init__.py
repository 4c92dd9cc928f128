"""Sparse at initialisation: budgets, saliency methods, ``sparsify``, ``density_report`` and RigL ([C] §5)."""

from .budgets import BUDGETS, layer_budgets, total_budget
from .methods import METHODS, choose_masks
from .report import DensityReport, LayerDensity, density_report
from .rigl import RigL
from .saliency import grasp_scores, magnitude_scores, snip_scores, synflow_scores
from .selection import schedule, select_top
from .sparsify import prunable_layers, sparsify

__all__ = [
    "BUDGETS",
    "METHODS",
    "DensityReport",
    "LayerDensity",
    "RigL",
    "choose_masks",
    "density_report",
    "grasp_scores",
    "layer_budgets",
    "magnitude_scores",
    "prunable_layers",
    "schedule",
    "select_top",
    "snip_scores",
    "sparsify",
    "synflow_scores",
    "total_budget",
]
