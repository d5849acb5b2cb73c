"""Lazy-training diagnostics: pure functions over weights, activations and kernels."""

from ._norms import group_norm, norm_ratio

__all__ = ["group_norm", "norm_ratio"]
