"""Kernels of ReLU networks: analytic NNGP/NTK, scikit-learn GP kernels, empirical NTK.

Pure functions ``<name>_kernel(X, Y=None, *, ...) -> ndarray (n_X, n_Y)`` in the style of
neural-tangents, :class:`sklearn.gaussian_process.kernels.Kernel` subclasses for Gaussian
processes, and helpers over Gram matrices.
"""

from ._analytic import relu_nngp_kernel, relu_ntk_kernel
from ._empirical import empirical_ntk
from ._gp import ReLUNNGP, ReLUNTK
from ._helpers import kernel_complexity, kernel_target_alignment, max_learning_rate, solve_psd

__all__ = [
    "ReLUNNGP",
    "ReLUNTK",
    "empirical_ntk",
    "kernel_complexity",
    "kernel_target_alignment",
    "max_learning_rate",
    "relu_nngp_kernel",
    "relu_ntk_kernel",
    "solve_psd",
]
