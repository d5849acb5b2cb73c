"""The conjugate-kernel baseline: train only the output layer of the [AZLL] networks."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._compat import Interval, StrOptions, _fit_context
from .._torch import thread_limit, to_numpy, to_tensor
from ..kernels._solvers import ridge_features
from ..nn import azll_three_layer, azll_two_layer, forward
from ._base import SGD_CONSTRAINTS, BaseReLUNetwork
from ._docs import fill_doc
from ._regressors import _RegressorMixin


@fill_doc(lr_default="0.5", max_iter_default="200")
class ConjugateKernelRegressor(_RegressorMixin, BaseReLUNetwork):
    """Train only the output layer of a random [AZLL] ReLU network (the "(last)" baseline).

    The features are the last hidden layer of the network at its random initialization,
    ``phi(x) = relu(W x + b)`` (``depth=2``) or ``relu(V relu(W x + b1) + b2)``
    (``depth=3``), drawn from exactly the parameters :class:`TwoLayerReLURegressor`
    (or the three-layer learner) draws for the same ``random_state``, ``n_hidden`` and
    ``input_padding``. The model is ``f(x) = A phi(x)`` and the conjugate kernel is
    ``K(x, x') = <phi(x), phi(x')>`` (SPEC 3).

    With ``solver="closed_form"`` the output weights solve the stationarity condition of
    the mean squared loss with PyTorch weight decay ``alpha``,
    ``(2/n) Phi^T (Phi A^T - Y) + alpha A^T = 0``, i.e. ridge regression
    ``A^T = (Phi^T Phi + (n alpha / 2) I)^{-1} Phi^T Y`` (Cholesky, least-squares
    fallback with a warning when singular). ``solver="sgd"`` runs the paper's momentum
    SGD on ``A`` from its random initialization; both agree at convergence when
    ``alpha > 0``.

    Parameters
    ----------
    n_hidden : int, default=1000
        Width ``m`` (``m1`` for ``depth=3``).
    depth : {2, 3}, default=2
        Number of weight matrices of the network whose last hidden layer gives the features.
    n_hidden2 : int or None, default=None
        Width ``m2`` of the second hidden layer when ``depth=3`` (default ``n_hidden``).
    output_scale : float, default=1.0
        Standard deviation of the initial output weights (SGD's starting point).
    {{input_padding}}
    solver : {"closed_form", "sgd"}, default="closed_form"
        Ridge solve, or momentum SGD on the output layer with the parameters below.
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

    _parameter_constraints = {
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 2, 3, closed="both")],
        "n_hidden2": [Interval(Integral, 1, None, closed="left"), None],
        "output_scale": [Interval(Real, 0, None, closed="neither")],
        "input_padding": [StrOptions({"half"}), None],
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
        solver="closed_form",
        learning_rate_init=0.5,
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
            spec = azll_two_layer(n_inputs, self.n_hidden, n_outputs,
                                  output_scale=self.output_scale)
        else:
            spec = azll_three_layer(n_inputs, self.n_hidden, n_outputs,
                                    n_hidden2=self.n_hidden2, output_scale=self.output_scale)
        return spec.with_trainable([f"W{spec.depth - 1}"])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the output layer on the random features of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : ConjugateKernelRegressor
            The fitted estimator.
        """
        with self._atomic_fit():
            X, Y = self._validate_fit_data(X, y)
            if self.solver == "sgd":
                return self._fit_network(X, Y)
            return self._fit_closed_form(X, Y)

    def _fit_closed_form(self, X, Y):
        with torch.no_grad(), thread_limit():
            Z, spec, params, initial, _ = self._init_network(
                X, Y, check_random_state(self.random_state))
            W0 = params["W0"]
            _, hidden = forward(spec, params, to_tensor(Z, dtype=W0.dtype, device=W0.device),
                                return_hidden=True)
            Phi = to_numpy(hidden[-1][0]).astype(np.float64)
        last = f"W{spec.depth - 1}"
        coef = ridge_features(Phi, Y, Z.shape[0] * self.alpha / 2.0).T
        fitted = dict(initial)
        fitted[last] = coef.astype(initial[last].dtype)
        self._store_network(spec, fitted, initial)
        self._record_closed_form(float(np.mean((Phi @ coef.T - Y) ** 2)))
        return self

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
        X = self._validate_predict_input(X)
        Z = self._network_input(X)
        spec = self._fitted_spec()
        with torch.no_grad(), thread_limit():
            params = self._fitted_params(torch.float64, torch.device("cpu"))
            _, hidden = forward(spec, params, to_tensor(Z, dtype=torch.float64,
                                                        device=torch.device("cpu")),
                                return_hidden=True)
        return to_numpy(hidden[-1][0])
