"""Glue shared by the network estimators: validation, randomness, engine call, fitted state."""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import __version__
from .._compat import Interval, StrOptions
from .._torch import (
    draw_seeds,
    resolve_device,
    resolve_dtype,
    thread_limit,
    to_numpy,
    to_tensor,
)
from ..nn import ReLUNet, ReLUNetSpec, fit_half_padding_scale, forward, init_params, pad_half
from ..training import NetworkObjective, SGDConfig, train

PREDICT_CHUNK = 8192


class InconsistentVersionWarning(UserWarning):
    """A pickled estimator is loaded by another version of sklearn_overparam."""


SGD_CONSTRAINTS = {
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "lr_decay_epoch": [StrOptions({"half"}), Interval(Integral, 0, None, closed="left"), None],
    "lr_decay_factor": [Interval(Real, 0, None, closed="neither")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "progress_bar": ["boolean"],
    "callbacks": [list, tuple, None],
    "device": [str],
    "dtype": [StrOptions({"float32", "float64"})],
}


class VersionedPickleMixin:
    """Record the library version in pickles and warn when another version loads them."""

    def __getstate__(self):
        state = super().__getstate__()
        state["_sklearn_overparam_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_sklearn_overparam_version", None)
        if version != __version__:
            warnings.warn(
                f"Trying to unpickle {type(self).__name__} from sklearn_overparam version "
                f"{version} when using version {__version__}. This might lead to breaking "
                "code or invalid results. Use at your own risk.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)


class BaseReLUNetwork(VersionedPickleMixin, BaseEstimator):
    """Fit/predict machinery for estimators whose model is one network of :mod:`nn`.

    Subclasses define ``_build_spec(n_inputs, n_outputs)`` and, for their loss and targets,
    ``_loss``, ``_prepare_targets`` and ``_validation_score``.
    """

    _loss = "squared"

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

    # ------------------------------------------------------------------ inputs
    def _fit_input_map(self, X):
        padding = getattr(self, "input_padding", None)
        if padding == "half":
            self.input_scale_ = fit_half_padding_scale(X)

    def _network_input(self, X):
        """Map validated raw inputs to what the network sees (SPEC 1.1 padding)."""
        if getattr(self, "input_padding", None) == "half":
            return pad_half(X, self.input_scale_)
        return X

    # -------------------------------------------------------------- the engine
    def _lr_decay_epoch(self):
        if self.lr_decay_epoch == "half":
            return self.max_iter // 2
        return self.lr_decay_epoch

    def _sgd_config(self, n_samples):
        return SGDConfig(
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

    def _init_network(self, X, Y, random_state):
        """Input map, architecture and initial parameters for a fit.

        Every estimator draws the same two seeds in the same order (initialization, then
        training), so estimators sharing ``random_state`` and architecture share the
        network: the conjugate-kernel and NTK baselines see the learner's initialization.
        Returns the network inputs, the spec, the parameters (a stack of one, on the
        training device), a numpy copy of them and the training seed.
        """
        init_seed, train_seed = draw_seeds(random_state, 2)
        device, dtype = resolve_device(self.device), resolve_dtype(self.dtype)
        self._fit_input_map(X)
        Z = self._network_input(X)
        spec = self._build_spec(Z.shape[1], self._n_net_outputs(Y))
        params = init_params(spec, [init_seed], dtype=dtype, device=device)
        initial = {n: to_numpy(p[0]).copy() for n, p in params.items()}
        return Z, spec, params, initial, train_seed

    def _fit_network(self, X, Y, *, stratify=None, early_stopping=None):
        """Initialise and train the network on validated ``X`` and prepared targets ``Y``.

        Sets the fitted attributes only once training has succeeded.
        """
        random_state = check_random_state(self.random_state)
        device, dtype = resolve_device(self.device), resolve_dtype(self.dtype)
        with torch.no_grad(), thread_limit():
            Z, spec, params, initial, train_seed = self._init_network(X, Y, random_state)
            config = self._sgd_config(Z.shape[0])
            objective, trained = self._objective(spec, params)
            validation = None
            if self.early_stopping if early_stopping is None else early_stopping:
                Z, Z_val, Y, Y_val = self._split_validation(Z, Y, random_state, stratify)
                validation = (
                    to_tensor(Z_val, dtype=dtype, device=device),
                    self._targets_tensor(Y_val, dtype, device),
                )
            result = train(
                objective,
                trained,
                to_tensor(Z, dtype=dtype, device=device),
                self._targets_tensor(Y, dtype, device),
                config,
                [train_seed],
                validation=validation,
                validation_score=self._validation_score if validation else None,
                callbacks=tuple(self.callbacks or ()),
                verbose=self.verbose,
                progress_bar=self.progress_bar,
            )
        self._store_trained(spec, {n: to_numpy(p[0]) for n, p in result.params.items()},
                            initial)
        self._record_history(result, validation is not None, config)
        return self

    def _objective(self, spec, params):
        """What the engine trains: the network itself (``params``) under ``self._loss``."""
        return NetworkObjective(spec, self._loss), params

    def _store_trained(self, spec, trained, initial):
        self._store_network(spec, trained, initial)

    def _record_history(self, result, has_validation, config):
        """Fitted loss/validation attributes from an engine run; warn if it did not converge."""
        history = result.history.as_dict()
        self.history_ = {k: v[:, 0] if v.ndim == 2 else v for k, v in history.items()}
        self.n_iter_ = int(result.n_epochs[0])
        self.loss_curve_ = self.history_["loss"].tolist()
        self.loss_ = self.loss_curve_[-1]
        if has_validation:
            self.validation_scores_ = self.history_["validation_score"].tolist()
            self.best_validation_score_ = float(result.best_validation_score[0])
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if config.tol is not None and not result.converged[0] and not result.stopped_by_callback:
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet. Increase max_iter or set tol=None to run "
                "a fixed number of epochs.",
                ConvergenceWarning,
                stacklevel=4,
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

    def _fitted_spec(self) -> ReLUNetSpec:
        trainable = self._build_spec(self.coefs_[0].shape[1], self.coefs_[-1].shape[0]).trainable
        return ReLUNetSpec.from_shapes(
            [w.shape for w in self.coefs_],
            [b is not None for b in self.intercepts_],
            output_multiplier=self.output_multiplier_,
            trainable=trainable,
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
        """The fitted network as a ``torch.nn.Module`` (a float32 CPU copy).

        Its input is the *network* input: apply :meth:`_network_input` (the padding of
        ``input_padding``) to validated raw features first.
        """
        check_is_fitted(self)
        spec = self._fitted_spec()
        return ReLUNet(spec, self._fitted_params(torch.float32, torch.device("cpu")))

    def _predict_device(self):
        try:
            return resolve_device(self.device)
        except ValueError:
            # a model fitted on a GPU predicts on a machine without one
            return torch.device("cpu")

    def _inference_dtype(self, device):
        # float64 on the CPU: predictions do not depend on how rows are batched (float32
        # matmul rounding does), at a small cost; the model dtype on accelerators.
        return torch.float64 if device.type == "cpu" else resolve_dtype(self.dtype)

    def _raw_output(self, X):
        """Network outputs ``(n, k)`` as float64 numpy for validated raw ``X``."""
        device = self._predict_device()
        dtype = self._inference_dtype(device)
        Z = self._network_input(X)
        spec = self._fitted_spec()
        with torch.no_grad(), thread_limit():
            params = self._fitted_params(dtype, device)
            chunks = [
                to_numpy(forward(spec, params, to_tensor(Z[s : s + PREDICT_CHUNK],
                                                         dtype=dtype, device=device))[0])
                for s in range(0, Z.shape[0], PREDICT_CHUNK)
            ]
        out = np.concatenate(chunks, axis=0).astype(np.float64, copy=False)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "The network output is not finite for some rows of X (overflow). Scale the "
                "inputs like the training data (e.g. StandardScaler in a Pipeline)."
            )
        return out

    def _validate_predict_input(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])


def ensure_2d_targets(y):
    """``(n,)`` targets as ``(n, 1)``; 2-D targets unchanged."""
    return y.reshape(-1, 1) if y.ndim == 1 else y
