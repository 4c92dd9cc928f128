"""Sparse and DCT-plus-Sparse layers ([C] Price & Tanner, ICML 2021), and the machinery that keeps masks exact."""

from .dct import cached_dct, dct_conv_kernel, dct_matrix
from .dctps import DCTpSConv2d, DCTpSLinear
from .masking import apply_masks_, keep_masks, masked_layers, zero_masked_state_
from .sparse import MaskedLayer, SparseConv2d, SparseLinear, kaiming_on_support_, random_mask

__all__ = [
    "DCTpSConv2d",
    "DCTpSLinear",
    "MaskedLayer",
    "SparseConv2d",
    "SparseLinear",
    "apply_masks_",
    "cached_dct",
    "dct_conv_kernel",
    "dct_matrix",
    "kaiming_on_support_",
    "keep_masks",
    "masked_layers",
    "random_mask",
    "zero_masked_state_",
]
