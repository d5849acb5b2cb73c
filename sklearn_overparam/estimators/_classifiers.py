"""[LL] and [CCZG] classifiers: the two-layer softmax learner and the deep ReLU network."""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from .._compat import Interval, StrOptions, _fit_context, with_callbacks
from .._torch import to_tensor
from ..nn import cczg_deep, ll_two_layer
from ..training import Callback, SGDConfig
from ._base import BaseReLUNetwork, FitSettings, validate_data
from ._input_map import UnitSphereNormalizer
from ._observer import _partial_fit_available
from ._params import OPTIMIZER, RUNTIME, Param, constraints, fill_doc

LR_SCALE = {
    "lr_scale": Param(
        [Interval(Real, 0, None, closed="neither")], "float",
        "The step-size constant ``c`` (see the class description for ``eta``)."),
    "normalize_inputs": Param(
        ["boolean"], "bool",
        "Scale every row of ``X`` to unit norm before the network (the papers' assumption\n"
        "``||x|| = 1``), at fit and predict."),
}


class _ClassifierMixin(ClassifierMixin):
    """Labels, losses, scores and the probability API of the network classifiers.

    Two classes use the logistic loss on one output when the estimator's
    ``_binary_logistic`` is True ([CCZG]), else softmax cross-entropy on one output per
    class ([LL]).
    """

    _binary_logistic = False

    @available_if(_partial_fit_available)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of the solver on ``(X, y)``, from the fitted state (MLP's ``partial_fit``).

        The first call initializes the network exactly as ``fit`` with ``max_iter=1`` and
        needs ``classes``; later calls continue the training state on the given data
        (labels among ``classes_``), the step-size schedule counting every epoch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss, as in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem; required on the first call, where the batch may
            lack some of them (the network gets one output per class from the start).

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit_entry(X, y, sample_weight, incremental=True, classes=classes)

    def _validate_fit_data(self, X, y, *, previous=None, incremental=False, classes=None):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             reset=previous is None)
        check_classification_targets(y)
        if previous is None and classes is None:
            if incremental:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_, codes = np.unique(y, return_inverse=True)
        else:
            if previous is None:
                self.classes_ = np.unique(np.asarray(classes))
            elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first call to "
                    f"partial_fit, was: {self.classes_!r}."
                )
            present = np.unique(y)
            unknown = np.setdiff1d(present, self.classes_)
            if unknown.size:
                raise ValueError(f"`y` has classes not in `self.classes_`: {unknown!r}; "
                                 f"`self.classes_` is {self.classes_!r}.")
            if previous is not None and not incremental and present.size != self.classes_.size:
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_!r}, `y` has "
                    f"{present!r}."
                )
            codes = np.searchsorted(self.classes_, y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data; got "
                f"only one class: {self.classes_[0]!r}. Check the labels or the split."
            )
        return X, np.asarray(codes).reshape(-1).astype(np.int64)

    def _check_weighted_targets(self, Y, *, first):
        if first and np.unique(Y).size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with positive "
                f"sample_weight; got only the class {self.classes_[Y[0]]!r}. Give another "
                "class a positive weight."
            )

    @property
    def _out_activation(self):
        return "logistic" if self._logistic else "softmax"

    def _input_map(self):
        return UnitSphereNormalizer() if self.normalize_inputs else None

    @property
    def _logistic(self):
        return self._binary_logistic and len(self.classes_) == 2

    @property
    def _loss(self):
        return "logistic" if self._logistic else "softmax_cross_entropy"

    def _n_net_outputs(self, Y):
        return 1 if self._logistic else len(self.classes_)

    def _targets_tensor(self, Y, dtype, device):
        if self._logistic:
            return to_tensor(2.0 * Y - 1.0, dtype=dtype, device=device)
        return torch.as_tensor(Y, dtype=torch.long, device=device)

    def _validation_score(self, out, Y, sample_weight=None):
        """Accuracy of each network on the validation data, as torch (weighted with
        ``sample_weight``, as ``accuracy_score(..., sample_weight=)``)."""
        if self._logistic:
            right = ((out[..., 0] > 0).to(out.dtype) * 2 - 1 == Y).to(out.dtype)
        else:
            right = (out.argmax(dim=2) == Y).to(out.dtype)
        if sample_weight is None:
            return right.mean(dim=1)
        return (right * sample_weight).sum(dim=1) / sample_weight.sum()

    def _fit(self, net, Y, settings, random_state):
        self._train(net, Y, settings, random_state,
                    stratify=Y if settings.early_stopping else None)

    # ---------------------------------------------------------------- predict
    def _scores(self, X):
        return self._raw_output(self._validate_predict_input(X))

    def decision_function(self, X):
        """Network outputs for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of ``classes_[1]`` (the network output with the
            logistic loss, ``f_1 - f_0`` with softmax); else one column per class.
        """
        out = self._scores(X)
        if out.shape[1] == 1:
            return out[:, 0]
        if out.shape[1] == 2:
            return out[:, 1] - out[:, 0]
        return out

    def predict_proba(self, X):
        """Class probabilities for ``X``: softmax of the outputs (sigmoid for one output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        out = self._scores(X)
        if out.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-out[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = np.exp(out - out.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predict class labels for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        out = self._scores(X)
        idx = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
        return self.classes_[idx]


@fill_doc
class TwoLayerReLUClassifier(_ClassifierMixin, BaseReLUNetwork):
    """Two-layer ReLU softmax classifier trained by SGD on its hidden weights ([LL]).

    The model is ``f_i(x) = sum_r a_{i,r} relu(<w_r, x>)`` (no biases, no output scaling)
    with ``w_r ~ N(0, init_std^2 I)``, ``init_std = 1/sqrt(m)`` (assumption A3) and
    ``a_{i,r} ~ N(0, 1)`` fixed; only ``w`` trains, on the softmax cross-entropy
    ``-(1/N) sum_s log softmax(f(x_s))_{y_s}`` ([LL] Sec. 3, eq. (1)). Plain minibatch SGD
    (no momentum, no weight decay) with ``eta = lr_scale / n_hidden`` ([LL] Sec. 7:
    ``c = 10`` on synthetic data, ``c = 4000`` on MNIST), reshuffled epochs of
    ``batch_size`` samples, or a single pass (``one_pass=True``: the theory's
    partition of the data into ``N / B`` batches, Sec. 4).

    Parameters
    ----------
    n_hidden : int, default={{default}}
        Width ``m``.
    init_std : float or None, default={{default}}
        Standard deviation of the hidden weights at init; None is ``1/sqrt(n_hidden)``.
    lr_scale : float, default={{default}}
        The constant ``c`` of the step size ``eta = c / n_hidden``.
    batch_size : int, default={{default}}
        Minibatch size ``B`` (16 in the synthetic experiments, 64 on MNIST).
    max_iter : int, default={{default}}
        Number of epochs (passes over reshuffled data).
    max_steps : int or None, default={{default}}
        Stop after this many SGD steps (the paper's ``T``: 400 synthetic, 2e4 MNIST),
        even inside an epoch; None runs ``max_iter`` epochs.
    one_pass : bool, default={{default}}
        Visit each sample once (one epoch; cannot be combined with ``max_steps``).
    normalize_inputs : bool, default={{default}}
        Scale every row of ``X`` to unit norm (assumption A2), at fit and predict; the
        default step size assumes it.
    tol : float or None, default={{default}}
        Stop when the training loss (or the validation accuracy with ``early_stopping``)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs; None runs every
        epoch (the paper's protocol).
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    References
    ----------
    Y. Li, Y. Liang. Learning Overparameterized Neural Networks via Stochastic Gradient
    Descent on Structured Data. NeurIPS 2018. Sections 3, 4 (Theorem 4.1) and 7.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_overparam import TwoLayerReLUClassifier
    >>> X, y = make_blobs(200, centers=3, random_state=0)
    >>> clf = TwoLayerReLUClassifier(n_hidden=200, max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = constraints(
        OPTIMIZER, RUNTIME, LR_SCALE,
        n_hidden=[Interval(Integral, 1, None, closed="left")],
        init_std=[Interval(Real, 0, None, closed="neither"), None],
        max_steps=[Interval(Integral, 1, None, closed="left"), None],
        one_pass=["boolean"],
    )

    def __init__(
        self,
        n_hidden=1000,
        *,
        init_std=None,
        lr_scale=10.0,
        batch_size=16,
        max_iter=200,
        max_steps=None,
        one_pass=False,
        normalize_inputs=True,
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
        self.init_std = init_std
        self.lr_scale = lr_scale
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.max_steps = max_steps
        self.one_pass = one_pass
        self.normalize_inputs = normalize_inputs
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

    @property
    def learning_rate_init(self):
        """The step size ``eta = lr_scale / n_hidden``."""
        return self.lr_scale / self.n_hidden

    def _build_spec(self, n_inputs, n_outputs):
        return ll_two_layer(n_inputs, self.n_hidden, n_outputs, init_std=self.init_std)

    def _settings(self, n_samples):
        if self.one_pass and self.max_steps is not None:
            raise ValueError(
                "`max_steps` cannot be combined with one_pass=True (a single pass makes "
                f"ceil(n_samples / batch_size) steps); got max_steps={self.max_steps!r}. "
                "Set one of them."
            )
        config = SGDConfig(
            learning_rate=self.learning_rate_init,
            batch_size=min(self.batch_size, n_samples),
            max_epochs=1 if self.one_pass else self.max_iter,
            sampling="shuffle" if (self.shuffle or self.one_pass) else "sequential",
            tol=None if self.one_pass else self.tol,
            n_iter_no_change=self.n_iter_no_change,
            max_steps=self.max_steps,
        )
        return FitSettings(solver="sgd", config=config, early_stopping=self.early_stopping)


class _StopAtZeroError(Callback):
    """Stops training once every copy classifies the training data without error."""

    def __init__(self, objective, X, Y, logistic):
        self.objective, self.X, self.Y, self.logistic = objective, X, Y, logistic

    def on_epoch_end(self, info):
        with torch.no_grad():
            out = self.objective.outputs(info.params, self.X)
        if self.logistic:
            wrong = (out[..., 0] * self.Y <= 0).any(dim=1)
        else:
            wrong = (out.argmax(dim=2) != self.Y).any(dim=1)
        return not bool(wrong[torch.as_tensor(info.active, device=wrong.device)].any())


@fill_doc
class DeepReLUClassifier(_ClassifierMixin, BaseReLUNetwork):
    """Deep ReLU network with ``sqrt(m)`` output scaling, all layers trained ([CCZG]).

    The model is ``f(x) = sqrt(m) W_L relu(W_{L-1} ... relu(W_1 x))`` with ``L = depth``
    weight matrices of width ``m``, no biases, He initialization (``W_l ~ N(0, 2/m)`` for
    ``l < L``, ``W_L ~ N(0, 1/m)``), every layer trained. Two classes use the paper's
    logistic loss ``log(1 + exp(-y f(x)))`` with ``y in {-1, +1}``; more classes use
    softmax cross-entropy on one output per class (an extension: ``W_L`` gets one row per
    class). The step size is ``eta = lr_scale / (depth * width)`` (Theorem 3.3's
    ``Theta(1 / (L m))``).

    Solvers:

    - ``"gd"`` (Algorithm 1): full-batch gradient descent for ``max_iter`` steps;
      ``return_iterate="best_train_loss"`` returns the iterate of smallest training loss
      (what Theorem 3.3 bounds), ``stop_at_zero_error`` stops once the training 0-1 error is
      0 (the minimum-width experiment).
    - ``"online_sgd"`` (Algorithm 2): one pass over a random permutation, batch size 1,
      returning a uniformly random iterate ``W^(i), i < n`` whose index is drawn before
      training (only that iterate is stored).
    - ``"sgd"``: minibatch SGD over reshuffled epochs (the practical mode).

    Parameters
    ----------
    width : int, default={{default}}
        Width ``m`` of every hidden layer.
    depth : int, default={{default}}
        Number of weight matrices ``L >= 2``.
    solver : {"gd", "online_sgd", "sgd"}, default={{default}}
        Algorithm 1, Algorithm 2, or minibatch SGD.
    lr_scale : float, default={{default}}
        The constant ``c`` of ``eta = c / (depth * width)``.
    return_iterate : {"last", "best_train_loss"}, default={{default}}
        The iterate returned by ``solver="gd"`` (and ``"sgd"``: the epoch of smallest
        training loss); with ``"best_train_loss"``, ``best_loss_`` is that iterate's
        training loss.
    stop_at_zero_error : bool, default={{default}}
        Stop once the training 0-1 error is 0 (checked after every step for ``"gd"``,
        every epoch for ``"sgd"``).
    batch_size : int, default={{default}}
        Minibatch size of ``solver="sgd"``.
    max_iter : int, default={{default}}
        Steps of ``"gd"``, epochs of ``"sgd"`` (``"online_sgd"`` makes one pass).
    normalize_inputs : bool, default={{default}}
        Scale every row of ``X`` to unit norm (Assumption 3.1), at fit and predict; the
        default step sizes assume it.
    {{optimizer}}
    {{runtime}}

    Attributes
    ----------
    {{fit_attributes}}
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    iterate_index_ : int or None
        The step whose weights were returned by ``"online_sgd"`` (else None).

    References
    ----------
    Z. Chen, Y. Cao, D. Zou, Q. Gu. How Much Over-parameterization Is Sufficient to Learn
    Deep ReLU Networks? ICLR 2021. Section 2 (Algorithms 1 and 2), Section 3 (Theorems
    3.3 and 3.5).

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_overparam import DeepReLUClassifier
    >>> X, y = make_moons(200, noise=0.1, random_state=0)
    >>> clf = DeepReLUClassifier(width=64, depth=3, max_iter=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _binary_logistic = True

    _parameter_constraints = constraints(
        OPTIMIZER, RUNTIME, LR_SCALE,
        width=[Interval(Integral, 1, None, closed="left")],
        depth=[Interval(Integral, 2, None, closed="left")],
        solver=[StrOptions({"gd", "online_sgd", "sgd"})],
        return_iterate=[StrOptions({"last", "best_train_loss"})],
        stop_at_zero_error=["boolean"],
    )

    def __init__(
        self,
        width=256,
        *,
        depth=3,
        solver="sgd",
        lr_scale=8.0,
        return_iterate="last",
        stop_at_zero_error=False,
        batch_size=64,
        max_iter=200,
        normalize_inputs=True,
        momentum=0.0,
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
        self.width = width
        self.depth = depth
        self.solver = solver
        self.lr_scale = lr_scale
        self.return_iterate = return_iterate
        self.stop_at_zero_error = stop_at_zero_error
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.momentum = momentum
        self.alpha = alpha
        self.normalize_inputs = normalize_inputs
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

    @property
    def learning_rate_init(self):
        """The step size ``eta = lr_scale / (depth * width)``."""
        return self.lr_scale / (self.depth * self.width)

    def _build_spec(self, n_inputs, n_outputs):
        return cczg_deep(n_inputs, self.width, self.depth, n_outputs)

    def _settings(self, n_samples):
        config = SGDConfig(
            learning_rate=self.learning_rate_init,
            momentum=self.momentum,
            weight_decay=self.alpha,
            batch_size=min(self.batch_size, n_samples),
            max_epochs=self.max_iter,
            sampling="shuffle" if self.shuffle else "sequential",
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            iterate=self.return_iterate,
        )
        early = self.early_stopping
        if self.solver == "gd":
            config = replace(config, batch_size=None)
            early = False
        elif self.solver == "online_sgd":
            # Algorithm 2: one pass, batch 1, a uniformly random iterate, no stopping rule
            config = replace(config, batch_size=1, max_epochs=1, sampling="shuffle",
                             momentum=0.0, tol=None, iterate="uniform_random")
            early = False
        return FitSettings(solver=self.solver, config=config, early_stopping=early)

    def _engine_seams(self, net, settings, objective):
        if not self.stop_at_zero_error:
            return {}
        X = to_tensor(net.Z, dtype=net.dtype, device=net.device)
        Y = self._targets_tensor(self._codes, net.dtype, net.device)
        return {"callbacks": [_StopAtZeroError(objective, X, Y, self._logistic)]}

    def _fit(self, net, Y, settings, random_state):
        self._codes = Y
        try:
            super()._fit(net, Y, settings, random_state)
        finally:
            del self._codes

    def _store_copy(self, net, run, k=0):
        super()._store_copy(net, run, k)
        selector = run.result.selector
        index = getattr(selector, "index_", None)
        self.iterate_index_ = int(index[k]) if index is not None else None
        best = getattr(selector, "best_loss_", None)
        if best is not None:  # the training loss of the returned (best) iterate itself
            self.best_loss_ = float(best[k])
