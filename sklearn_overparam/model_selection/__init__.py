"""Hyper-parameter protocols of the papers, run as stacked engine calls."""

from ._fit_grid import STACKABLE, FitGridResult, fit_grid
from ._search import STACKED_PARAMETERS, StackedGridSearchCV, StackedRandomizedSearchCV

__all__ = [
    "STACKABLE",
    "STACKED_PARAMETERS",
    "FitGridResult",
    "StackedGridSearchCV",
    "StackedRandomizedSearchCV",
    "fit_grid",
]
