"""Displays of the [AZLL] Sec. 7 figures (scikit-learn's ``*Display`` pattern).

matplotlib is imported when a display is drawn (``plot``), not by importing this package.
"""

from ._azll import azll_methods, azll_scaling_panels
from ._displays import NormRatioDisplay, ScalingDisplay
from ._lazy import (
    DiagnosticsDisplay,
    MinWidthDisplay,
    SpectrumDisplay,
    WidthScalingDisplay,
    final_diagnostics,
)

__all__ = ["NormRatioDisplay", "ScalingDisplay", "azll_methods", "azll_scaling_panels"]
# [LL] Sec. 7 and [CCZG] App. D (lazy-training figures)
__all__ += ["DiagnosticsDisplay", "MinWidthDisplay", "SpectrumDisplay", "WidthScalingDisplay",
            "final_diagnostics"]
