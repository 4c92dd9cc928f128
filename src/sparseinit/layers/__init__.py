"""Sparse and DCT-plus-Sparse layers ([C] Price & Tanner, ICML 2021), and the machinery that keeps masks exact."""

from .compact import CompactDCTpSLinear, compact_dctps
from .dct import cached_dct, dct_conv_kernel, dct_matrix
from .dctps import DCTpSConv2d, DCTpSLinear
from .fast_dct import fast_dct
from .fast_dctps import dctps_path
from .masking import apply_masks_, keep_masks, masked_layers, zero_masked_state_
from .sparse import MaskedLayer, SparseConv2d, SparseLinear, kaiming_on_support_, random_mask
from .sparse_matmul import CSRStructure, csr_matmul

__all__ = [
    "CSRStructure",
    "CompactDCTpSLinear",
    "DCTpSConv2d",
    "DCTpSLinear",
    "MaskedLayer",
    "SparseConv2d",
    "SparseLinear",
    "apply_masks_",
    "cached_dct",
    "compact_dctps",
    "csr_matmul",
    "dct_conv_kernel",
    "dct_matrix",
    "dctps_path",
    "fast_dct",
    "kaiming_on_support_",
    "keep_masks",
    "masked_layers",
    "random_mask",
    "zero_masked_state_",
]
