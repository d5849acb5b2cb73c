"""The papers' networks as pure torch functions over a stack of K parameter sets.

Imports torch (and :mod:`sklearn_overparam._torch`) only; numba, when installed, is
imported at the first training step the fused two-layer kernels (:mod:`._fused`) take.
"""

from ._functional import backward, copy_params, dead_layers, forward, init_params
from ._fused import fused_kernels
from ._inputs import HalfPadding, UnitNormalize, fit_half_padding_scale, pad_half
from ._matmul import cpu_matmul
from ._module import ReLUNet
from ._spec import (
    LayerSpec,
    ReLUNetSpec,
    azll_three_layer,
    azll_two_layer,
    cczg_deep,
    ll_two_layer,
)

__all__ = [
    "HalfPadding",
    "LayerSpec",
    "ReLUNet",
    "ReLUNetSpec",
    "UnitNormalize",
    "azll_three_layer",
    "azll_two_layer",
    "backward",
    "cczg_deep",
    "copy_params",
    "cpu_matmul",
    "dead_layers",
    "fit_half_padding_scale",
    "forward",
    "fused_kernels",
    "init_params",
    "ll_two_layer",
    "pad_half",
]
