"""The estimator template shared by every network estimator of the library.

``fit`` is written once, here: validate (task mixin) -> resolve the effective settings in
one place (``_settings``) -> the initial network (input map, spec, parameters, seeds) ->
the estimator's own ``_fit`` (its solver dispatch) -> fitted state. ``predict`` reads
fitted state only, so ``set_params`` after ``fit`` never changes predictions.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass, replace

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import InconsistentVersionWarning as _SklearnVersionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import __version__
from .._compat import _fit_context
from .._torch import (
    draw_seeds,
    resolve_device,
    resolve_dtype,
    thread_limit,
    to_numpy,
    to_tensor,
)
from ..nn import ReLUNet, ReLUNetSpec, dead_layers, forward, init_params
from ..training import NetworkObjective, SGDConfig, train
from ._input_map import HalfSpherePadding

PREDICT_CHUNK = 8192


class InconsistentVersionWarning(_SklearnVersionWarning):
    """A pickled estimator is loaded by another version of sklearn_overparam.

    A subclass of scikit-learn's warning of the same name, so a filter for that one
    matches this one too.
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(estimator_name=estimator_name,
                         current_sklearn_version=sklearn.__version__,
                         original_sklearn_version=sklearn.__version__)
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from sklearn_overparam "
            f"version {self.original_version} when using version {self.current_version}. "
            "This might lead to breaking code or invalid results. Use at your own risk."
        )


def warn_user(message, category=UserWarning):
    """``warnings.warn`` with the stack level of the first frame outside the library
    (and outside scikit-learn's wrappers), so the warning points at the user's line."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        ("sklearn_overparam.", "sklearn.", "contextlib")
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


class VersionedPickleMixin:
    """Record the library version in pickles and warn when another version loads them."""

    def __getstate__(self):
        # a copy: object.__getstate__ may return the live __dict__
        state = dict(super().__getstate__())
        state["_sklearn_overparam_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_sklearn_overparam_version", None)
        if version != __version__:
            warn_user(InconsistentVersionWarning(estimator_name=type(self).__name__,
                                                 current_version=__version__,
                                                 original_version=version))
        super().__setstate__(state)


@dataclass
class FitSettings:
    """The effective settings of one fit, resolved in one place (``_settings``)."""

    solver: str
    config: SGDConfig | None = None
    early_stopping: bool = False


@dataclass
class InitialNetwork:
    """What every solver starts from: network inputs, architecture, parameters, seeds."""

    Z: np.ndarray
    spec: ReLUNetSpec
    params: dict
    initial: dict  # numpy, stacked (K, ...)
    train_seeds: list
    device: torch.device
    dtype: torch.dtype

    def initial_copy(self, k=0) -> dict:
        """The numpy initial parameters of copy ``k``."""
        return {n: p[k] for n, p in self.initial.items()}


@dataclass
class _EngineRun:
    result: object
    final: dict
    dead: np.ndarray
    has_validation: bool
    config: SGDConfig
    objective: object


class BaseReLUNetwork(VersionedPickleMixin, BaseEstimator):
    """Fit/predict template for estimators whose model is one network of :mod:`nn`.

    Subclasses supply ``_build_spec(n_inputs, n_outputs)``, ``_settings(n_samples)`` and
    ``_fit(net, Y, settings, random_state)``; task mixins supply ``_validate_fit_data``,
    ``_loss`` and ``_validation_score``.
    """

    _loss = "squared"

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the estimator on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with self._atomic_fit():
            X, Y = self._validate_fit_data(X, y)
            settings = self._settings(X.shape[0])
            random_state = check_random_state(self.random_state)
            with torch.no_grad(), thread_limit():
                net = self._initial_network(X, Y, random_state)
                self._fit(net, Y, settings, random_state)
        return self

    def _clear_fitted(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)

    @contextlib.contextmanager
    def _atomic_fit(self):
        """A fit starts from no fitted state (nothing stale survives a refit with other
        settings) and on any error (divergence, KeyboardInterrupt) leaves none behind."""
        self._clear_fitted()
        try:
            yield
        except BaseException:
            self._clear_fitted()
            raise

    # ------------------------------------------------------------- settings
    def _lr_decay_epoch(self):
        if self.lr_decay_epoch == "half":
            return self.max_iter // 2
        return self.lr_decay_epoch

    def _settings(self, n_samples) -> FitSettings:
        """Minibatch momentum SGD from the optimizer parameters (the [AZLL] Sec. 7 mode)."""
        config = SGDConfig(
            learning_rate=self.learning_rate_init,
            momentum=self.momentum,
            weight_decay=self.alpha,
            batch_size=min(self.batch_size, n_samples),
            max_epochs=self.max_iter,
            lr_decay_epoch=self._lr_decay_epoch(),
            lr_decay_factor=self.lr_decay_factor,
            sampling="shuffle" if self.shuffle else "sequential",
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
        )
        return FitSettings(solver=getattr(self, "solver", "sgd"), config=config,
                           early_stopping=self.early_stopping)

    # -------------------------------------------------------------- network
    def _initial_network(self, X, Y, random_state, *, copies=None) -> InitialNetwork:
        """Input map, architecture and initial parameters (a stack, on device).

        Every estimator draws the same two seeds in the same order (initialization, then
        training), so estimators sharing ``random_state`` and architecture share the
        network: the conjugate-kernel and NTK baselines see the learner's initialization.
        ``copies`` (a list of ``random_state`` values) stacks one network per entry, each
        initialized exactly as a fit with that ``random_state`` would be.
        """
        states = [random_state] if copies is None else [check_random_state(c) for c in copies]
        seeds = [draw_seeds(rs, 2) for rs in states]
        device, dtype = resolve_device(self.device), resolve_dtype(self.dtype)
        input_map = self._input_map()
        self.input_map_ = None if input_map is None else input_map.fit(X)
        Z = self._network_input(X)
        spec = self._build_spec(Z.shape[1], self._n_net_outputs(Y))
        params = init_params(spec, [s[0] for s in seeds], dtype=dtype, device=device)
        initial = {n: to_numpy(p).copy() for n, p in params.items()}
        return InitialNetwork(Z, spec, params, initial, [s[1] for s in seeds], device, dtype)

    def _input_map(self):
        """The (unfitted) input map of this estimator's settings, or None."""
        return HalfSpherePadding() if getattr(self, "input_padding", None) == "half" else None

    def _network_input(self, X):
        """What the network sees for validated raw inputs (the fitted input map)."""
        return X if self.input_map_ is None else self.input_map_._transform(X)

    # ------------------------------------------------------------- training
    def _objective(self, net, settings):
        """What the engine trains: the network itself under ``self._loss``."""
        return NetworkObjective(net.spec, self._loss), net.params

    def _engine_seams(self, net, settings, objective):
        """Extra engine keywords (``selector``, ``post_updates``, ``callbacks``)."""
        return {}

    def _final_network(self, net, objective, trained):
        """The network parameters (a stack) after training ``trained``; None when the
        trained model is not the network (a linearization): then it stays at init."""
        return net.params

    def _run_engine(self, net, Y, settings, random_state, *, stratify=None,
                    on_divergence="raise"):
        """Train the objective of ``net`` (all its copies); returns what storing needs."""
        objective, trained = self._objective(net, settings)
        Z, validation = net.Z, None
        if settings.early_stopping:
            Z, Z_val, Y, Y_val = self._split_validation(Z, Y, random_state, stratify)
            validation = (to_tensor(Z_val, dtype=net.dtype, device=net.device),
                          self._targets_tensor(Y_val, net.dtype, net.device))
        Zt = to_tensor(Z, dtype=net.dtype, device=net.device)
        seams = self._engine_seams(net, settings, objective)
        callbacks = tuple(seams.pop("callbacks", ())) + tuple(self.callbacks or ())
        result = train(
            objective, trained, Zt, self._targets_tensor(Y, net.dtype, net.device),
            settings.config, net.train_seeds,
            validation=validation,
            validation_score=self._validation_score if validation else None,
            callbacks=callbacks,
            on_divergence=on_divergence,
            verbose=self.verbose,
            progress_bar=self.progress_bar,
            **seams,
        )
        final = self._final_network(net, objective, trained)
        if final is None:  # a linearized model: the network itself did not move
            final, dead = net.params, np.zeros(len(net.train_seeds), dtype=bool)
        else:
            dead = dead_layers(net.spec, final, Zt).cpu().numpy()
        return _EngineRun(result, final, dead, validation is not None, settings.config,
                          objective)

    def _store_copy(self, net, run, k=0):
        """Fitted state of copy ``k`` of an engine run; raises if it diverged or died."""
        if run.dead[k]:
            raise ValueError(
                "Training diverged: every hidden unit of a layer is inactive on the training "
                f"data after {int(run.result.n_epochs[k])} epoch(s) (dead ReLUs: the model "
                "is constant). Use a smaller learning rate (learning_rate_init="
                f"{self.learning_rate_init:g}) or scale the inputs and targets "
                "(e.g. StandardScaler)."
            )
        self._store_network(net.spec, {n: to_numpy(p[k]) for n, p in run.final.items()},
                            net.initial_copy(k))
        self._record_history(run.result, run.has_validation, run.config, k)

    def _train(self, net, Y, settings, random_state, *, stratify=None):
        """Run the engine on the objective of ``net`` (one copy); store the result."""
        run = self._run_engine(net, Y, settings, random_state, stratify=stratify)
        self._store_copy(net, run)
        return run.result

    def _fit_stack(self, X, y, candidates):
        """Fit one clone per candidate (a dict of stackable parameters) in ONE engine run.

        Every clone is a normal fitted estimator, equal to
        ``clone(self).set_params(**candidate).fit(X, y)`` up to float rounding (its
        network, seeds and settings are exactly those of that fit). A candidate whose
        copy diverges (or dies) gets the exception instead of an estimator, and does not
        stop the others.
        """
        clones = [clone(self).set_params(**c) for c in candidates]
        X, Y = self._validate_fit_data(X, y)
        settings = [c._settings(X.shape[0]) for c in clones]
        config = replace(
            settings[0].config,
            learning_rate=[s.config.learning_rate for s in settings],
            momentum=[s.config.momentum for s in settings],
            weight_decay=[s.config.weight_decay for s in settings],
        )
        group = replace(settings[0], config=config)
        with torch.no_grad(), thread_limit():
            net = self._initial_network(X, Y, None,
                                        copies=[c.random_state for c in clones])
            run = self._run_engine(net, Y, group, None, on_divergence="mark")
        out = []
        for k, est in enumerate(clones):
            est._validate_fit_data(X, y)
            est.input_map_ = self.input_map_
            try:
                if run.result.diverged[k]:
                    raise ValueError(
                        f"Training diverged for candidate {candidates[k]!r}: the training "
                        "loss became non-finite or exploded. Use a smaller learning rate."
                    )
                est._store_copy(net, run, k)
            except ValueError as exc:
                est._clear_fitted()
                out.append(exc)
                continue
            out.append(est)
        return out

    def _record_history(self, result, has_validation, config, k=0):
        """Fitted loss/validation attributes of copy ``k``; warn if it did not converge."""
        history = result.history.as_dict()
        n = int(result.n_epochs[k])
        self.history_ = {key: (v[:n, k] if v.ndim == 2 else v[:n]) for key, v in history.items()}
        self.n_iter_ = n
        self.loss_curve_ = self.history_["loss"].tolist()
        self.loss_ = self.loss_curve_[-1]
        if has_validation:
            self.validation_scores_ = self.history_["validation_score"].tolist()
            self.best_validation_score_ = float(result.best_validation_score[k])
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if config.tol is not None and not result.converged[k] and not result.stopped_by_callback:
            warn_user(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet. Increase max_iter or set tol=None to run "
                "a fixed number of epochs.",
                ConvergenceWarning,
            )

    def _record_closed_form(self, loss):
        """Fitted loss attributes of a closed-form solve (one 'iteration')."""
        self.n_iter_ = 1
        self.loss_ = loss
        self.loss_curve_ = [loss]
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.history_ = {"loss": np.array([loss])}

    def _split_validation(self, Z, Y, random_state, stratify):
        Z, Z_val, Y, Y_val = train_test_split(
            Z, Y, test_size=self.validation_fraction, random_state=random_state,
            stratify=stratify,
        )
        if Z_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        return Z, Z_val, Y, Y_val

    def _targets_tensor(self, Y, dtype, device):
        return to_tensor(Y, dtype=dtype, device=device)

    def _n_net_outputs(self, Y):
        return Y.shape[1]

    # ------------------------------------------------------------ fitted state
    def _store_network(self, spec, params, initial):
        self.coefs_ = [params[f"W{l}"] for l in range(spec.depth)]
        self.intercepts_ = [params.get(f"b{l}") for l in range(spec.depth)]
        self.initial_coefs_ = [initial[f"W{l}"] for l in range(spec.depth)]
        self.output_multiplier_ = float(spec.output_multiplier)
        self.trainable_ = tuple(spec.trainable_names)

    def _fitted_spec(self) -> ReLUNetSpec:
        return ReLUNetSpec.from_shapes(
            [w.shape for w in self.coefs_],
            [b is not None for b in self.intercepts_],
            output_multiplier=self.output_multiplier_,
            trainable=self.trainable_,
            name=type(self).__name__,
        )

    def _fitted_params(self, dtype, device, initial=False):
        coefs = self.initial_coefs_ if initial else self.coefs_
        params = {}
        for l, (w, b) in enumerate(zip(coefs, self.intercepts_)):
            params[f"W{l}"] = to_tensor(w, dtype=dtype, device=device).unsqueeze(0)
            if b is not None:
                params[f"b{l}"] = to_tensor(b, dtype=dtype, device=device).unsqueeze(0)
        return params

    @property
    def network_(self) -> ReLUNet:
        """The fitted network as a ``torch.nn.Module`` on *raw* inputs (float32, CPU).

        ``network_(torch.as_tensor(X, dtype=torch.float32))`` equals ``predict(X)`` up to
        float32 rounding: the fitted input map (``input_map_``) is its first step
        (``network_.input_map``), and ``network_.stacked_params()`` are the weights in the
        layout of :mod:`sklearn_overparam.nn`. Trainable tensors have ``requires_grad``.
        """
        check_is_fitted(self)
        input_map = None if self.input_map_ is None else self.input_map_.to_torch()
        return ReLUNet(self._fitted_spec(), self._fitted_params(torch.float32,
                                                                torch.device("cpu")),
                       input_map=input_map)

    # ---------------------------------------------------------------- predict
    def _predict_device(self):
        try:
            return resolve_device(self.device)
        except ValueError:
            # a model fitted on a GPU predicts on a machine without one
            return torch.device("cpu")

    def _inference_dtype(self, device):
        # float64 on the CPU: predictions do not depend on how rows are batched (float32
        # matmul rounding does), at a small cost; float32 on accelerators.
        return torch.float64 if device.type == "cpu" else torch.float32

    def _predict_chunks(self, Z, dtype, device):
        """Outputs ``(n, k)`` of the fitted model on network inputs ``Z`` (a generator of
        numpy chunks); the network's forward pass unless a subclass predicts otherwise."""
        spec = self._fitted_spec()
        params = self._fitted_params(dtype, device)
        for s in range(0, Z.shape[0], PREDICT_CHUNK):
            chunk = to_tensor(Z[s : s + PREDICT_CHUNK], dtype=dtype, device=device)
            yield to_numpy(forward(spec, params, chunk)[0])

    def _raw_output(self, X):
        """Model outputs ``(n, k)`` as float64 numpy for validated raw ``X``."""
        device = self._predict_device()
        dtype = self._inference_dtype(device)
        Z = self._network_input(X)
        with torch.no_grad(), thread_limit():
            chunks = list(self._predict_chunks(Z, dtype, device))
        out = np.concatenate(chunks, axis=0).astype(np.float64, copy=False)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "The model output is not finite for some rows of X (overflow). Scale the "
                "inputs like the training data (e.g. StandardScaler in a Pipeline)."
            )
        return out

    def _validate_predict_input(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
