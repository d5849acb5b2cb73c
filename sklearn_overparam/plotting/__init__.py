"""Displays of the [AZLL] Sec. 7 figures (scikit-learn's ``*Display`` pattern).

matplotlib is imported when a display is drawn (``plot``), not by importing this package.
"""

from ._azll import azll_methods, azll_scaling_panels
from ._displays import NormRatioDisplay, ScalingDisplay
from ._lazy import DiagnosticsDisplay, final_diagnostics
from ._spectrum import SpectrumDisplay
from ._width import MinWidthDisplay, WidthScalingDisplay

__all__ = [
    "DiagnosticsDisplay",
    "MinWidthDisplay",
    "NormRatioDisplay",
    "ScalingDisplay",
    "SpectrumDisplay",
    "WidthScalingDisplay",
    "azll_methods",
    "azll_scaling_panels",
    "final_diagnostics",
]
