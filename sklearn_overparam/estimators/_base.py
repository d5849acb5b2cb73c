"""The estimator template shared by every network estimator of the library.

``fit`` is written once, here: validate (task mixin) -> resolve the effective settings in
one place (``_settings``) -> the initial network (input map, spec, parameters, seeds) ->
the estimator's own ``_fit`` (its solver dispatch) -> fitted state. ``predict`` reads
fitted state only, so ``set_params`` after ``fit`` never changes predictions.

``partial_fit`` and ``warm_start`` go through the same template: the previous fit's
initialization, input map and training state replace the fresh draw, and one engine
observer (:class:`_RunObserver`) carries the momentum buffers across calls and opens the
per-epoch tasks of scikit-learn's callback API (``set_callbacks``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from .._compat import (
    CallbackSupportMixin,
    _fit_context,
    check_sample_weight,
    with_callbacks,
)
from .._torch import (
    draw_seeds,
    resolve_device,
    resolve_dtype,
    thread_limit,
    to_numpy,
    to_tensor,
)
from ..nn import dead_layers, init_params
from ..training import NetworkObjective, SGDConfig, train
from ._fitted import _FittedNetworkMixin
from ._input_map import HalfSpherePadding
from ._observer import _continued_seed, _ObservedObjective, _RunObserver
from ._pickle import VersionedPickleMixin
from ._stacking import _StackedFitMixin
from ._state import FitSettings, InitialNetwork, _EngineRun  # noqa: F401 (re-exported)


class BaseReLUNetwork(_FittedNetworkMixin, _StackedFitMixin, CallbackSupportMixin,
                      VersionedPickleMixin, BaseEstimator):
    """Fit/predict template for estimators whose model is one network of :mod:`nn`.

    Subclasses supply ``_build_spec(n_inputs, n_outputs)``, ``_settings(n_samples)`` and
    ``_fit(net, Y, settings, random_state)``; task mixins supply ``_validate_fit_data``,
    ``_loss``, ``_validation_score``, ``_out_activation`` and ``partial_fit``.
    """

    _loss = "squared"
    _out_activation = "identity"

    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the estimator on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss (non-negative, not all zero): the mean loss
            becomes ``sum_i w_i l_i / sum_i w_i`` (per batch for SGD), a weighted ridge
            for closed-form solves. Integer weights equal repeated samples under
            full-batch training and closed forms with a fixed ``alpha``; zero weights equal
            dropping the samples (they are dropped) for every solver.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_entry(X, y, sample_weight, incremental=False)

    def _iterative(self):
        """Whether the current ``solver`` trains by steps (closed forms do not)."""
        return getattr(self, "solver", "sgd") != "closed_form"

    def _fit_entry(self, X, y, sample_weight, *, incremental, classes=None):
        """``fit`` (a new network, or the previous one with ``warm_start``) and
        ``partial_fit`` (one epoch from the previous state): one template."""
        previous = self._previous_fit(incremental)
        self._fit_call = {"resume": previous, "capture": bool(incremental or self.warm_start),
                          "tasks": None}
        try:
            with self._atomic_fit(previous):
                self._fit_once(X, y, sample_weight, previous, incremental, classes)
        finally:
            del self._fit_call
        return self

    def _fit_once(self, X_raw, y_raw, sample_weight, previous, incremental, classes):
        if previous is not None:  # what validating against the previous fit reads
            for key in ("n_features_in_", "feature_names_in_", "classes_", "n_outputs_"):
                if key in previous:
                    setattr(self, key, previous[key])
        X, Y = self._validate_fit_data(X_raw, y_raw, previous=previous,
                                       incremental=incremental, classes=classes)
        X, Y, sw, sw_full = self._weighted_rows(X, Y, sample_weight,
                                                first=previous is None and not incremental)
        settings = self._settings(X.shape[0])
        if incremental and settings.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: one epoch has no "
                "validation curve to stop on. Set early_stopping=False."
            )
        offset = len(previous["loss_curve_"]) if previous is not None else 0
        if settings.config is not None:
            settings.config = self._continued_config(settings.config, incremental, offset)
        random_state = check_random_state(self.random_state)
        metadata = {} if sw_full is None else {"sample_weight": sw_full}
        max_epochs = settings.config.max_epochs if self._iterative() else 0
        root = self._init_callback_context(max_subtasks=max_epochs)
        root.call_on_fit_task_begin(estimator=self, X=X_raw, y=y_raw, metadata=metadata)
        if getattr(self, "_skl_callbacks", None):
            self._fit_call["tasks"] = (root, X_raw, y_raw, metadata)
        with torch.no_grad(), thread_limit():
            net = self._initial_network(X, Y, random_state)
            net.sample_weight = sw
            self._fit(net, Y, settings, random_state)
        if previous is not None:
            self._accumulate(previous)
        root.call_on_fit_task_end(estimator=self, X=X_raw, y=y_raw, metadata=metadata,
                                  reconstruction_attributes={})

    def _weighted_rows(self, X, Y, sample_weight, *, first):
        """Validated weights; rows of zero weight dropped (exactly a fit without them).

        Returns ``(X, Y, w, w_full)``: the kept rows, their weights (None when all are
        equal: the unweighted fit, bit for bit) and the validated full-length weights.
        """
        if sample_weight is None:
            return X, Y, None, None
        sw = check_sample_weight(sample_weight, X, dtype=np.float64)
        keep = sw > 0
        if not keep.all():
            X, Y = X[keep], Y[keep]
        w = sw[keep]
        self._check_weighted_targets(Y, first=first)
        return X, Y, (None if np.all(w == w[0]) else w), sw

    def _check_weighted_targets(self, Y, *, first):
        """Task mixins reject targets that positive weights leave unlearnable."""

    @staticmethod
    def _continued_config(config, incremental, offset):
        """One epoch for ``partial_fit``; the step schedule counted from the first fit."""
        if incremental:
            config = replace(config, max_epochs=1, tol=None, max_steps=None)
        if offset and config.lr_decay_epoch is not None:
            config = replace(config, lr_decay_epoch=max(0, config.lr_decay_epoch - offset))
        return config

    def _previous_fit(self, incremental):
        """The fitted attributes a continued fit starts from, or None for a new network."""
        if not (incremental or self.warm_start) or not self._iterative():
            return None
        attrs = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("__")}
        solver = getattr(self, "solver", "sgd")
        state = attrs.get("_state_")
        if state is None:
            # fitted without a kept training state (a fit_grid candidate, a closed-form
            # solve): continue from the fitted weights where they are the trained tensors
            if "coefs_" not in attrs or self._public_trained(attrs) is None:
                return None
            attrs["_state_"] = {"solver": solver, "trained": None, "velocity": None}
        elif state["solver"] != solver:
            raise ValueError(
                f"{'partial_fit' if incremental else 'warm_start=True'} continues the previous "
                f"fit of solver={state['solver']!r}; got solver={solver!r}. Set "
                "warm_start=False (and use fit) to start a new network."
            )
        return attrs

    def _resumed(self):
        """The previous fit's attributes while a continued fit runs, else None."""
        call = getattr(self, "_fit_call", None)
        return None if call is None else call["resume"]

    def _accumulate(self, previous):
        """A continued fit's curves and counters follow the previous fit's (MLP's)."""
        self.loss_curve_ = list(previous["loss_curve_"]) + self.loss_curve_
        if self.validation_scores_ is not None and previous["validation_scores_"] is not None:
            self.validation_scores_ = list(previous["validation_scores_"]) + self.validation_scores_
        old, new = previous["history_"], self.history_
        shift = {"time": old["time"][-1] if len(old.get("time", ())) else 0.0}
        self.history_ = {k: np.concatenate([old[k], new[k] + shift.get(k, 0)])
                         for k in new if k in old}  # records both fits have
        self.t_ = int(previous["t_"]) + self.t_
        if self.best_loss_ is not None and previous["best_loss_"] is not None:
            self.best_loss_ = min(float(previous["best_loss_"]), self.best_loss_)

    def _clear_fitted(self):
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, key)

    @contextlib.contextmanager
    def _atomic_fit(self, previous=None):
        """A fit starts from no fitted state (nothing stale survives a refit with other
        settings) and on any error (divergence, KeyboardInterrupt) leaves none behind; a
        failed continued fit (``warm_start``, ``partial_fit``) leaves the previous model."""
        self._clear_fitted()
        try:
            yield
        except BaseException:
            self._clear_fitted()
            if previous is not None:
                vars(self).update(previous)
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
        initialized exactly as a fit with that ``random_state`` would be. A continued fit
        (``warm_start``, ``partial_fit``) keeps the previous fit's input map and
        initialization, and trains on its own seed (derived from the epochs run so far).
        """
        states = [random_state] if copies is None else [check_random_state(c) for c in copies]
        seeds = [draw_seeds(rs, 2) for rs in states]
        device, dtype = resolve_device(self.device), resolve_dtype(self.dtype)
        previous = self._resumed() if copies is None else None
        input_map = self._input_map()
        if previous is None:
            self.input_map_ = None if input_map is None else input_map.fit(X)
        else:
            self.input_map_ = previous["input_map_"]
            if type(input_map) is not type(self.input_map_):
                raise ValueError(
                    "A continued fit keeps the input map of the first fit "
                    f"({type(self.input_map_).__name__}); the parameters now ask for "
                    f"{type(input_map).__name__}. Set warm_start=False to start a new network."
                )
        Z = self._network_input(X)
        spec = self._build_spec(Z.shape[1], self._n_net_outputs(Y))
        if previous is None:
            params = init_params(spec, [s[0] for s in seeds], dtype=dtype, device=device)
            initial = {n: to_numpy(p).copy() for n, p in params.items()}
            train_seeds = [s[1] for s in seeds]
        else:
            initial = self._previous_initial(previous, spec)
            params = {n: to_tensor(v.copy(), dtype=dtype, device=device)  # trained in place
                      for n, v in initial.items()}
            train_seeds = [_continued_seed(seeds[0][1], len(previous["loss_curve_"]))]
        return InitialNetwork(Z, spec, params, initial, train_seeds, device, dtype)

    def _previous_initial(self, previous, spec):
        """The stacked initial parameters of the previous fit, checked against ``spec``."""
        shapes = [(layer.fan_out, layer.fan_in) for layer in spec.layers]
        fitted = [tuple(w.shape) for w in previous["initial_coefs_"]]
        if fitted != shapes or tuple(previous["trainable_"]) != tuple(spec.trainable_names):
            raise ValueError(
                "A continued fit trains the network of the previous fit: weight shapes "
                f"{fitted} with {previous['trainable_']} trained; the parameters now give "
                f"{shapes} with {spec.trainable_names} trained. Set warm_start=False to "
                "start a new network."
            )
        biases = previous["_state_"].get("initial_biases", {})
        initial = {}
        for l, (w, b) in enumerate(zip(previous["initial_coefs_"], previous["intercepts_"])):
            initial[f"W{l}"] = np.asarray(w)[None].copy()
            if b is not None:  # a frozen bias is its initial value
                initial[f"b{l}"] = np.asarray(biases.get(f"b{l}", b))[None].copy()
        return initial

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

    def _engine_inputs(self, net):
        """What the engine trains on for the rows of ``net.Z`` (the network inputs)."""
        return net.Z

    def _observer(self, call, net, settings, objective, trained, selects_last):
        """The :class:`_RunObserver` a single-network fit needs, or None."""
        cfg = settings.config
        momentum = float(np.asarray(cfg.momentum, dtype=np.float64).reshape(-1)[0])
        decay = float(np.asarray(cfg.weight_decay, dtype=np.float64).reshape(-1)[0])
        names = tuple(objective.trainable_names)
        velocity0 = None
        previous = call["resume"]
        if previous is not None and momentum:
            saved = previous["_state_"].get("velocity")
            if saved is not None and set(saved) == set(names):
                velocity0 = {n: to_tensor(saved[n][None], dtype=net.dtype, device=net.device)
                             for n in names}
        capture = call["capture"] and momentum != 0
        if not (capture or call["tasks"] or not selects_last or velocity0 is not None):
            return None
        return _RunObserver(self, net, objective, trained, names, momentum=momentum,
                            weight_decay=decay, velocity0=velocity0, capture=capture,
                            snapshot=not selects_last, tasks=call["tasks"])

    def _restore_trained(self, trained, previous):
        """Load the previous fit's training state into the tensors the engine trains."""
        state = previous["_state_"]
        values = dict(self._public_trained(previous) or {})
        values.update(state["trained"] or {})  # the trained tensors, when kept apart
        missing = set(trained) - set(values)
        if missing:
            raise ValueError(f"The previous fit's training state lacks {sorted(missing)}; set "
                             "warm_start=False to start a new network.")
        for name, tensor in trained.items():
            tensor.copy_(to_tensor(np.asarray(values[name])[None], dtype=tensor.dtype,
                                   device=tensor.device))

    def _public_trained(self, attrs):
        """The trained tensors (numpy, one copy) as the fitted attributes ``attrs`` hold
        them, or None when they are not there (then the training state is kept apart)."""
        out = {}
        for l, (w, b) in enumerate(zip(attrs["coefs_"], attrs["intercepts_"])):
            out[f"W{l}"] = w
            if b is not None:
                out[f"b{l}"] = b
        return out

    def _store_state(self, net, run):
        """The training state a later ``warm_start`` / ``partial_fit`` continues (K=1).

        The trained tensors are kept apart only when the fitted attributes do not hold the
        last iterate (a selected iterate, a linear model's dual coefficients; frozen tensors
        are read from the fitted attributes); momentum buffers only from a
        ``warm_start=True`` fit or ``partial_fit``.
        """
        observer = run.observer
        if observer is not None and observer.last is not None:
            trained = {n: to_numpy(t[0]).copy() for n, t in observer.last.items()}
        elif run.selects_last:
            trained = None
            if self._public_trained(vars(self)) is None:
                trained = {n: to_numpy(t[0]).copy() for n, t in run.result.params.items()}
        else:  # the last iterate is gone: this fit cannot be continued
            return
        self._state_ = {
            "solver": getattr(self, "solver", "sgd"),
            "trained": trained,
            "velocity": None if observer is None else observer.velocity(),
            "initial_biases": {n: np.asarray(net.initial[n][0]).copy()
                               for n in net.spec.trainable_names if n.startswith("b")},
        }

    def _snapshot_attributes(self, net, objective, trained):
        """The prediction attributes of the model at the live state ``trained`` (copies):
        the ``reconstruction_attributes`` of an epoch for scikit-learn callbacks."""
        final = self._final_network(net, objective, trained)
        source = net.params if final is None else final
        attrs = self._network_attributes(
            net.spec, {n: to_numpy(p[0]).copy() for n, p in source.items()},
            net.initial_copy(0))
        attrs.update(self._snapshot_extra(net, objective, trained))
        return attrs

    def _snapshot_extra(self, net, objective, trained):
        """Estimator-specific prediction attributes of a live state (linear models)."""
        return {}

    def _run_engine(self, net, Y, settings, random_state, *, stratify=None,
                    on_divergence="raise"):
        """Train the objective of ``net`` (all its copies); returns what storing needs."""
        objective, trained = self._objective(net, settings)
        call = getattr(self, "_fit_call", None) if len(net.train_seeds) == 1 else None
        if call is not None and call["resume"] is not None:
            self._restore_trained(trained, call["resume"])
        Z, validation, sw = self._engine_inputs(net), None, net.sample_weight
        score = self._validation_score
        if settings.early_stopping:
            Z, Z_val, Y, Y_val, sw, sw_val = self._split_validation(Z, Y, random_state,
                                                                    stratify, sw)
            validation = (to_tensor(Z_val, dtype=net.dtype, device=net.device),
                          self._targets_tensor(Y_val, net.dtype, net.device))
            if sw_val is not None:
                score = partial(score, sample_weight=to_tensor(sw_val, dtype=net.dtype,
                                                               device=net.device))
        Zt = to_tensor(Z, dtype=net.dtype, device=net.device)
        seams = self._engine_seams(net, settings, objective)
        recorders = self._recorders(net, trained, Y)
        callbacks = (tuple(seams.pop("callbacks", ())) + tuple(recorders.values())
                     + tuple(self.callbacks or ()))
        selects_last = ("selector" not in seams and validation is None
                        and settings.config.iterate == "last")
        observer = (None if call is None else
                    self._observer(call, net, settings, objective, trained, selects_last))
        engine_objective = objective
        if observer is not None:
            engine_objective = _ObservedObjective(objective, observer)
            callbacks = callbacks + (observer,)
        weights = {} if sw is None else {"sample_weight": sw}
        result = train(
            engine_objective, trained, Zt, self._targets_tensor(Y, net.dtype, net.device),
            settings.config, net.train_seeds,
            validation=validation,
            validation_score=score if validation else None,
            callbacks=callbacks,
            on_divergence=on_divergence,
            verbose=self.verbose,
            progress_bar=self.progress_bar,
            **weights,
            **seams,
        )
        final = self._final_network(net, objective, trained)
        if final is None:  # a linearized model: the network itself did not move
            final, dead = net.params, np.zeros(len(net.train_seeds), dtype=bool)
        else:
            dead = dead_layers(net.spec, final, Zt).cpu().numpy()
        return _EngineRun(result, final, dead, validation is not None, settings.config,
                          objective, recorders, n_train=Z.shape[0], observer=observer,
                          selects_last=selects_last)

    def _recorders(self, net, trained, Y):
        """Diagnostics recorders (training set, and ``diagnostics_X``) for ``record_every``."""
        every = getattr(self, "record_every", None)
        if every is None:
            return {}
        if trained is not net.params:
            raise ValueError(
                "`record_every` records the diagnostics of a network whose weights train; "
                f"{type(self).__name__} with these settings trains something else (a "
                "linearization or weight increments). Set record_every=None."
            )
        from ..diagnostics import DiagnosticsRecorder

        sets = {"": net.Z}
        if self.diagnostics_X is not None:
            Xd = validate_data(self, self.diagnostics_X, reset=False,
                               dtype=[np.float64, np.float32])
            sets["X_"] = self._network_input(Xd)
        return {prefix: DiagnosticsRecorder(net.spec, net.params, to_tensor(
                    Z, dtype=net.dtype, device=net.device), every=every)
                for prefix, Z in sets.items()}

    def _store_diagnostics(self, run, k):
        if not run.recorders:
            self.diagnostics_ = None
            return
        out = {}
        for prefix, rec in run.recorders.items():
            records = rec.records
            mine = np.asarray(records["copy"]) == k
            for key, values in records.items():
                if key == "copy" or (prefix and key == "epoch"):
                    continue
                out[prefix + key] = np.asarray(values)[mine]
        self.diagnostics_ = out

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
        self._store_diagnostics(run, k)
        self.t_ = self._samples_seen(run, k)

    @staticmethod
    def _samples_seen(run, k):
        """Training samples the solver visited in the run (MLP's ``t_``)."""
        cfg, n, steps = run.config, run.n_train, int(run.result.n_steps[k])
        batch = n if cfg.batch_size is None else int(cfg.batch_size)
        if cfg.sampling == "replacement":
            return steps * batch
        if batch >= n:
            return steps * n
        per_epoch = math.ceil(n / batch)
        return (steps // per_epoch) * n + (steps % per_epoch) * batch

    def _train(self, net, Y, settings, random_state, *, stratify=None):
        """Run the engine on the objective of ``net`` (one copy); store the result."""
        run = self._run_engine(net, Y, settings, random_state, stratify=stratify)
        self._store_copy(net, run)
        self._store_state(net, run)
        return run.result

    def _split_validation(self, Z, Y, random_state, stratify, sample_weight=None):
        arrays = (Z, Y) if sample_weight is None else (Z, Y, sample_weight)
        parts = train_test_split(
            *arrays, test_size=self.validation_fraction, random_state=random_state,
            stratify=stratify,
        )
        if parts[1].shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        if sample_weight is None:
            parts = [*parts, None, None]
        return tuple(parts)

    def _targets_tensor(self, Y, dtype, device):
        return to_tensor(Y, dtype=dtype, device=device)

    def _n_net_outputs(self, Y):
        return Y.shape[1]
