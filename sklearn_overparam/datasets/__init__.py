"""Generators of the papers' data sets: ``make_<problem>(n_samples, ..., random_state)``."""

from ._azll import make_composite_sine, make_composite_tanh

__all__ = ["make_composite_sine", "make_composite_tanh"]
