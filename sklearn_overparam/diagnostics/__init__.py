"""Lazy-training diagnostics: pure functions over weights, activations and kernels.

What the papers measure to show that an over-parameterized network stays near its
initialization: activation-pattern changes and relative distances ([LL] Sec. 7), spectra of
the accumulated updates ([LL] Figure 1(d)), row-norm ratios ([AZLL] Figure 3), the
pseudo-network gap ([AZLL] Sec. 6, [LL] Sec. 5), the width-scaled distance and the
linearization error ([CCZG] Theorem 3.3, Sec. 5.1), and the drift and target alignment of
the empirical NTK. :class:`DiagnosticsRecorder` records them all along a training run.

Imports :mod:`sklearn_overparam.nn`, :mod:`sklearn_overparam.kernels`,
:mod:`sklearn_overparam.training`, numpy and torch only.
"""

from ._activation import (
    activation_pattern_change,
    layerwise_activation_change,
    pseudo_network_gap,
)
from ._distance import max_scaled_distance, relative_distance_from_init
from ._kernel import kernel_alignment, ntk_drift
from ._linearization import linearization_error
from ._min_width import min_width_for_zero_error
from ._norms import group_norm, norm_ratio
from ._recorder import DiagnosticsRecorder
from ._spectrum import effective_rank, singular_value_gap, top_singular_values

__all__ = [
    "DiagnosticsRecorder",
    "activation_pattern_change",
    "effective_rank",
    "group_norm",
    "kernel_alignment",
    "layerwise_activation_change",
    "linearization_error",
    "max_scaled_distance",
    "min_width_for_zero_error",
    "norm_ratio",
    "ntk_drift",
    "pseudo_network_gap",
    "relative_distance_from_init",
    "singular_value_gap",
    "top_singular_values",
]
