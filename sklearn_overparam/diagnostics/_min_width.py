"""The minimum width for zero training error ([CCZG] App. D, Figure 1)."""

from __future__ import annotations

import warnings

import numpy as np


def _zero_error(est, X, y) -> bool:
    return bool(np.all(est.predict(X) == np.asarray(y)))


def min_width_for_zero_error(estimator, X, y, widths, *, param="width", random_states=None,
                             require="all"):
    """Smallest width in ``widths`` whose fit classifies the training data without error.

    [CCZG] App. D measures, for each training-set size ``n``, the smallest width at which
    gradient descent reaches zero training error: it grows slowly with ``n`` for structured
    labels and fast for random labels. Each width is fitted from scratch (a fresh copy of
    ``estimator`` with ``param`` set), typically a
    ``DeepReLUClassifier(solver="gd", stop_at_zero_error=True)``. With several
    ``random_states`` the seeds of one width train as one stacked engine run.

    Parameters
    ----------
    estimator : classifier
        The template; its other parameters are kept.
    X : array-like of shape (n_samples, n_features)
        Training inputs.
    y : array-like of shape (n_samples,)
        Training labels.
    widths : sequence of int
        Candidate widths, tried in increasing order.
    param : str, default="width"
        The estimator parameter that sets the width (``"n_hidden"`` for two-layer nets).
    random_states : sequence of int or None, default=None
        Seeds to fit per width (None: the estimator's own ``random_state``).
    require : {"all", "any"}, default="all"
        Whether every seed or at least one must reach zero training error.

    Returns
    -------
    width : int or None
        The smallest such width, or None when no width in the grid reaches zero error.

    Examples
    --------
    >>> from sklearn_overparam import DeepReLUClassifier
    >>> from sklearn_overparam.datasets import make_cczg_clusters
    >>> from sklearn_overparam.diagnostics import min_width_for_zero_error
    >>> X, y = make_cczg_clusters(100, random_state=0)
    >>> est = DeepReLUClassifier(depth=3, solver="gd", lr_scale=8.0, max_iter=500,
    ...                          stop_at_zero_error=True, random_state=0)
    >>> min_width_for_zero_error(est, X, y, [8, 16, 32]) in (8, 16, 32, None)
    True
    """
    if require not in ("all", "any"):
        raise ValueError(f"`require` must be 'all' or 'any'; got {require!r}.")
    widths = sorted(int(w) for w in widths)
    if not widths or widths[0] < 1:
        raise ValueError(f"`widths` must be a non-empty list of positive ints; got {widths!r}.")
    params = estimator.get_params()
    if param not in params:
        raise ValueError(
            f"`param` must name the width parameter of {type(estimator).__name__}; got "
            f"{param!r}. Use param='n_hidden' for the two-layer networks."
        )
    check = all if require == "all" else any
    for width in widths:
        template = type(estimator)(**{**params, param: width})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning of the widths that fail
            if random_states is None:
                fits = [template.fit(X, y)]
            elif hasattr(template, "_fit_stack"):
                fits = template._fit_stack(X, y, [{"random_state": s} for s in random_states])
            else:
                fits = [type(estimator)(**{**params, param: width, "random_state": s}).fit(X, y)
                        for s in random_states]
        if check(not isinstance(f, Exception) and _zero_error(f, X, y) for f in fits):
            return width
    return None
