"""[AZLL] regression learners: the two-layer network trained on its hidden weights."""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if

from .._compat import Interval, StrOptions, _fit_context, with_callbacks
from ..nn import azll_two_layer
from ._base import BaseReLUNetwork, validate_data
from ._observer import _partial_fit_available
from ._params import INPUT_PADDING, OPTIMIZER, RUNTIME, constraints, fill_doc


class _RegressorMixin(RegressorMixin):
    """Targets, validation score and predict for squared-loss network regressors."""

    _loss = "squared"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @available_if(_partial_fit_available)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the solver on ``(X, y)``, from the fitted state (MLP's ``partial_fit``).

        The first call initializes the network exactly as ``fit`` with ``max_iter=1``;
        later calls continue the training state (weights, momentum buffers, output
        multiplier) on the given data, the step-size schedule counting every epoch.
        Only for iterative solvers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss, as in :meth:`fit`.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit_entry(X, y, sample_weight, incremental=True)

    def _validate_fit_data(self, X, y, *, previous=None, incremental=False, classes=None):
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32],
            reset=previous is None,
        )
        if y.dtype.kind not in "fiub":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"`y` must be numeric for a regressor; got an array of dtype {y.dtype}. "
                    "Encode the targets as numbers (or use a classifier for labels)."
                ) from exc
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if previous is not None and Y.shape[1] != previous["n_outputs_"]:
            raise ValueError(
                f"A continued fit needs targets with the previous fit's "
                f"{previous['n_outputs_']} output(s); got {Y.shape[1]}."
            )
        self._y_ndim = y.ndim
        self.n_outputs_ = Y.shape[1]
        return X, Y

    @staticmethod
    def _validation_score(out, Y, sample_weight=None):
        """R^2 of each network on the validation data (higher is better), as torch;
        weighted R^2 (as ``r2_score(..., sample_weight=)``) with ``sample_weight``."""
        import torch

        if sample_weight is None:
            resid = (out - Y).square().sum(dim=1)
            total = (Y - Y.mean(dim=0)).square().sum(dim=0)
        else:
            w = sample_weight.unsqueeze(1)
            resid = ((out - Y).square() * w).sum(dim=1)
            mean = (Y * w).sum(dim=0) / w.sum()
            total = ((Y - mean).square() * w).sum(dim=0)
        total = total.clamp_min(torch.finfo(Y.dtype).tiny)
        return (1 - resid / total).mean(dim=1)

    def predict(self, X):
        """Predict targets for ``X``.

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
        out = self._raw_output(X)
        return out[:, 0] if self._y_ndim == 1 else out


@fill_doc
class TwoLayerReLURegressor(_RegressorMixin, BaseReLUNetwork):
    """Two-layer ReLU network trained on its hidden weights ([AZLL] Sec. 3 and 7).

    The model is ``F(x) = A relu(W x + b)`` with ``W, b ~ N(0, 1/m)`` and
    ``A ~ N(0, output_scale**2)``. Only ``W`` is trained; the biases ``b`` and the output
    layer ``A`` stay at their random initial values, as in the paper's theory and
    experiments. The loss is the mean squared error of PyTorch's ``nn.MSELoss``
    (``mean_{i,r} (f_r(x_i) - y_{i,r})**2``, no 1/2).

    Two solvers: ``"sgd"`` is the practical mode of Sec. 7 (momentum SGD, batch 50,
    step size divided by 10 at half the epochs); ``"alg1"`` is Algorithm 1: batch-1 SGD
    without momentum, each step drawing one sample uniformly with replacement, for a
    fixed ``T = max_iter * n_samples`` steps, returning a uniformly random iterate
    ``W_t, t < T`` (the iterate Theorem 1 bounds).

    Parameters
    ----------
    n_hidden : int, default={{default}}
        Width ``m`` of the hidden layer.
    output_scale : float, default={{default}}
        Standard deviation ``epsilon_a`` of the frozen output weights. Theorem 1 takes it
        small (``epsilon / Theta~(1)``); the experiments use 1.
    {{input_padding}}
    solver : {"sgd", "alg1"}, default={{default}}
        ``"sgd"``: minibatch momentum SGD (Sec. 7). ``"alg1"``: [AZLL] Algorithm 1, batch
        size 1 with replacement, no momentum, constant step size and a fixed number of
        steps: ``momentum``, ``batch_size``, ``shuffle``, ``lr_decay_epoch``,
        ``early_stopping`` and ``tol`` are ignored (``n_iter_ == max_iter``), and an
        epoch is ``n_samples`` steps.
    iterate : {"auto", "last", "uniform_random"}, default={{default}}
        Which iterate is returned: ``"uniform_random"`` draws ``t`` uniformly from
        ``{0, ..., T-1}`` before training (Algorithm 1's guarantee), ``"last"`` the final
        weights; ``"auto"`` is ``"uniform_random"`` for ``solver="alg1"`` and ``"last"``
        otherwise. The draw has its own random stream: both follow the same trajectory.
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    n_outputs_ : int
        Number of targets ``k``.

    See Also
    --------
    ConjugateKernelRegressor : The same network with only the output layer trained.
    NTKRegressor : Its linearization in the hidden weights (the finite-width NTK).

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. Learning and Generalization in Overparameterized Neural
    Networks, Going Beyond Two Layers. NeurIPS 2019. Section 3 (Algorithm 1, Theorem 1)
    and Section 7.

    Examples
    --------
    >>> from sklearn_overparam import TwoLayerReLURegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> reg = TwoLayerReLURegressor(n_hidden=100, max_iter=5, tol=None, random_state=0)
    >>> reg.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = constraints(
        INPUT_PADDING, OPTIMIZER, RUNTIME,
        n_hidden=[Interval(Integral, 1, None, closed="left")],
        output_scale=[Interval(Real, 0, None, closed="neither")],
        solver=[StrOptions({"sgd", "alg1"})],
        iterate=[StrOptions({"auto", "last", "uniform_random"})],
    )

    def __init__(
        self,
        n_hidden=1000,
        *,
        output_scale=1.0,
        input_padding="half",
        solver="sgd",
        iterate="auto",
        learning_rate_init=0.005,
        momentum=0.9,
        batch_size=50,
        max_iter=200,
        lr_decay_epoch="half",
        lr_decay_factor=0.1,
        alpha=0.0,
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
        self.output_scale = output_scale
        self.input_padding = input_padding
        self.solver = solver
        self.iterate = iterate
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
        return azll_two_layer(n_inputs, self.n_hidden, n_outputs, output_scale=self.output_scale)

    def _settings(self, n_samples):
        settings = super()._settings(n_samples)
        iterate = self.iterate
        if iterate == "auto":
            iterate = "uniform_random" if self.solver == "alg1" else "last"
        config = replace(settings.config, iterate=iterate)
        if self.solver == "alg1":
            # Algorithm 1 has a fixed T: no stopping rule, no schedule, no momentum
            config = replace(config, batch_size=1, momentum=0.0, sampling="replacement",
                             lr_decay_epoch=None, tol=None)
            settings.early_stopping = False
        settings.config = config
        return settings

    def _fit(self, net, Y, settings, random_state):
        self._train(net, Y, settings, random_state)
