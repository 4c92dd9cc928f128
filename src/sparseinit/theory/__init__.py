"""Gaussian-process theory of sparse activations ([A] §2–3): exact maps, a numerical path, fixed points."""

from .maps import (
    FixedPoint,
    chi1,
    classify,
    correlation_map,
    fixed_points,
    mean_square,
    mean_square_derivative,
    propagate_correlation,
    propagate_variance,
    variance_map,
    variance_map_curvature,
    variance_map_slope,
)
from .piecewise import ACTIVATIONS, PiecewiseLinear, threshold_for_sparsity
from .quadrature import Elementwise

__all__ = [
    "ACTIVATIONS",
    "Elementwise",
    "FixedPoint",
    "PiecewiseLinear",
    "chi1",
    "classify",
    "correlation_map",
    "fixed_points",
    "mean_square",
    "mean_square_derivative",
    "propagate_correlation",
    "propagate_variance",
    "threshold_for_sparsity",
    "variance_map",
    "variance_map_curvature",
    "variance_map_slope",
]
