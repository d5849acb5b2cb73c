"""The papers' tuning protocol ("best over a (lr, wd) grid") as one stacked engine run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import ParameterGrid

from ..estimators._base import BaseReLUNetwork

# Parameters the engine holds per copy of a stack: candidates that differ only in these
# train together.
STACKABLE = ("learning_rate_init", "alpha", "momentum", "random_state")


@dataclass
class FitGridResult:
    """What :func:`fit_grid` returns.

    Attributes
    ----------
    params : list of dict
        The candidates, in :class:`~sklearn.model_selection.ParameterGrid` order.
    val_mse : ndarray of shape (n_candidates,)
        Mean squared error of each fitted candidate on the validation data (the 0-1 error
        for classifiers; ``inf`` for a candidate whose training diverged).
    val_score : ndarray of shape (n_candidates,)
        ``estimator.score`` (R^2 for regressors, accuracy for classifiers) on the
        validation data (``nan`` where training diverged).
    train_loss : ndarray of shape (n_candidates,)
        Final training loss (``loss_``) of each candidate.
    estimators : list
        Each candidate's fitted estimator, or the exception its training raised.
    best_index : int
        The candidate of smallest ``val_mse``.
    n_engine_runs : int
        How many engine runs trained the grid (one per group of non-stackable values).
    fit_time : float
        Seconds spent fitting.
    """

    params: list
    val_mse: np.ndarray
    val_score: np.ndarray
    train_loss: np.ndarray
    estimators: list
    best_index: int
    n_engine_runs: int
    fit_time: float
    errors: dict = field(default_factory=dict)

    @property
    def best_estimator(self):
        """The fitted estimator of ``best_index``."""
        return self.estimators[self.best_index]

    @property
    def best_params(self):
        """The parameters of ``best_index``."""
        return self.params[self.best_index]


def _stackable(estimator) -> bool:
    if not isinstance(estimator, BaseReLUNetwork) or getattr(estimator, "early_stopping", False):
        return False
    return getattr(estimator, "solver", "sgd") != "closed_form"


def fit_grid(estimator, grid, X, y, X_val, y_val):
    """Fit every candidate of ``grid`` and score it on ``(X_val, y_val)``, stacked.

    Candidates that differ only in :data:`STACKABLE` parameters (learning rate, weight
    decay, momentum, integer ``random_state``) are trained as ONE engine run: K networks
    in one pass of batched kernels, each exactly the network, seeds and settings of its
    own ``fit``. The other grid entries split the grid into groups, one run each.
    Estimators that cannot be stacked (closed-form solvers, early stopping, estimators of
    other libraries) are fitted one candidate after another.

    Parameters
    ----------
    estimator : estimator
        The template; its parameters not in ``grid`` are shared by every candidate.
    grid : dict or list of dict
        Parameter grid, as for :class:`~sklearn.model_selection.GridSearchCV`.
    X, y : array-like
        Training data.
    X_val, y_val : array-like
        Held-out data the candidates are scored on (the papers pick the best test error).

    Returns
    -------
    result : FitGridResult
        Scores per candidate and the fitted estimators; ``result.best_estimator`` is a
        normal fitted estimator.

    Examples
    --------
    >>> from sklearn_overparam import TwoLayerReLURegressor
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> from sklearn_overparam.model_selection import fit_grid
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> Xv, yv = make_composite_sine(100, random_state=1)
    >>> grid = {"learning_rate_init": [0.005, 0.01], "random_state": [0, 1]}
    >>> res = fit_grid(TwoLayerReLURegressor(n_hidden=50, max_iter=5, tol=None), grid,
    ...                X, y, Xv, yv)
    >>> len(res.params), res.n_engine_runs
    (4, 1)
    """
    params = list(ParameterGrid(grid))
    if not params:
        raise ValueError("`grid` must hold at least one candidate; got an empty grid.")
    valid = set(estimator.get_params())
    unknown = sorted({k for p in params for k in p} - valid)
    if unknown:
        raise ValueError(
            f"`grid` names {unknown}, which are not parameters of "
            f"{type(estimator).__name__}; choose from {sorted(valid)}."
        )
    start = time.perf_counter()
    groups: dict = {}
    for i, p in enumerate(params):
        fixed = tuple(sorted((k, repr(v)) for k, v in p.items() if k not in STACKABLE))
        groups.setdefault(fixed, []).append(i)
    fitted = [None] * len(params)
    runs = 0
    for indices in groups.values():
        first = params[indices[0]]
        template = clone(estimator).set_params(
            **{k: v for k, v in first.items() if k not in STACKABLE})
        candidates = [{k: v for k, v in params[i].items() if k in STACKABLE}
                      for i in indices]
        if _stackable(template):
            results = template._fit_stack(X, y, candidates)
            runs += 1
        else:
            results = []
            for c in candidates:
                try:
                    results.append(clone(template).set_params(**c).fit(X, y))
                except ValueError as exc:
                    results.append(exc)
                runs += 1
        for i, est in zip(indices, results):
            fitted[i] = est
    elapsed = time.perf_counter() - start
    y_val = np.asarray(y_val)
    val_mse = np.full(len(params), np.inf)
    val_score = np.full(len(params), np.nan)
    train_loss = np.full(len(params), np.nan)
    errors = {}
    for i, est in enumerate(fitted):
        if isinstance(est, Exception):
            errors[i] = est
            continue
        pred = np.asarray(est.predict(X_val))
        if is_classifier(est):  # one prediction serves both numbers
            val_mse[i] = float(np.mean(pred != y_val))
            val_score[i] = accuracy_score(y_val, pred)
        else:
            val_mse[i] = float(np.mean((pred.astype(float) - y_val) ** 2))
            val_score[i] = r2_score(y_val, pred)
        train_loss[i] = getattr(est, "loss_", np.nan)
    if not np.isfinite(val_mse).any():
        raise ValueError(
            "Every candidate of the grid failed to train; the first error was: "
            f"{next(iter(errors.values()))}"
        )
    return FitGridResult(params, val_mse, val_score, train_loss, fitted,
                         int(np.argmin(val_mse)), runs, elapsed, errors)
