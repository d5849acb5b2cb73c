"""The fitted state of an estimator: its loss record, stored network and prediction.

What ``fit`` leaves (the loss curve and history, numpy ``coefs_``, ``intercepts_``,
``initial_coefs_``, the output multiplier and the trainable names) is all ``predict``
reads: the architecture is rebuilt from the weight shapes, so fitted state is plain
arrays and numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from .._torch import resolve_device, thread_limit, to_numpy, to_tensor
from ..nn import ReLUNet, ReLUNetSpec, forward
from ._pickle import warn_user

PREDICT_CHUNK = 8192


def mean_squared(residual, sample_weight=None):
    """``mean_{i,r} residual**2``, the squared loss; weighted over rows with weights."""
    if sample_weight is None:
        return float(np.mean(residual**2))
    return float(np.average(np.mean(residual**2, axis=1), weights=sample_weight))


class _FittedNetworkMixin:
    """Stores the fit's loss record and trained network as fitted attributes, and
    predicts from them."""

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
            self.best_loss_ = None  # as MLP: the validation score decides
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(np.min(self.history_["loss"]))
        if config.tol is not None and not result.converged[k] and not result.stopped_by_callback:
            warn_user(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet. Increase max_iter or set tol=None to run "
                "a fixed number of epochs.",
                ConvergenceWarning,
            )

    def _record_closed_form(self, loss, n_samples):
        """Fitted loss attributes of a closed-form solve (one 'iteration')."""
        if getattr(self, "record_every", None) is not None:
            raise ValueError(
                "`record_every` records diagnostics along SGD training; a closed-form solve "
                "has no epochs. Use solver='sgd' or record_every=None."
            )
        self.diagnostics_ = None
        self.n_iter_ = 1
        self.loss_ = loss
        self.loss_curve_ = [loss]
        self.best_loss_ = loss
        self.t_ = int(n_samples)
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.history_ = {"loss": np.array([loss])}

    def _network_attributes(self, spec, params, initial):
        """The fitted attributes of a network (numpy ``params`` and ``initial``)."""
        return {
            "coefs_": [params[f"W{l}"] for l in range(spec.depth)],
            "intercepts_": [params.get(f"b{l}") for l in range(spec.depth)],
            "initial_coefs_": [initial[f"W{l}"] for l in range(spec.depth)],
            "output_multiplier_": float(spec.output_multiplier),
            "trainable_": tuple(spec.trainable_names),
            "n_layers_": spec.depth + 1,
            "out_activation_": self._out_activation,
        }

    def _store_network(self, spec, params, initial):
        for name, value in self._network_attributes(spec, params, initial).items():
            setattr(self, name, value)

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
