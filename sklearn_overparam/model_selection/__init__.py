"""Hyper-parameter protocols of the papers, run as stacked engine calls."""

from ._fit_grid import STACKABLE, FitGridResult, fit_grid

__all__ = ["STACKABLE", "FitGridResult", "fit_grid"]
