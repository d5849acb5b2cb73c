"""Stacked fits: many clones of one network estimator trained as ONE engine run.

``_fit_stack`` serves :func:`~sklearn_overparam.model_selection.fit_grid`, the stacked
searches and :func:`~sklearn_overparam.diagnostics.min_width_for_zero_error`: every clone is
a normal fitted estimator, exactly the network, seeds and settings of its own ``fit``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import clone
from sklearn.utils import check_random_state

from .._compat import (
    _num_samples,
    _safe_indexing,
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
from ..training import train
from ..training._engine import steps_per_epoch
from ._state import FitSettings, InitialNetwork, _EngineRun


class _StackedFitMixin:
    """The stacked-fit methods of :class:`~sklearn_overparam.estimators._base.BaseReLUNetwork`."""

    # ---------------------------------------------------------------- stacking
    # solvers whose ``_fit`` is more than one engine run over the training rows: closed
    # forms, and NTRF's projected GD (its step size comes from the training Gram)
    _UNSTACKED_SOLVERS = ("closed_form", "primal_pgd", "kernel_pgd")

    @dataclass
    class _StackCopy:
        """One clone's part of a stacked fit: its validated training data and settings."""

        X: np.ndarray
        Y: np.ndarray
        rows: np.ndarray  # its rows of the shared inputs (zero-weight rows dropped)
        weights: np.ndarray | None
        settings: FitSettings
        slot: int  # its network inputs' slot

    def _stack_blockers(self):
        """Why fits of this estimator cannot share an engine run (empty when they can)."""
        reasons = []
        solver = getattr(self, "solver", "sgd")
        if solver in self._UNSTACKED_SOLVERS:
            reasons.append(f"solver={solver!r} is not a run of the SGD engine alone")
        checks = (
            ("early_stopping", "early_stopping=True holds out a validation split per fit"),
            ("callbacks", "engine callbacks observe one fit's run"),
            ("stop_at_zero_error", "stop_at_zero_error checks one fit's training error"),
            ("warm_start", "warm_start=True keeps a fit's momentum for the next call"),
        )
        for name, why in checks:
            if getattr(self, name, None):
                reasons.append(why)
        if getattr(self, "record_every", None) is not None:
            reasons.append("record_every records one fit's diagnostics")
        if getattr(self, "_skl_callbacks", None):
            reasons.append("scikit-learn callbacks (set_callbacks) follow one fit")
        return reasons

    def _fit_stack(self, X, y, candidates, *, rows=None, sample_weight=None, copy_inputs=None,
                   max_copies=None, return_times=False):
        """Fit one clone per candidate (a dict of stackable parameters), stacked.

        Every clone is a normal fitted estimator, equal to
        ``clone(self).set_params(**candidate).fit(X_k[rows_k], y[rows_k],
        sample_weight=sample_weight[rows_k])`` up to float rounding (its network, seeds,
        input map and settings are exactly those of that fit). Clones with the same
        architecture and schedule train as ONE engine run (at most ``max_copies`` networks
        each: tiles that stay in cache); each copy samples its batches from its own rows
        of the shared inputs. A candidate whose fit fails (divergence, dead ReLUs, invalid
        parameters) gets the exception instead of an estimator, and does not stop the
        others. Estimators whose fits cannot share a run (:meth:`_stack_blockers`) are
        fitted one after another.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Shared raw inputs (ignored with ``copy_inputs``).
        y : array-like of shape (n,) or (n, k)
            Targets (shared).
        candidates : list of dict
            Parameters of each clone.
        rows : list of K integer arrays, optional
            Training rows of each clone in ``X`` and ``y``; default all rows.
        sample_weight : array-like of shape (n,), optional
            Per-sample weights (each clone uses those of its rows; zero-weight rows are
            dropped, as ``fit`` does).
        copy_inputs : list of K array-likes of shape (n, d), optional
            Raw inputs per candidate instead of ``X`` (e.g. preprocessed per CV fold: the
            same object for the candidates of one fold, so that they share it).
        max_copies : int, optional
            Largest stack of one engine run.
        return_times : bool, default=False
            Also return the seconds spent on each clone (its share of the engine runs).

        Returns
        -------
        fitted : list
            One fitted estimator (or exception) per candidate; with ``return_times``, the
            tuple ``(fitted, times)``.
        """
        K = len(candidates)
        if copy_inputs is not None and len(copy_inputs) != K:
            raise ValueError(f"`copy_inputs` must hold one array per candidate ({K}); got "
                             f"{len(copy_inputs)}.")
        if rows is not None and len(rows) != K:
            raise ValueError(f"`rows` must hold one index array per candidate ({K}); got "
                             f"{len(rows)}.")
        inputs = list(copy_inputs) if copy_inputs is not None else [X] * K
        n = _num_samples(inputs[0])
        rows = [np.arange(n) if rows is None else np.asarray(rows[k]) for k in range(K)]
        clones = [clone(self).set_params(**clone(c, safe=False)) for c in candidates]
        times = np.zeros(K)
        out = [None] * K
        if self._stack_blockers():
            for k, est in enumerate(clones):
                start = time.perf_counter()
                kwargs = {} if sample_weight is None else {
                    "sample_weight": _safe_indexing(sample_weight, rows[k])}
                try:
                    out[k] = est.fit(_safe_indexing(inputs[k], rows[k]),
                                     _safe_indexing(y, rows[k]), **kwargs)
                except Exception as exc:  # noqa: BLE001 - the candidate's own failure
                    out[k] = exc
                times[k] = time.perf_counter() - start
            return (out, times) if return_times else out
        prepared = self._stack_prepare(clones, inputs, y, rows, sample_weight, out, times, n)
        for run in self._stack_runs(clones, prepared, max_copies):
            self._stack_train(run, clones, prepared, out, times)
        return (out, times) if return_times else out

    def _stack_prepare(self, clones, inputs, y, rows, sample_weight, out, times, n):
        """Per clone: validated data, kept rows, settings, input map and input slot.

        Clones of one (inputs, rows) pair share one fitted input map; network inputs that
        agree on the rows they share go to one slot of the engine's inputs (a stateless
        map, or none: all folds read one shared array).
        """
        skip = get_config()["skip_parameter_validation"]
        maps, slots, prepared = {}, [], {}
        for k, est in enumerate(clones):
            start = time.perf_counter()
            try:
                if not skip:
                    est._validate_params()
                r = rows[k]
                Xv, Yv = est._validate_fit_data(_safe_indexing(inputs[k], r),
                                                _safe_indexing(y, r))
                weights = None
                if sample_weight is not None:
                    sw_rows = _safe_indexing(sample_weight, r)
                    Xv, Yv, _, sw = est._weighted_rows(Xv, Yv, sw_rows, first=True)
                    keep = np.asarray(sw) > 0
                    r = r[keep]
                    weights = np.asarray(sw, dtype=np.float64)[keep]
                settings = est._settings(Xv.shape[0])
                key = (id(inputs[k]), r.tobytes())
                if key not in maps:
                    input_map = est._input_map()
                    input_map = None if input_map is None else input_map.fit(Xv)
                    est.input_map_ = input_map
                    Z = est._network_input(Xv)
                    maps[key] = (input_map, self._stack_slot(slots, Z, r, n))
                est.input_map_, slot = maps[key]
                prepared[k] = self._StackCopy(Xv, Yv, r, weights, settings, slot)
            except Exception as exc:  # noqa: BLE001 - the candidate's own failure
                est._clear_fitted()
                out[k] = exc
            times[k] += time.perf_counter() - start
        return {"copies": prepared, "slots": slots}

    @staticmethod
    def _stack_slot(slots, Z, r, n):
        """The index of a slot (``n`` rows) that agrees with ``Z`` on the rows both hold
        (a new slot if none does)."""
        Z = np.asarray(Z)
        for i, (arr, filled) in enumerate(slots):
            if arr.dtype != Z.dtype or arr.shape[1:] != Z.shape[1:]:
                continue
            shared = filled[r]
            if np.array_equal(arr[r[shared]], Z[shared]):
                arr[r] = Z
                filled[r] = True
                return i
        arr = np.zeros((n,) + Z.shape[1:], dtype=Z.dtype)
        filled = np.zeros(n, dtype=bool)
        arr[r], filled[r] = Z, True
        slots.append((arr, filled))
        return len(slots) - 1

    def _stack_runs(self, clones, prepared, max_copies):
        """Clones grouped into engine runs: same architecture, loss and schedule (learning
        rate, momentum and weight decay may differ), at most ``max_copies`` each."""
        groups = {}
        for k, copy in prepared["copies"].items():
            est, cfg = clones[k], copy.settings.config
            shared = replace(cfg, learning_rate=0.0, momentum=0.0, weight_decay=0.0)
            d = prepared["slots"][copy.slot][0].shape[1]
            signature = [repr(shared), copy.settings.solver, copy.settings.early_stopping,
                         repr(est._build_spec(d, est._n_net_outputs(copy.Y))), repr(est._loss),
                         repr(getattr(est, "classes_", None))]
            if (cfg.sampling == "replacement" or cfg.iterate == "uniform_random"
                    or cfg.max_steps is not None):  # step-indexed: copies must stay in phase
                signature.append(steps_per_epoch(len(copy.rows), cfg))
            groups.setdefault(tuple(signature), []).append(k)
        size = max_copies or max((len(g) for g in groups.values()), default=1)
        return [g[s:s + size] for g in groups.values() for s in range(0, len(g), size)]

    def _stack_train(self, idx, clones, prepared, out, times):
        """One engine run over the clones ``idx``; stores each copy in its clone."""
        start = time.perf_counter()
        copies = [prepared["copies"][k] for k in idx]
        first = clones[idx[0]]
        device, dtype = resolve_device(first.device), resolve_dtype(first.dtype)
        used = sorted({c.slot for c in copies})
        slot_arrays = [prepared["slots"][s][0] for s in used]
        n = slot_arrays[0].shape[0]
        Z = np.stack(slot_arrays) if len(used) > 1 else slot_arrays[0]
        Y = np.zeros((n,) + copies[0].Y.shape[1:], dtype=copies[0].Y.dtype)
        for c in copies:
            Y[c.rows] = c.Y
        seeds = [draw_seeds(check_random_state(clones[k].random_state), 2) for k in idx]
        spec = first._build_spec(Z.shape[-1], first._n_net_outputs(copies[0].Y))
        configs = [c.settings.config for c in copies]
        group = replace(copies[0].settings, config=replace(
            configs[0], learning_rate=[c.learning_rate for c in configs],
            momentum=[c.momentum for c in configs],
            weight_decay=[c.weight_decay for c in configs]))
        all_rows = all(len(c.rows) == n and np.array_equal(c.rows, np.arange(n)) for c in copies)
        weighted = [c for c in copies if c.weights is not None and np.ptp(c.weights) > 0]
        sw = None
        if weighted:
            sw = np.ones((len(idx), n))
            for j, c in enumerate(copies):
                if c.weights is not None:
                    sw[j, c.rows] = c.weights
        with torch.no_grad(), thread_limit():
            params = init_params(spec, [s[0] for s in seeds], dtype=dtype, device=device)
            initial = {name: to_numpy(p).copy() for name, p in params.items()}
            net = InitialNetwork(Z, spec, params, initial, [s[1] for s in seeds], device, dtype)
            objective, trained = first._objective(net, group)
            seams = first._engine_seams(net, group, objective)
            callbacks = tuple(seams.pop("callbacks", ())) + tuple(first.callbacks or ())
            selects_last = "selector" not in seams and group.config.iterate == "last"
            Zt = to_tensor(Z, dtype=dtype, device=device)
            extra = {}
            if len(used) > 1:
                extra["x_index"] = [used.index(c.slot) for c in copies]
            if not all_rows or len(used) > 1:
                extra["rows"] = [c.rows for c in copies]
            if sw is not None:
                extra["sample_weight"] = sw
            try:
                result = train(objective, trained, Zt, first._targets_tensor(Y, dtype, device),
                               group.config, net.train_seeds, callbacks=callbacks,
                               on_divergence="mark", verbose=first.verbose,
                               progress_bar=first.progress_bar, **extra, **seams)
            except ValueError as exc:  # every copy diverged
                for k in idx:
                    clones[k]._clear_fitted()
                    out[k] = exc
                    times[k] += (time.perf_counter() - start) / len(idx)
                return
            final = first._final_network(net, objective, trained)
            dead = np.zeros(len(idx), dtype=bool)
            if final is None:
                final = net.params
            else:
                for j, c in enumerate(copies):
                    Zj = Zt if Zt.dim() == 2 else Zt[used.index(c.slot)]
                    Zj = Zj[torch.as_tensor(c.rows, device=device)]
                    dead[j] = bool(dead_layers(spec, {name: p[j:j + 1] for name, p in
                                                      final.items()}, Zj)[0])
            fields = {f.name for f in dataclasses.fields(_EngineRun)}
            run = dict(result=result, final=final, dead=dead, has_validation=False,
                       config=group.config, objective=objective, recorders={}, n_train=n,
                       observer=None, selects_last=selects_last)
            run = _EngineRun(**{key: v for key, v in run.items() if key in fields})
            share = (time.perf_counter() - start) / len(idx)
            for j, k in enumerate(idx):
                t0 = time.perf_counter()
                out[k] = self._stack_store(clones[k], net, run, j, copies[j], fields)
                times[k] += share + time.perf_counter() - t0

    @staticmethod
    def _stack_store(est, net, run, j, copy, fields):
        """Copy ``j`` of a stacked run stored by the clone's own ``_fit`` (its solver
        dispatch and fitted attributes), with the engine run replaced by copy ``j``'s part
        of the stacked one: what its own ``fit`` would have stored."""
        own = {"n_train": len(copy.rows)} if "n_train" in fields else {}
        mine = replace(run, **own)
        one = {name: p[j:j + 1] for name, p in run.result.params.items()}
        view = replace(mine, result=replace(run.result, params=one))
        net_j = replace(net, params={name: p[j:j + 1] for name, p in net.params.items()},
                        initial={name: v[j:j + 1] for name, v in net.initial.items()},
                        train_seeds=[net.train_seeds[j]])
        try:
            if run.result.diverged[j]:
                raise ValueError(
                    "Training diverged: the training loss became non-finite or exploded "
                    f"(at epoch {int(run.result.n_epochs[j])}); the weights are not usable. "
                    "Use a smaller learning rate (learning_rate_init="
                    f"{est.learning_rate_init:g}) or scale the inputs and targets "
                    "(e.g. StandardScaler)."
                )
            est._run_engine = lambda *args, **kwargs: view
            est._store_copy = lambda *args, **kwargs: type(est)._store_copy(est, net, mine, j)
            try:
                with torch.no_grad(), thread_limit():
                    est._fit(net_j, copy.Y, copy.settings, None)
            finally:
                del est._run_engine, est._store_copy
        except Exception as exc:  # noqa: BLE001 - the candidate's own failure
            est._clear_fitted()
            return exc
        return est
