"""scikit-learn Gaussian-process kernels for the analytic ReLU NNGP and NTK.

The only module of :mod:`sklearn_overparam.kernels` that imports scikit-learn (public API only).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel

from ._analytic import (
    _relu_kernel_diag,
    _relu_kernel_with_gradient,
    relu_nngp_kernel,
    relu_ntk_kernel,
)
from ._arguments import _check_depth, _check_matrix, _per_layer, _trainable_mask


def _check_scalar_variance(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        np.isfinite(value) and value >= 0
    ):
        raise ValueError(
            f"`{name}` must be a non-negative finite float (one value shared by all layers); "
            f"got {value!r}. Per-layer variances are available in relu_nngp_kernel and "
            "relu_ntk_kernel."
        )
    return float(value)


class _ReLUKernel(Kernel):
    """Shared machinery of :class:`ReLUNNGP` and :class:`ReLUNTK` (not public)."""

    def _mask(self, depth):
        return None

    def _bias_trainable(self):
        return True

    @property
    def hyperparameter_weight_variance(self):
        """Hyperparameter ``weight_variance`` (``W_std**2`` of every layer)."""
        return Hyperparameter("weight_variance", "numeric", self.weight_variance_bounds)

    @property
    def hyperparameter_bias_variance(self):
        """Hyperparameter ``bias_variance`` (``b_std**2`` of every layer)."""
        return Hyperparameter("bias_variance", "numeric", self.bias_variance_bounds)

    @property
    def requires_vector_input(self):
        """Whether the kernel works only on fixed-length feature vectors (True)."""
        return True

    def is_stationary(self):
        """Return whether the kernel is stationary.

        Returns
        -------
        stationary : bool
            Always False: the kernel depends on the norms of the inputs and their angle,
            not only on ``x - y``.
        """
        return False

    def _resolved(self):
        depth = _check_depth(self.depth)
        wv = _check_scalar_variance(self.weight_variance, "weight_variance")
        bv = _check_scalar_variance(self.bias_variance, "bias_variance")
        return depth, wv, bv, self._mask(depth)

    def __call__(self, X, Y=None, eval_gradient=False):
        """Return the kernel ``k(X, Y)`` and optionally its gradient.

        Parameters
        ----------
        X : ndarray of shape (n_samples_X, n_features)
            Left argument of the returned kernel ``k(X, Y)``.
        Y : ndarray of shape (n_samples_Y, n_features), default=None
            Right argument; if None, ``k(X, X)`` is evaluated instead.
        eval_gradient : bool, default=False
            Whether to also return the gradient with respect to the logarithms of the
            non-fixed hyperparameters. Only supported when ``Y`` is None.

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
            Kernel ``k(X, Y)`` in float64.
        K_gradient : ndarray of shape (n_samples_X, n_samples_X, n_dims), optional
            Gradient of ``k(X, X)`` with respect to the log-hyperparameters, in the order of
            :attr:`theta` (``bias_variance`` before ``weight_variance``). Only returned when
            ``eval_gradient`` is True. Computed exactly by forward-mode differentiation of
            the layer recursion.
        """
        depth, wv, bv, mask = self._resolved()
        if eval_gradient and Y is not None:
            raise ValueError("Gradient can only be evaluated when Y is None.")
        if not eval_gradient:
            if mask is None:
                return relu_nngp_kernel(X, Y, depth=depth, weight_variance=wv, bias_variance=bv)
            return relu_ntk_kernel(X, Y, depth=depth, weight_variance=wv, bias_variance=bv,
                                   trainable=list(mask), bias_trainable=self._bias_trainable())
        X = _check_matrix(X, "X")
        wrt = [hp.name for hp in self.hyperparameters if not hp.fixed]
        if not wrt:
            K = self(X)
            return K, np.empty((X.shape[0], X.shape[0], 0))
        return _relu_kernel_with_gradient(X, depth=depth, weight_variance=wv, bias_variance=bv,
                                          mask=mask, bias_trainable=self._bias_trainable(),
                                          wrt=wrt)

    def diag(self, X):
        """Return the diagonal ``k(X, X)`` in O(n_samples * depth), without the full matrix.

        Parameters
        ----------
        X : ndarray of shape (n_samples_X, n_features)
            Argument of the kernel.

        Returns
        -------
        K_diag : ndarray of shape (n_samples_X,)
            Diagonal of ``k(X, X)``.
        """
        depth, wv, bv, mask = self._resolved()
        X = _check_matrix(X, "X")
        return _relu_kernel_diag(
            X, depth=depth, weight_variance=_per_layer(wv, depth, "weight_variance"),
            bias_variance=_per_layer(bv, depth, "bias_variance"), mask=mask,
            bias_trainable=self._bias_trainable(),
        )


class ReLUNNGP(_ReLUKernel):
    r"""Infinite-width NNGP kernel of a ReLU network, as a scikit-learn GP kernel.

    ``k(x, y) = Sigma^L(x, y)``: the covariance of the output of a randomly initialised
    fully connected ReLU network of ``depth`` weight matrices in the infinite-width limit,
    NTK parameterisation (neural-tangents ``stax.Dense(..., parameterization="ntk")``). See
    :func:`~sklearn_overparam.kernels.relu_nngp_kernel` for the recursion.

    Parameters
    ----------
    depth : int, default=2
        Number of weight matrices (``depth - 1`` hidden ReLU layers); not a hyperparameter.
    weight_variance : float >= 0, default=2.0
        ``W_std**2`` shared by all layers (2.0 = He initialisation).
    bias_variance : float >= 0, default=0.1
        ``b_std**2`` shared by all layers. A zero value needs
        ``bias_variance_bounds="fixed"`` (the optimiser works on its logarithm).
    weight_variance_bounds : pair of floats >= 0 or "fixed", default=(1e-5, 1e5)
        Bounds on ``weight_variance``; "fixed" excludes it from tuning.
    bias_variance_bounds : pair of floats >= 0 or "fixed", default=(1e-5, 1e5)
        Bounds on ``bias_variance``; "fixed" excludes it from tuning.

    Notes
    -----
    The kernel is homogeneous: without bias ``Sigma^L`` is proportional to
    ``weight_variance**L``, so ``weight_variance`` then acts as an output scale and a
    ``ConstantKernel`` factor would be redundant. The gradient with respect to
    ``log(weight_variance)`` and ``log(bias_variance)`` is exact (forward-mode through the
    arc-cosine recursion, float64). The kernel object is a callable ``k(X, Y)``, so it also
    serves as ``SVC(kernel=ReLUNNGP())`` or ``KernelRidge(kernel=ReLUNNGP())``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> from sklearn.gaussian_process.kernels import WhiteKernel
    >>> from sklearn_overparam.kernels import ReLUNNGP
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 3))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(40)
    >>> gpr = GaussianProcessRegressor(ReLUNNGP(depth=3) + WhiteKernel(1e-2)).fit(X, y)
    >>> gpr.predict(X[:2]).shape
    (2,)
    """

    def __init__(self, depth=2, weight_variance=2.0, bias_variance=0.1,
                 weight_variance_bounds=(1e-5, 1e5), bias_variance_bounds=(1e-5, 1e5)):
        self.depth = depth
        self.weight_variance = weight_variance
        self.bias_variance = bias_variance
        self.weight_variance_bounds = weight_variance_bounds
        self.bias_variance_bounds = bias_variance_bounds

    def __repr__(self):
        return (f"{type(self).__name__}(depth={self.depth}, "
                f"weight_variance={self.weight_variance:.3g}, "
                f"bias_variance={self.bias_variance:.3g})")


class ReLUNTK(_ReLUKernel):
    r"""Infinite-width neural tangent kernel of a ReLU network, as a scikit-learn GP kernel.

    ``k(x, y) = Theta^L(x, y)``, the limit of ``<grad f(x), grad f(y)>`` over the trainable
    parameters of a fully connected ReLU network in NTK parameterisation. See
    :func:`~sklearn_overparam.kernels.relu_ntk_kernel` for the recursion and the maps of
    the papers' networks (e.g. the [AZLL] hidden-weights NTK is ``trainable="hidden",
    bias_trainable=False``).

    Parameters
    ----------
    depth : int, default=2
        Number of weight matrices (``depth - 1`` hidden ReLU layers); not a hyperparameter.
    weight_variance : float >= 0, default=2.0
        ``W_std**2`` shared by all layers.
    bias_variance : float >= 0, default=0.1
        ``b_std**2`` shared by all layers (zero needs ``bias_variance_bounds="fixed"``).
    trainable : {"all", "hidden", "last"} or sequence of bool, default="all"
        Layers whose parameters enter the tangent kernel; ``"last"`` gives the NNGP.
    bias_trainable : bool, default=True
        If False, trainable layers contribute their weights only.
    weight_variance_bounds : pair of floats >= 0 or "fixed", default=(1e-5, 1e5)
        Bounds on ``weight_variance``; "fixed" excludes it from tuning.
    bias_variance_bounds : pair of floats >= 0 or "fixed", default=(1e-5, 1e5)
        Bounds on ``bias_variance``; "fixed" excludes it from tuning.

    Notes
    -----
    Kernel ridge regression with this kernel is the infinite-width limit of gradient
    descent on the mean-squared loss with the trainable layers (Jacot et al., 2018).
    The gradient with respect to the log-hyperparameters is exact (forward mode, float64).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import SVC
    >>> from sklearn_overparam.kernels import ReLUNTK
    >>> X = np.random.default_rng(0).standard_normal((30, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> SVC(kernel=ReLUNTK(depth=3)).fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(self, depth=2, weight_variance=2.0, bias_variance=0.1, trainable="all",
                 bias_trainable=True, weight_variance_bounds=(1e-5, 1e5),
                 bias_variance_bounds=(1e-5, 1e5)):
        self.depth = depth
        self.weight_variance = weight_variance
        self.bias_variance = bias_variance
        self.trainable = trainable
        self.bias_trainable = bias_trainable
        self.weight_variance_bounds = weight_variance_bounds
        self.bias_variance_bounds = bias_variance_bounds

    def _mask(self, depth):
        return _trainable_mask(self.trainable, depth)

    def _bias_trainable(self):
        if not isinstance(self.bias_trainable, bool | np.bool_):
            raise ValueError(
                f"`bias_trainable` must be a bool; got {self.bias_trainable!r}. "
                "Pass bias_trainable=False to freeze the biases."
            )
        return bool(self.bias_trainable)

    def __repr__(self):
        return (f"{type(self).__name__}(depth={self.depth}, "
                f"weight_variance={self.weight_variance:.3g}, "
                f"bias_variance={self.bias_variance:.3g}, trainable={self.trainable!r}, "
                f"bias_trainable={self.bias_trainable})")
