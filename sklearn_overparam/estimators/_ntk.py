"""The neural-tangent-kernel baseline of [AZLL] Figure 1: "(NTK)" w.r.t. hidden weights."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from .._compat import Interval, StrOptions
from .._torch import to_numpy, to_tensor
from ..kernels._analytic import relu_ntk_kernel
from ..kernels._empirical import empirical_ntk
from ..kernels._solvers import ridge_kernel, ridge_kernel_loo
from ..nn import forward
from ..training import LinearizedObjective, linearized_forward
from ._base import BaseReLUNetwork
from ._conjugate_kernel import azll_baseline_spec, resolve_alpha
from ._fitted import PREDICT_CHUNK, mean_squared
from ._params import INPUT_PADDING, OPTIMIZER, RIDGE_ALPHA, RUNTIME, constraints, fill_doc
from ._regressors import _RegressorMixin


@fill_doc(overrides=RIDGE_ALPHA)
class NTKRegressor(_RegressorMixin, BaseReLUNetwork):
    """Kernel regression with the neural tangent kernel of an [AZLL] network at init.

    The linearized model is ``f_lin(x; D) = f(x; theta0) + <grad f(x; theta0), D>`` where
    ``theta`` holds the *hidden weights only* (``W``, or ``W`` and ``V`` for ``depth=3``;
    biases and output layer frozen: "NTK with respect to only hidden weights", [AZLL] Sec. 7).
    Its kernel is ``K(x, x') = <grad f(x), grad f(x')>``:

    - ``kernel="empirical"`` is the finite-width NTK of the very network
      :class:`TwoLayerReLURegressor` (``depth=2``) or the three-layer learner (``depth=3``)
      initializes for the same ``random_state``, computed in closed form
      (2 layers: ``K = <x, x'> sum_i a_i^2 1[h_i(x) > 0] 1[h_i(x') > 0]``;
      3 layers: ``K = K_W + K_V``, the sum of the per-layer kernels).
    - ``kernel="analytic"`` is its infinite-width limit, scaled like the finite kernel:
      ``m1 Theta_W + m2 Theta_V`` with ``Theta`` the NTK-parameterization kernel of
      :func:`~sklearn_overparam.kernels.relu_ntk_kernel` for per-layer weight variances
      ``(d, 1, ..., output_scale**2)`` and bias variances ``(1, ..., 1, 0)``, which is what
      the [AZLL] ``N(0, 1/m)`` initialization becomes as ``m -> infinity``.

    ``solver="closed_form"`` solves kernel ridge regression on the residual:
    ``c = (K + (n alpha / 2) I)^{-1} (y - f0)``, ``f(x) = f0(x) + K(x, X) c``, which is the
    stationary point of the mean squared loss plus PyTorch weight decay ``alpha`` on ``D``
    (the same convention as :class:`ConjugateKernelRegressor`), with ``alpha`` chosen by
    leave-one-out error by default. ``solver="sgd"`` trains
    ``D`` by the paper's momentum SGD with weight decay ``alpha`` on ``D``
    (``kernel="empirical"`` only; it has no infinite-width version).

    Parameters
    ----------
    n_hidden : int, default={{default}}
        Width ``m`` (``m1`` for ``depth=3``).
    depth : {2, 3}, default={{default}}
        Number of weight matrices of the [AZLL] network.
    n_hidden2 : int or None, default={{default}}
        Width ``m2`` of the second hidden layer when ``depth=3`` (default ``n_hidden``).
    output_scale : float, default={{default}}
        Standard deviation ``epsilon_a`` of the frozen output weights.
    {{input_padding}}
    kernel : {"empirical", "analytic"}, default={{default}}
        Finite-width NTK of the initialized network, or its infinite-width limit.
    include_f0 : bool, default={{default}}
        Keep the network's output at initialization in the model (fit the residual
        ``y - f0``); ``False`` fits the centred model ``<grad f(x), D>``.
    solver : {"closed_form", "sgd"}, default={{default}}
        Kernel ridge solve, or momentum SGD on the linearized model's increments ``D``.
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    n_outputs_ : int
        Number of targets.
    alpha_ : float
        The ``alpha`` used (the leave-one-out choice for ``alpha="auto"``).
    kernel_ : str
        The kernel the model was fitted with (what ``predict`` uses).
    include_f0_ : bool
        Whether the model includes the network's output at initialization.
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
    solution. The kernel grows like ``m``: ridge grids scale with it (e.g.
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

    _parameter_constraints = constraints(
        INPUT_PADDING, OPTIMIZER, RUNTIME, RIDGE_ALPHA,
        n_hidden=[Interval(Integral, 1, None, closed="left")],
        depth=[Interval(Integral, 2, 3, closed="both")],
        n_hidden2=[Interval(Integral, 1, None, closed="left"), None],
        output_scale=[Interval(Real, 0, None, closed="neither")],
        kernel=[StrOptions({"empirical", "analytic"})],
        include_f0=["boolean"],
        solver=[StrOptions({"closed_form", "sgd"})],
    )

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
        alpha="auto",
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        progress_bar=False,
        callbacks=None,
        device="cpu",
        dtype="float32",
        record_every=None,
        diagnostics_X=None,
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
        self.warm_start = warm_start
        self.progress_bar = progress_bar
        self.callbacks = callbacks
        self.device = device
        self.dtype = dtype
        self.record_every = record_every
        self.diagnostics_X = diagnostics_X

    def _build_spec(self, n_inputs, n_outputs):
        return azll_baseline_spec(self, n_inputs, n_outputs)

    def _settings(self, n_samples):
        if self.solver == "sgd" and self.kernel == "analytic":
            raise ValueError(
                "solver='sgd' trains the finite network's linearization and needs "
                "kernel='empirical'; got kernel='analytic'. Use solver='closed_form' for "
                "the infinite-width kernel."
            )
        settings = super()._settings(n_samples)
        if self.solver == "sgd":
            settings.config.weight_decay = resolve_alpha(self.alpha)
        return settings

    def _fit(self, net, Y, settings, random_state):
        self.kernel_, self.include_f0_ = self.kernel, self.include_f0
        self._output_variance_ = float(self.output_scale) ** 2
        if settings.solver == "sgd":
            self.alpha_ = float(settings.config.weight_decay)
            self._train(net, Y, settings, random_state)
            return
        f0 = self._f0(net.spec, net.params, net.Z, net.dtype, net.device)
        initial = net.initial_copy()
        K = self._gram(net.spec, initial, net.Z, None)
        target = Y - f0
        w = net.sample_weight  # the weighted mean loss: n is the total weight
        n = net.Z.shape[0] if w is None else float(np.sum(w))
        if self.alpha == "auto":
            coef, ridge, _ = ridge_kernel_loo(K, target, sample_weight=w)
            self.alpha_ = 2.0 * ridge / n
        else:
            self.alpha_ = float(self.alpha)
            coef = ridge_kernel(K, target, n * self.alpha_ / 2.0, sample_weight=w)
        self._store_network(net.spec, initial, initial)
        self.X_fit_ = net.Z
        self.dual_coef_ = coef
        self._record_closed_form(mean_squared(K @ coef - target, w), net.Z.shape[0])

    def _objective(self, net, settings):
        delta = {n: torch.zeros_like(net.params[n]) for n in net.spec.trainable_names}
        objective = LinearizedObjective(net.spec, net.params, self._loss,
                                        include_f0=self.include_f0)
        return objective, delta

    def _store_copy(self, net, run, k=0):
        super()._store_copy(net, run, k)
        self.increments_ = [to_numpy(run.result.params[n][k]) for n in net.spec.trainable_names]

    def _public_trained(self, attrs):
        if "increments_" not in attrs:
            return None
        return dict(zip(attrs["trainable_"], attrs["increments_"]))

    def _snapshot_extra(self, net, objective, trained):
        return {"increments_": [to_numpy(trained[n][0]).copy()
                                for n in net.spec.trainable_names]}

    # ------------------------------------------------------------------ kernel
    def _f0(self, spec, params, Z, dtype, device):
        if not self.include_f0_:
            return np.zeros((Z.shape[0], spec.n_outputs))
        out = forward(spec, params, to_tensor(Z, dtype=dtype, device=device))[0]
        return to_numpy(out).astype(np.float64)

    def _gram(self, spec, params, Z, Z2):
        """Hidden-weight NTK between network inputs ``Z`` and ``Z2`` (None: Z), float64."""
        if self.kernel_ == "empirical":
            device = self._predict_device()
            stacked = {n: torch.as_tensor(p).unsqueeze(0) for n, p in params.items()}
            K = empirical_ntk((spec, stacked), Z, Z2, method="structured",
                              trainable=list(spec.trainable_names),
                              dtype=self._inference_dtype(device), device=device)
            return np.asarray(K, dtype=np.float64)
        d = Z.shape[1]
        widths = [layer.fan_out for layer in spec.layers[:-1]]
        wv = [float(d)] + [1.0] * (spec.depth - 2) + [self._output_variance_]
        bv = [1.0] * (spec.depth - 1) + [0.0]
        K = 0.0
        for l, m in enumerate(widths):
            mask = [i == l for i in range(spec.depth)]
            K = K + m * relu_ntk_kernel(Z, Z2, depth=spec.depth, weight_variance=wv,
                                        bias_variance=bv, trainable=mask,
                                        bias_trainable=False)
        return K

    # ---------------------------------------------------------------- predict
    def _final_network(self, net, objective, trained):
        return None if self.solver == "sgd" else net.params

    def _predict_chunks(self, Z, dtype, device):
        if hasattr(self, "increments_"):
            yield from linearized_chunks(self, Z, dtype, device, include_f0=self.include_f0_)
            return
        spec = self._fitted_spec()
        params0 = self._fitted_params(dtype, device)
        initial = {n: to_numpy(p[0]) for n, p in params0.items()}
        for s in range(0, Z.shape[0], PREDICT_CHUNK):
            Zc = Z[s : s + PREDICT_CHUNK]
            f0 = self._f0(spec, params0, Zc, dtype, device)
            yield f0 + self._gram(spec, initial, Zc, self.X_fit_) @ self.dual_coef_


def linearized_chunks(est, Z, dtype, device, *, include_f0):
    """Outputs of a fitted linearized model (``increments_`` at ``coefs_``), in chunks."""
    spec = est._fitted_spec()
    params0 = est._fitted_params(dtype, device)
    delta = {n: to_tensor(d, dtype=dtype, device=device).unsqueeze(0)
             for n, d in zip(spec.trainable_names, est.increments_)}
    for s in range(0, Z.shape[0], PREDICT_CHUNK):
        chunk = to_tensor(Z[s : s + PREDICT_CHUNK], dtype=dtype, device=device)
        yield to_numpy(linearized_forward(spec, params0, delta, chunk,
                                          include_f0=include_f0)[0][0])
