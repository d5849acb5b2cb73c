"""Grid and randomized searches whose cross-validation fits train as stacked engine runs.

``StackedGridSearchCV`` and ``StackedRandomizedSearchCV`` are ``GridSearchCV`` and
``RandomizedSearchCV`` (same constructors, same fitted attributes, the same
``cv_results_`` up to float rounding) for the network estimators of this library. The
candidates of a search that differ only in parameters the engine holds per network of a
stack (:data:`STACKED_PARAMETERS`: step size, weight decay, momentum, seed) train
together with the CV folds: every (candidate, fold) fit is one copy of a stack, sampling its
batches from its own fold's training rows of the shared ``X`` (a ``Pipeline``'s
preprocessing is fitted per fold, and each fold's copies read that fold's transformed
inputs). The other grid entries split the grid into groups; ``n_jobs`` runs the groups'
stacks, tiled to cache-sized pieces, in parallel with joblib. Where stacking does not apply
(closed-form solvers, early stopping, estimators of other libraries) the fits are exactly
``GridSearchCV``'s, one candidate and fold at a time.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
import traceback

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags, indexable
from sklearn.utils.parallel import Parallel, delayed

from .._compat import (
    InvalidParameterError,
    _check_method_params,
    _fit_and_score,
    _fit_context,
    _insert_error_scores,
    _MultimetricScorer,
    _safe_split,
    _score,
    _warn_or_raise_about_fit_failures,
    check_sample_weight,
    validate_parameter_constraints,
)
from .._log import log
from ..estimators._base import BaseReLUNetwork
from ._fit_grid import STACKABLE
from ._tiles import tile_size

# What one copy of a stack holds on its own: candidates that differ only in these (and in
# the CV fold) train in one engine run. ``lr_scale`` is the step-size constant of the
# classifiers (``eta = lr_scale / width``).
STACKED_PARAMETERS = (*STACKABLE, "lr_scale")


def _stackable_value(name, value) -> bool:
    """Whether ``value`` of the stacked parameter ``name`` can be one copy's own setting."""
    if name == "random_state":
        return value is None or isinstance(value, np.random.RandomState) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool))
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _final_step(estimator):
    """``(network, prefix)``: the estimator itself, or the last step of a Pipeline and its
    parameter prefix; ``(None, "")`` when neither is a network of this library."""
    if isinstance(estimator, Pipeline) and estimator.steps:
        name, last = estimator.steps[-1]
        return (last, f"{name}__") if isinstance(last, BaseReLUNetwork) else (None, "")
    return (estimator, "") if isinstance(estimator, BaseReLUNetwork) else (None, "")


def _key(value):
    return repr(value)


class _Group:
    """Candidates that share every non-stacked parameter value."""

    def __init__(self, fixed):
        self.fixed = fixed
        self.members: list[int] = []
        self.stacked: list[dict] = []
        self.reason: str | None = None
        self.template = self.final = None
        self.prefix = ""


def _error_result(exc, scorer, error_score, return_train_score, n_test, fit_time):
    """The ``_fit_and_score`` record of a failed fit (scores set to ``error_score``)."""
    if error_score == "raise":
        raise exc
    if isinstance(scorer, _MultimetricScorer):
        scores = {name: error_score for name in scorer._scorers}
    else:
        scores = error_score
    out = {"fit_error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
           "test_scores": scores}
    if return_train_score:
        out["train_scores"] = copy.copy(scores)
    out.update(n_test_samples=n_test, fit_time=fit_time, score_time=0.0)
    return out


def _stacked_task(final, copy_inputs, stacked, rows, sample_weight, max_copies, meta,
                  scoring):
    """Fit one tile of (candidate, fold) copies as stacked engine runs and score each copy.

    The copies read the shared ``X`` of ``scoring`` (or ``copy_inputs``, one array per copy:
    its fold's preprocessed inputs) at their fold's training ``rows``.

    ``meta[j]`` is ``(out_index, split, fitted_preprocessing or None, extra_seconds)``;
    ``scoring`` holds what ``_fit_and_score`` would score with. Returns ``[(out_index,
    record), ...]`` in the format of ``_fit_and_score``.
    """
    X, Y, splits, template, scorer, score_params, return_train, error_score, verbose = scoring
    fitted, times = final._fit_stack(X, Y, stacked, rows=rows, sample_weight=sample_weight,
                                     copy_inputs=copy_inputs, max_copies=max_copies,
                                     return_times=True)
    out = []
    for j, est in enumerate(fitted):
        index, s, pre, extra = meta[j]
        train, test = splits[s]
        fit_time = float(times[j] + extra)
        if isinstance(est, Exception):
            out.append((index, _error_result(est, scorer, error_score, return_train, len(test),
                                             fit_time)))
            continue
        model = est
        if template is not None:  # the fold's fitted preprocessing, then the network
            model = clone(template)
            model.steps = ([] if pre is None else list(pre.steps)) + [
                (template.steps[-1][0], est)]
        start = time.time()
        X_test, y_test = _safe_split(model, X, Y, test, train)
        params_test = _check_method_params(X, params=score_params, indices=test)
        record = {"fit_error": None,
                  "test_scores": _score(model, X_test, y_test, scorer, params_test, error_score)}
        score_time = time.time() - start
        if return_train:
            X_train, y_train = _safe_split(model, X, Y, train)
            params_train = _check_method_params(X, params=score_params, indices=train)
            record["train_scores"] = _score(model, X_train, y_train, scorer, params_train,
                                            error_score)
        record.update(n_test_samples=len(test), fit_time=fit_time, score_time=score_time)
        if verbose > 1:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(stacked[j].items()))
            log(f"[CV {s + 1}/{len(splits)}] END {shown}; stacked, total time="
                f"{fit_time + score_time:.1f}s")
        out.append((index, record))
    return out


def _fallback_task(base, X, y, items, kwargs):
    """Plain ``_fit_and_score`` fits (GridSearchCV's), for candidates that do not stack."""
    return [(index, _fit_and_score(clone(base), X, y, train=train, test=test,
                                   parameters=params, split_progress=split,
                                   candidate_progress=cand, **kwargs))
            for index, params, train, test, split, cand in items]


class _StackedSearchMixin:
    """The stacked ``fit`` shared by the grid and randomized searches."""

    _sklearn_search = "GridSearchCV"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # the search predicts with the refitted estimator: multi-output if it is
        tags.target_tags.multi_output = get_tags(self.estimator).target_tags.multi_output
        return tags

    def _say(self, message):
        if self.verbose >= 1:
            log(f"[{type(self).__name__}] {message}")

    def _sklearn_fit(self, X, y, **params):
        """scikit-learn's own ``fit`` (inside this ``fit``'s validation context)."""
        fit = super().fit
        inner = getattr(fit, "__wrapped__", None)
        return inner(self, X, y, **params) if inner is not None else fit(X, y, **params)

    @_fit_context(
        # *SearchCV.estimator is not validated yet
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, stacking the fits that can share a run.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training vectors.
        y : array-like of shape (n_samples, n_output) or (n_samples,), default=None
            Targets.
        **params : dict of str -> object
            Parameters passed to the ``fit`` method of the estimator, the scorer and the
            CV splitter, as for ``GridSearchCV``. Only ``sample_weight`` (of the network,
            or ``<last step>__sample_weight`` of a Pipeline) keeps the fits stacked.

        Returns
        -------
        self : object
            Instance of fitted estimator.
        """
        self._check_candidates(self._candidates(draw=False))
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        fit_params = dict(routed.estimator.fit)
        for key, value in fit_params.items():
            if key.split("__")[-1] == "sample_weight" and value is not None:
                check_sample_weight(value, X)
        if getattr(self, "_skl_callbacks", None):
            self._say("scikit-learn callbacks are set: every candidate and fold is fitted on "
                      f"its own, as {self._sklearn_search} does.")
            return self._sklearn_fit(X, y, **params)
        base = clone(self.estimator)
        candidates = self._candidates()
        groups = self._plan(base, candidates, fit_params)
        if not any(g.reason is None for g in groups):
            self._say(f"stacking does not apply ({groups[0].reason}): every candidate and "
                      f"fold is fitted on its own, as {self._sklearn_search} does.")
            return self._sklearn_fit(X, y, **params)
        return self._stacked_fit(X, y, base, candidates, groups, routed, fit_params)

    # ------------------------------------------------------------------ checks
    def _check_candidates(self, candidates):
        """Bad grids raise a ValueError before anything is fitted."""
        if not candidates:
            raise ValueError(
                f"The search has no candidates to fit (an empty parameter grid: "
                f"{self._grid_repr()}). Give at least one parameter setting, e.g. {{}} for "
                "the estimator's own parameters."
            )
        for c in candidates:
            try:
                est = clone(self.estimator).set_params(**clone(c, safe=False))
            except ValueError as exc:
                raise ValueError(f"The parameter grid names a parameter that the estimator "
                                 f"does not have: {exc}") from exc
            final, prefix = _final_step(est)
            if final is None:
                continue
            for key, value in c.items():
                name = key[len(prefix):] if key.startswith(prefix) else None
                if name not in STACKED_PARAMETERS or _stackable_value(name, value):
                    continue
                constraints = getattr(final, "_parameter_constraints", {})
                if name not in constraints:
                    continue
                try:
                    validate_parameter_constraints({name: constraints[name]}, {name: value},
                                                   caller_name=type(final).__name__)
                except InvalidParameterError as exc:
                    raise ValueError(
                        f"{exc} The grid gives {key!r} the non-numeric value {value!r}; it is "
                        "a stacked parameter (one value per network of a stack), so its "
                        "values must be numbers."
                    ) from exc

    def _grid_repr(self):
        grid = getattr(self, "param_grid", None)
        return f"param_grid={grid!r}" if grid is not None else (
            f"param_distributions={self.param_distributions!r}")

    # ------------------------------------------------------------------ planning
    def _plan(self, base, candidates, fit_params):
        """Candidates grouped by their non-stacked values, each group's stackability."""
        _, base_prefix = _final_step(base)
        groups: dict = {}
        for i, c in enumerate(candidates):
            fixed, stacked = {}, {}
            for key, value in c.items():
                name = key[len(base_prefix):] if key.startswith(base_prefix) else None
                if (name in STACKED_PARAMETERS and "__" not in (name or "")
                        and _stackable_value(name, value)):
                    stacked[name] = value
                else:
                    fixed[key] = value
            k = tuple(sorted((key, _key(v)) for key, v in fixed.items()))
            group = groups.get(k)
            if group is None:
                group = groups[k] = _Group(fixed)
            group.members.append(i)
            group.stacked.append(stacked)
        for group in groups.values():
            group.template = clone(base).set_params(**clone(group.fixed, safe=False))
            group.final, group.prefix = _final_step(group.template)
            group.reason = self._blocker(group, fit_params)
        return list(groups.values())

    def _blocker(self, group, fit_params):
        """Why a group's fits cannot be stacked (None when they can)."""
        final = group.final
        if final is None:
            return (f"{type(group.template).__name__} is not a network estimator of "
                    "sklearn_overparam, nor a Pipeline ending in one")
        blockers = final._stack_blockers()
        if blockers:
            return f"{type(final).__name__}: {'; '.join(blockers)}"
        allowed = {f"{group.prefix}sample_weight"}
        extra = sorted(set(k for k, v in fit_params.items() if v is not None) - allowed)
        if extra:
            return f"the fit parameters {extra} are passed to fit"
        return None

    def _tile_size(self, final, n_features, n_train, n_copies):
        """How many copies one engine run holds (see :func:`._tiles.tile_size`)."""
        return tile_size(final, n_features, n_train, n_copies, effective_n_jobs(self.n_jobs))

    # ------------------------------------------------------------------ fitting
    def _stacked_fit(self, X, y, base, candidates, groups, routed, fit_params):
        scorers, refit_metric = self._get_scorers()
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._checked_cv_orig = cv
        self.n_splits_ = cv.get_n_splits(X, y, **routed.splitter.split)
        splits = list(cv.split(X, y, **routed.splitter.split))
        n_splits = self.n_splits_
        if len(splits) != n_splits:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                             f"Expected {n_splits} splits, got {len(splits)}")
        n_cand = len(candidates)
        if self.verbose > 0:
            log(f"Fitting {n_splits} folds for each of {n_cand} candidates, totalling "
                f"{n_splits * n_cand} fits")
        score_params = routed.scorer.score
        kwargs = dict(scorer=scorers, fit_params=fit_params, score_params=score_params,
                      return_train_score=self.return_train_score, return_n_test_samples=True,
                      return_times=True, return_parameters=False,
                      error_score=self.error_score, verbose=self.verbose)
        scoring = (X, y, splits, None, scorers, score_params, self.return_train_score,
                   self.error_score, self.verbose)
        out = [None] * (n_cand * n_splits)
        tasks = []
        for group in groups:
            if group.reason is None:
                tasks += self._group_tasks(group, X, y, splits, fit_params, scoring, out)
            if group.reason is not None:  # also when its preprocessing ruled stacking out
                self._say(f"{len(group.members)} candidate(s) fitted one by one, as "
                          f"{self._sklearn_search} does: {group.reason}.")
                items = [(i * n_splits + s, candidates[i], train, test, (s, n_splits),
                          (i, n_cand))
                         for i in group.members for s, (train, test) in enumerate(splits)]
                tasks.append(delayed(_fallback_task)(base, X, y, items, kwargs))
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)
        for records in parallel(tasks):
            for index, record in records:
                out[index] = record
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(out, self.error_score)
        results = self._format_results(candidates, n_splits, out, {})
        first_test_score = out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base).set_params(**clone(self.best_params_,
                                                                  safe=False))
            start = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **fit_params)
            else:
                self.best_estimator_.fit(X, **fit_params)
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        return self

    def _group_tasks(self, group, X, y, splits, fit_params, scoring, out):
        """The stacked tasks of one group: per fold its preprocessing (a Pipeline's first
        steps, fitted here), then tiles of (candidate, fold) copies."""
        n_splits = len(splits)
        sample_weight = fit_params.get(f"{group.prefix}sample_weight")
        inputs, pres, pre_times = [X] * n_splits, [None] * n_splits, [0.0] * n_splits
        failed = {}
        preprocessed = bool(group.prefix) and len(group.template.steps) > 1
        if preprocessed:
            pre_template = group.template[:-1]
            for s, (train, _) in enumerate(splits):
                start = time.time()
                try:
                    pre = clone(pre_template)
                    X_train, y_train = _safe_split(group.template, X, y, train)
                    Xt = pre.fit_transform(X_train, y_train)
                except Exception as exc:  # noqa: BLE001 - every fit of this fold fails so
                    failed[s] = (exc, time.time() - start)
                    continue
                if not isinstance(Xt, np.ndarray) or Xt.ndim != 2:
                    group.reason = (f"the preprocessing returns {type(Xt).__name__}, not a "
                                    "2-D numpy array")
                    return []
                slot = np.zeros((len(y),) + Xt.shape[1:], dtype=Xt.dtype)
                slot[train] = Xt
                inputs[s], pres[s], pre_times[s] = slot, pre, time.time() - start
        scoring = scoring[:3] + ((group.template if group.prefix else None),) + scoring[4:]
        copies = []  # fold-major: a tile reads few folds' inputs
        n_group = len(group.members)
        for s, (_, test) in enumerate(splits):
            for i, stacked in zip(group.members, group.stacked):
                index = i * n_splits + s
                if s in failed:
                    exc, seconds = failed[s]
                    out[index] = _error_result(exc, scoring[4], self.error_score,
                                               self.return_train_score, len(test),
                                               seconds / n_group)
                    continue
                copies.append((index, s, stacked, pre_times[s] / n_group))
        if not copies:
            return []
        n_train = max(len(splits[s][0]) for _, s, _, _ in copies)
        shape = np.shape(X)
        tile = self._tile_size(group.final, shape[1] if len(shape) == 2 else 1, n_train,
                               len(copies))
        self._say(f"{n_group} candidate(s) x {n_splits} folds: {len(copies)} fits stacked in "
                  f"{math.ceil(len(copies) / tile)} engine run(s) of at most {tile} networks.")
        tasks = []
        for start in range(0, len(copies), tile):
            part = copies[start:start + tile]
            tasks.append(delayed(_stacked_task)(
                group.final,
                [inputs[s] for _, s, _, _ in part] if preprocessed else None,
                [stacked for _, _, stacked, _ in part],
                [splits[s][0] for _, s, _, _ in part],
                sample_weight,
                tile,
                [(index, s, pres[s], extra) for index, s, _, extra in part],
                scoring,
            ))
        return tasks


class StackedGridSearchCV(_StackedSearchMixin, GridSearchCV):
    """``GridSearchCV`` whose fits of this library's networks train as stacked engine runs.

    The constructor, the fitted attributes (``cv_results_``, ``best_params_``,
    ``best_estimator_``, ``best_score_``, ``best_index_``, ``scorer_``, ``n_splits_``,
    ``refit_time_``, ``multimetric_``) and their values are those of
    :class:`~sklearn.model_selection.GridSearchCV` on the same grid and folds, up to float
    rounding of the training runs: per-split scores within about ``1e-10`` in float64; in
    float32, SGD amplifies the rounding difference between a stack's products and a lone
    network's (median difference about ``1e-5``, up to ``1e-2`` for a candidate near the
    edge of stability, which can swap near-tied candidates in ``best_params_``). Networks
    in the fused two-layer kernels (:func:`~sklearn_overparam.nn.fused_kernels`) run one
    at a time even when stacked, so their scores are equal in float32 too.

    How the grid is fitted: candidates that differ only in :data:`STACKED_PARAMETERS`
    (``learning_rate_init``, ``alpha``, ``momentum``, ``random_state``, ``lr_scale``) of a
    :class:`~sklearn_overparam.estimators._base.BaseReLUNetwork` with an SGD solver (or
    of the last step of a ``Pipeline``) train together with the CV folds: each (candidate,
    fold) fit is one network of a stack that samples its batches from its fold's training
    rows of the shared ``X``; a Pipeline's preprocessing is fitted once per fold, and the
    fold's networks read its transformed inputs. Every network is exactly its own fit's
    network (initialization, shuffle order, input map, schedule). Other grid entries split
    the grid into groups, each its own stacks; on the CPU a stack is cut into cache-sized
    tiles (one engine run each) and ``n_jobs`` runs the tiles and groups in parallel with
    joblib (any backend: loky, threading, dask). A diverged network follows
    ``error_score`` like a failed fit of ``GridSearchCV``. Closed-form solvers, early
    stopping, engine callbacks and estimators of other libraries fall back to
    ``GridSearchCV``'s own fits (said when ``verbose >= 1``).

    Parameters
    ----------
    estimator : estimator object
        A network estimator of this library, a Pipeline ending in one, or any estimator
        (then the search is ``GridSearchCV``).
    param_grid : dict or list of dictionaries
        As for ``GridSearchCV``; stacked parameters must be numbers.
    scoring : str, callable, list, tuple or dict, default=None
        As for ``GridSearchCV``.
    n_jobs : int, default=None
        Number of joblib workers over the stacked tiles and fallback fits.
    refit : bool, str, or callable, default=True
        As for ``GridSearchCV`` (the refit is one ordinary ``fit``).
    cv : int, cross-validation generator or an iterable, default=None
        As for ``GridSearchCV`` (``cv=1`` is rejected by scikit-learn's ``KFold``).
    verbose : int
        ``>= 1`` also says how the fits were stacked, or why they were not.
    pre_dispatch : int, or str, default="2*n_jobs"
        As for ``GridSearchCV``.
    error_score : "raise" or numeric, default=np.nan
        Score of a failed or diverged fit, as for ``GridSearchCV``.
    return_train_score : bool, default=False
        As for ``GridSearchCV``.

    See Also
    --------
    StackedRandomizedSearchCV : The randomized search, stacked the same way.
    sklearn_overparam.model_selection.fit_grid : One stacked run over a grid, scored on
        a held-out set.

    Examples
    --------
    >>> from sklearn_overparam import TwoLayerReLURegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> from sklearn_overparam.model_selection import StackedGridSearchCV
    >>> X, y = make_composite_sine(150, random_state=0)
    >>> net = TwoLayerReLURegressor(n_hidden=50, max_iter=5, tol=None, random_state=0)
    >>> search = StackedGridSearchCV(net, {"learning_rate_init": [0.005, 0.01]}, cv=3)
    >>> sorted(search.fit(X, y).best_params_)
    ['learning_rate_init']
    """

    def _candidates(self, *, draw=True):
        return list(ParameterGrid(self.param_grid))


class StackedRandomizedSearchCV(_StackedSearchMixin, RandomizedSearchCV):
    """``RandomizedSearchCV`` whose fits of this library's networks train stacked.

    The sampled candidates (``ParameterSampler(param_distributions, n_iter,
    random_state)``, exactly ``RandomizedSearchCV``'s) are fitted as
    :class:`StackedGridSearchCV` fits its grid: candidates that differ only in
    :data:`STACKED_PARAMETERS` train together with the CV folds as stacked engine runs,
    with the same fitted attributes and ``cv_results_`` as ``RandomizedSearchCV`` up to
    float rounding. Continuous distributions over stacked parameters (a log-uniform step
    size) stack as well as lists do.

    Parameters
    ----------
    estimator : estimator object
        A network estimator of this library, a Pipeline ending in one, or any estimator.
    param_distributions : dict or list of dicts
        As for ``RandomizedSearchCV``.
    n_iter : int, default=10
        Number of sampled candidates.
    scoring : str, callable, list, tuple or dict, default=None
        As for ``RandomizedSearchCV``.
    n_jobs : int, default=None
        Number of joblib workers over the stacked tiles and fallback fits.
    refit : bool, str, or callable, default=True
        As for ``RandomizedSearchCV``.
    cv : int, cross-validation generator or an iterable, default=None
        As for ``RandomizedSearchCV``.
    verbose : int
        ``>= 1`` also says how the fits were stacked, or why they were not.
    pre_dispatch : int, or str, default="2*n_jobs"
        As for ``RandomizedSearchCV``.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling of candidates, as for ``RandomizedSearchCV``.
    error_score : "raise" or numeric, default=np.nan
        As for ``RandomizedSearchCV``.
    return_train_score : bool, default=False
        As for ``RandomizedSearchCV``.

    See Also
    --------
    StackedGridSearchCV : The exhaustive search, stacked.
    """

    _sklearn_search = "RandomizedSearchCV"

    def _candidates(self, *, draw=True):
        random_state = self.random_state
        if not draw and isinstance(random_state, np.random.RandomState):
            random_state = copy.deepcopy(random_state)  # checking must not consume draws
        return list(ParameterSampler(self.param_distributions, self.n_iter,
                                     random_state=random_state))
