"""The neural-tangent-kernel baseline of [AZLL] Figure 1: "(NTK)" w.r.t. hidden weights."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._compat import Interval, StrOptions, _fit_context
from .._torch import (
    thread_limit,
    to_numpy,
    to_tensor,
)
from ..kernels._analytic import relu_ntk_kernel
from ..kernels._empirical import empirical_ntk
from ..kernels._solvers import ridge_kernel
from ..nn import azll_three_layer, azll_two_layer, forward
from ..training import LinearizedObjective, linearized_forward
from ._base import SGD_CONSTRAINTS, BaseReLUNetwork
from ._docs import fill_doc
from ._regressors import _RegressorMixin


@fill_doc(lr_default="0.005", max_iter_default="200")
class NTKRegressor(_RegressorMixin, BaseReLUNetwork):
    """Kernel regression with the neural tangent kernel of an [AZLL] network at init.

    The linearized model is ``f_lin(x; D) = f(x; theta0) + <grad f(x; theta0), D>`` where
    ``theta`` holds the *hidden weights only* (``W``, or ``W`` and ``V`` for ``depth=3``;
    biases and output layer frozen, "NTK with respect to only hidden weights", SPEC 4).
    Its kernel is ``K(x, x') = <grad f(x), grad f(x')>``:

    - ``kernel="empirical"`` is the finite-width NTK of the very network
      :class:`TwoLayerReLURegressor` (``depth=2``) or the three-layer learner (``depth=3``)
      initializes for the same ``random_state``, computed in closed form
      (2 layers: ``K = <x, x'> sum_i a_i^2 1[h_i(x) > 0] 1[h_i(x') > 0]``;
      3 layers: ``K = K_W + K_V``, SPEC 4).
    - ``kernel="analytic"`` is its infinite-width limit, scaled like the finite kernel:
      ``m1 Theta_W + m2 Theta_V`` with ``Theta`` the NTK-parameterization kernel of
      :func:`~sklearn_overparam.kernels.relu_ntk_kernel` for per-layer weight variances
      ``(d, 1, ..., output_scale**2)`` and bias variances ``(1, ..., 1, 0)``, which is what
      the [AZLL] ``N(0, 1/m)`` initialization becomes as ``m -> infinity``.

    ``solver="closed_form"`` solves kernel ridge regression on the residual:
    ``c = (K + (n alpha / 2) I)^{-1} (y - f0)``, ``f(x) = f0(x) + K(x, X) c``, which is the
    stationary point of the mean squared loss plus PyTorch weight decay ``alpha`` on ``D``
    (the same convention as :class:`ConjugateKernelRegressor`). ``solver="sgd"`` trains
    ``D`` by the paper's momentum SGD with weight decay ``alpha`` on ``D``
    (``kernel="empirical"`` only; it has no infinite-width version).

    Parameters
    ----------
    n_hidden : int, default=1000
        Width ``m`` (``m1`` for ``depth=3``).
    depth : {2, 3}, default=2
        Number of weight matrices of the [AZLL] network.
    n_hidden2 : int or None, default=None
        Width ``m2`` of the second hidden layer when ``depth=3`` (default ``n_hidden``).
    output_scale : float, default=1.0
        Standard deviation ``epsilon_a`` of the frozen output weights.
    {{input_padding}}
    kernel : {"empirical", "analytic"}, default="empirical"
        Finite-width NTK of the initialized network, or its infinite-width limit.
    include_f0 : bool, default=True
        Keep the network's output at initialization in the model (fit the residual
        ``y - f0``); ``False`` fits the centred model ``<grad f(x), D>``.
    solver : {"closed_form", "sgd"}, default="closed_form"
        Kernel ridge solve, or momentum SGD on the linearized model's increments ``D``.
    {{sgd_params}}

    Attributes
    ----------
    {{fit_attributes}}
    n_outputs_ : int
        Number of targets.
    input_scale_ : float
        Scale applied to ``X`` before padding (only with ``input_padding="half"``).
    output_multiplier_ : float
        Explicit multiplier of the network output (1 here).
    X_fit_ : ndarray of shape (n_samples, n_network_inputs)
        Network inputs of the training data (``solver="closed_form"``).
    dual_coef_ : ndarray of shape (n_samples, n_outputs)
        Kernel ridge coefficients ``c`` (``solver="closed_form"``).
    increments_ : list of ndarray
        The learned ``D`` of each hidden weight matrix (``solver="sgd"``).

    Notes
    -----
    With ``solver="closed_form"``, ``coefs_`` are the network's initial weights (the
    expansion point), ``n_iter_`` is 1 and the loss attributes hold the training loss of the
    solution. The kernel grows like ``m``: ridge grids scale with it (SPEC 11 uses
    ``m 10^{-6..2}`` for the ridge ``n alpha / 2``).

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. NeurIPS 2019, Section 7, Figure 1 ("3layer(NTK)").
    A. Jacot, F. Gabriel, C. Hongler. Neural Tangent Kernel. NeurIPS 2018.

    Examples
    --------
    >>> from sklearn_overparam import NTKRegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> NTKRegressor(n_hidden=100, random_state=0).fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 2, 3, closed="both")],
        "n_hidden2": [Interval(Integral, 1, None, closed="left"), None],
        "output_scale": [Interval(Real, 0, None, closed="neither")],
        "input_padding": [StrOptions({"half"}), None],
        "kernel": [StrOptions({"empirical", "analytic"})],
        "include_f0": ["boolean"],
        "solver": [StrOptions({"closed_form", "sgd"})],
        **SGD_CONSTRAINTS,
    }

    def __init__(
        self,
        n_hidden=1000,
        *,
        depth=2,
        n_hidden2=None,
        output_scale=1.0,
        input_padding="half",
        kernel="empirical",
        include_f0=True,
        solver="closed_form",
        learning_rate_init=0.005,
        momentum=0.9,
        batch_size=50,
        max_iter=200,
        lr_decay_epoch="half",
        lr_decay_factor=0.1,
        alpha=1e-4,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        progress_bar=False,
        callbacks=None,
        device="cpu",
        dtype="float32",
    ):
        self.n_hidden = n_hidden
        self.depth = depth
        self.n_hidden2 = n_hidden2
        self.output_scale = output_scale
        self.input_padding = input_padding
        self.kernel = kernel
        self.include_f0 = include_f0
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.lr_decay_epoch = lr_decay_epoch
        self.lr_decay_factor = lr_decay_factor
        self.alpha = alpha
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.progress_bar = progress_bar
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype

    def _build_spec(self, n_inputs, n_outputs):
        if self.depth == 2:
            return azll_two_layer(n_inputs, self.n_hidden, n_outputs,
                                  output_scale=self.output_scale)
        return azll_three_layer(n_inputs, self.n_hidden, n_outputs, n_hidden2=self.n_hidden2,
                                output_scale=self.output_scale)

    # -------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the linearized network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : NTKRegressor
            The fitted estimator.
        """
        with self._atomic_fit():
            if self.solver == "sgd" and self.kernel == "analytic":
                raise ValueError(
                    "solver='sgd' trains the finite network's linearization and needs "
                    "kernel='empirical'; got kernel='analytic'. Use solver='closed_form' for "
                    "the infinite-width kernel."
                )
            X, Y = self._validate_fit_data(X, y)
            if self.solver == "sgd":
                return self._fit_network(X, Y)
            with torch.no_grad(), thread_limit():
                Z, spec, params0, initial, _ = self._init_network(
                    X, Y, check_random_state(self.random_state))
                W0 = params0["W0"]
                f0 = self._f0(spec, params0, Z, W0.dtype, W0.device)
            K = self._gram(spec, initial, Z, None)
            target = Y - f0
            coef = ridge_kernel(K, target, Z.shape[0] * self.alpha / 2.0)
            self._store_network(spec, initial, initial)
            self.X_fit_ = Z
            self.dual_coef_ = coef
            self._record_closed_form(float(np.mean((K @ coef - target) ** 2)))
            return self

    def _objective(self, spec, params):
        delta = {n: torch.zeros_like(params[n]) for n in spec.trainable_names}
        return LinearizedObjective(spec, params, self._loss, include_f0=self.include_f0), delta

    def _store_trained(self, spec, trained, initial):
        self._store_network(spec, initial, initial)
        self.increments_ = [trained[n] for n in spec.trainable_names]

    # ------------------------------------------------------------------ kernel
    def _f0(self, spec, params, Z, dtype, device):
        if not self.include_f0:
            return np.zeros((Z.shape[0], spec.n_outputs))
        out = forward(spec, params, to_tensor(Z, dtype=dtype, device=device))[0]
        return to_numpy(out).astype(np.float64)

    def _gram(self, spec, params, Z, Z2):
        """Hidden-weight NTK between network inputs ``Z`` and ``Z2`` (None: Z), float64."""
        if self.kernel == "empirical":
            device = self._predict_device()
            stacked = {n: torch.as_tensor(p).unsqueeze(0) for n, p in params.items()}
            K = empirical_ntk((spec, stacked), Z, Z2, method="structured",
                              trainable=list(spec.trainable_names),
                              dtype=self._inference_dtype(device), device=device)
            return np.asarray(K, dtype=np.float64)
        d = Z.shape[1]
        widths = [layer.fan_out for layer in spec.layers[:-1]]
        wv = [float(d)] + [1.0] * (spec.depth - 2) + [self.output_scale ** 2]
        bv = [1.0] * (spec.depth - 1) + [0.0]
        K = 0.0
        for l, m in enumerate(widths):
            mask = [i == l for i in range(spec.depth)]
            K = K + m * relu_ntk_kernel(Z, Z2, depth=spec.depth, weight_variance=wv,
                                        bias_variance=bv, trainable=mask,
                                        bias_trainable=False)
        return K

    # ---------------------------------------------------------------- predict
    def predict(self, X):
        """Predict with the linearized network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values (float64).
        """
        X = self._validate_predict_input(X)
        Z = self._network_input(X)
        spec = self._fitted_spec()
        device = self._predict_device()
        dtype = self._inference_dtype(device)
        with torch.no_grad(), thread_limit():
            params0 = self._fitted_params(dtype, device)
            if hasattr(self, "increments_"):
                delta = {n: to_tensor(d, dtype=dtype, device=device).unsqueeze(0)
                         for n, d in zip(spec.trainable_names, self.increments_)}
                out = linearized_forward(spec, params0, delta,
                                         to_tensor(Z, dtype=dtype, device=device),
                                         include_f0=self.include_f0)[0]
                out = to_numpy(out[0]).astype(np.float64)
            else:
                f0 = self._f0(spec, params0, Z, dtype, device)
                initial = {n: to_numpy(p[0]) for n, p in params0.items()}
                out = f0 + self._gram(spec, initial, Z, self.X_fit_) @ self.dual_coef_
        return out[:, 0] if self._y_ndim == 1 else out

