"""The conjugate-kernel baseline: train only the output layer of the [AZLL] networks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from .._compat import Interval, StrOptions
from .._torch import thread_limit, to_numpy, to_tensor
from ..kernels._solvers import ridge_features, ridge_features_loo
from ..nn import azll_three_layer, azll_two_layer, forward
from ._base import BaseReLUNetwork
from ._fitted import mean_squared
from ._params import INPUT_PADDING, OPTIMIZER, RIDGE_ALPHA, RUNTIME, constraints, fill_doc
from ._regressors import _RegressorMixin

SGD_AUTO_ALPHA = 1e-4


def azll_baseline_spec(est, n_inputs, n_outputs):
    """The [AZLL] network of a kernel baseline: two or three layers (``est.depth``)."""
    if est.depth == 2:
        if est.n_hidden2 is not None:
            raise ValueError(
                "`n_hidden2` is the width of the second hidden layer of the three-layer "
                f"network; got n_hidden2={est.n_hidden2!r} with depth=2. Set depth=3, or "
                "n_hidden2=None."
            )
        return azll_two_layer(n_inputs, est.n_hidden, n_outputs, output_scale=est.output_scale)
    return azll_three_layer(n_inputs, est.n_hidden, n_outputs, n_hidden2=est.n_hidden2,
                            output_scale=est.output_scale)


def resolve_alpha(alpha):
    """The weight decay an ``alpha`` of the closed-form estimators means under SGD."""
    return SGD_AUTO_ALPHA if alpha == "auto" else alpha


@fill_doc(overrides=RIDGE_ALPHA)
class ConjugateKernelRegressor(_RegressorMixin, BaseReLUNetwork):
    """Train only the output layer of a random [AZLL] ReLU network (the "(last)" baseline).

    The features are the last hidden layer of the network at its random initialization,
    ``phi(x) = relu(W x + b)`` (``depth=2``) or ``relu(V relu(W x + b1) + b2)``
    (``depth=3``), drawn from exactly the parameters :class:`TwoLayerReLURegressor`
    (or the three-layer learner) draws for the same ``random_state``, ``n_hidden`` and
    ``input_padding``. The model is ``f(x) = A phi(x)`` and the conjugate kernel is
    ``K(x, x') = <phi(x), phi(x')>`` ([AZLL] Sec. 7, "(last)"; Daniely 2017).

    With ``solver="closed_form"`` the output weights solve the stationarity condition of
    the mean squared loss with PyTorch weight decay ``alpha``,
    ``(2/n) Phi^T (Phi A^T - Y) + alpha A^T = 0``, i.e. ridge regression
    ``A^T = (Phi^T Phi + (n alpha / 2) I)^{-1} Phi^T Y`` (Cholesky, least-squares
    fallback with a warning when singular), with ``alpha`` chosen by leave-one-out
    error by default. ``solver="sgd"`` runs the paper's momentum SGD on ``A`` from its
    random initialization; both agree at convergence when ``alpha > 0``.

    Parameters
    ----------
    n_hidden : int, default={{default}}
        Width ``m`` (``m1`` for ``depth=3``).
    depth : {2, 3}, default={{default}}
        Number of weight matrices of the network whose last hidden layer gives the features.
    n_hidden2 : int or None, default={{default}}
        Width ``m2`` of the second hidden layer when ``depth=3`` (default ``n_hidden``).
    output_scale : float, default={{default}}
        Standard deviation of the initial output weights (SGD's starting point).
    {{input_padding}}
    solver : {"closed_form", "sgd"}, default={{default}}
        Ridge solve, or momentum SGD on the output layer with the parameters below.
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    n_outputs_ : int
        Number of targets.
    alpha_ : float
        The ``alpha`` used (the leave-one-out choice for ``alpha="auto"``).

    Notes
    -----
    With ``solver="closed_form"``, ``n_iter_`` is 1 and the loss attributes hold the
    training loss of the solution.

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. NeurIPS 2019, Section 7 and Figure 1 ("(last)").
    A. Daniely. SGD learns the conjugate kernel class of the network. NeurIPS 2017.

    Examples
    --------
    >>> from sklearn_overparam import ConjugateKernelRegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> ck = ConjugateKernelRegressor(n_hidden=100, random_state=0).fit(X, y)
    >>> ck.coefs_[-1].shape
    (1, 100)
    """

    _parameter_constraints = constraints(
        INPUT_PADDING, OPTIMIZER, RUNTIME, RIDGE_ALPHA,
        n_hidden=[Interval(Integral, 1, None, closed="left")],
        depth=[Interval(Integral, 2, 3, closed="both")],
        n_hidden2=[Interval(Integral, 1, None, closed="left"), None],
        output_scale=[Interval(Real, 0, None, closed="neither")],
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
        solver="closed_form",
        learning_rate_init=0.5,
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
        spec = azll_baseline_spec(self, n_inputs, n_outputs)
        return spec.with_trainable([f"W{spec.depth - 1}"])

    def _settings(self, n_samples):
        settings = super()._settings(n_samples)
        if self.solver == "sgd":
            settings.config.weight_decay = resolve_alpha(self.alpha)
        return settings

    def _fit(self, net, Y, settings, random_state):
        if settings.solver == "sgd":
            self.alpha_ = float(settings.config.weight_decay)
            self._train(net, Y, settings, random_state)
            return
        Zt = to_tensor(net.Z, dtype=net.dtype, device=net.device)
        _, hidden = forward(net.spec, net.params, Zt, return_hidden=True)
        Phi = to_numpy(hidden[-1][0]).astype(np.float64)
        w = net.sample_weight  # the weighted mean loss: n is the total weight
        n = Phi.shape[0] if w is None else float(np.sum(w))
        if self.alpha == "auto":
            coef, ridge, _ = ridge_features_loo(Phi, Y, sample_weight=w)
            self.alpha_ = 2.0 * ridge / n
        else:
            self.alpha_ = float(self.alpha)
            coef = ridge_features(Phi, Y, n * self.alpha_ / 2.0, sample_weight=w)
        coef = coef.T
        last = f"W{net.spec.depth - 1}"
        initial = net.initial_copy()
        fitted = dict(initial)
        fitted[last] = coef.astype(initial[last].dtype)
        self._store_network(net.spec, fitted, initial)
        self._record_closed_form(mean_squared(Phi @ coef.T - Y, w), Phi.shape[0])

    def hidden_features(self, X):
        """The random features ``phi(X)`` (the last hidden layer at initialization).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        Phi : ndarray of shape (n_samples, n_hidden_last)
            Conjugate-kernel features; ``Phi @ Phi.T`` is the conjugate kernel.
        """
        Z = self._network_input(self._validate_predict_input(X))
        spec = self._fitted_spec()
        with torch.no_grad(), thread_limit():
            params = self._fitted_params(torch.float64, torch.device("cpu"))
            _, hidden = forward(spec, params, to_tensor(Z, dtype=torch.float64,
                                                        device=torch.device("cpu")),
                                return_hidden=True)
        return to_numpy(hidden[-1][0])
