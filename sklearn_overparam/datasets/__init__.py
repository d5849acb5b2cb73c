"""Generators of the papers' data sets: ``make_<problem>(n_samples, ..., random_state)``."""

from ._azll import make_azll_concept, make_composite_sine, make_composite_tanh
from ._cczg import make_cczg_clusters
from ._ll import make_structured_mixture, make_xor_balls

__all__ = [
    "make_azll_concept",
    "make_cczg_clusters",
    "make_composite_sine",
    "make_composite_tanh",
    "make_structured_mixture",
    "make_xor_balls",
]
