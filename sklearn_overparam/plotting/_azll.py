"""The method set and tuning grids of [AZLL] Sec. 7, Figures 1 and 2, and their two panels."""

from __future__ import annotations

import numpy as np

from ..estimators import (
    ConjugateKernelRegressor,
    NTKRegressor,
    ThreeLayerReLURegressor,
    TwoLayerReLURegressor,
)
from ._displays import ScalingDisplay

AZLL_METHODS = ("3layer", "2layer", "3layer(last)", "2layer(last)", "3layer(NTK)",
                "2layer(NTK)", "3layer(NTK, m=inf)")
LEARNERS = ("3layer", "2layer")
# ridge grid 10^{-6..2}; each kernel takes its best on the test set
RIDGES = tuple(float(r) for r in 10.0 ** np.arange(-6, 3))


def _learning_rate_grid(constants, weight_decays):
    def grid(estimator, n_samples):
        m = estimator.n_hidden
        return {"learning_rate_init": [c / m for c in constants],
                "alpha": list(weight_decays)}
    return grid


def _ridge_grid(ridges, *, scale_with_width):
    def grid(estimator, n_samples):
        scale = estimator.n_hidden if scale_with_width else 1.0
        # the estimators' ridge on Phi^T Phi (or K) is n alpha / 2
        return {"alpha": [2.0 * scale * r / n_samples for r in ridges]}
    return grid


def azll_methods(*, methods=None, max_iter_3layer=200, max_iter_2layer=800,
                 learning_rates_3layer=(0.5, 1.0, 2.0), learning_rates_2layer=(5.0, 10.0, 20.0),
                 weight_decays=(0.0, 1e-4), ridges=RIDGES,
                 input_padding="half", random_state=0):
    """The learners and kernel baselines of [AZLL] Figures 1 and 2, with their grids.

    ``3layer`` and ``2layer`` train the hidden weights (Sec. 7: momentum SGD, batch 50,
    step size divided by 10 at half the epochs), each the best of a learning-rate grid
    ``c / m`` times a weight-decay grid; ``(last)`` is the conjugate kernel (only the
    output layer trained) and ``(NTK)`` the finite-width tangent kernel in the hidden
    weights, both of the learner's own random network (same ``random_state``), each the
    best of a ridge grid (``10^k`` on ``Phi^T Phi``, ``m 10^k`` on the NTK, which grows
    like ``m``); ``3layer(NTK, m=inf)`` is kernel ridge regression with the
    infinite-width limit of the 3-layer NTK. Pass the result to
    :meth:`ScalingDisplay.from_estimators`.

    Parameters
    ----------
    methods : sequence of str, default=None
        Which of ``"3layer"``, ``"2layer"``, ``"3layer(last)"``, ``"2layer(last)"``,
        ``"3layer(NTK)"``, ``"2layer(NTK)"``, ``"3layer(NTK, m=inf)"`` to return, in that
        order; ``None`` is all of them.
    max_iter_3layer : int, default=200
        Epochs of the 3-layer learner.
    max_iter_2layer : int, default=800
        Epochs of the 2-layer learner (the paper's 800).
    learning_rates_3layer : sequence of float, default=(0.5, 1.0, 2.0)
        Step sizes of the 3-layer learner, as multiples of ``1 / m``.
    learning_rates_2layer : sequence of float, default=(5.0, 10.0, 20.0)
        Step sizes of the 2-layer learner, as multiples of ``1 / m``.
    weight_decays : sequence of float, default=(0.0, 1e-4)
        PyTorch weight decays of both learners.
    ridges : sequence of float or None, default=(1e-6, 1e-5, ..., 1e2)
        Ridge grid of the kernels (``n alpha / 2``; times ``m`` for the NTKs); ``None``
        uses each kernel's leave-one-out choice (``alpha="auto"``) instead of a grid.
    input_padding : {"half"} or None, default="half"
        Input map of every method (the ``x_d = 1/2`` padding, or the raw unit-norm
        inputs).
    random_state : int, default=0
        Seed of every method: the kernels share the learners' random networks.

    Returns
    -------
    estimators : dict of str to estimator
        The unfitted templates, keyed by method name.
    grid : dict of str to callable
        Per method, ``grid(estimator, n_samples)`` returning its parameter grid (the
        ``grid`` argument of :meth:`ScalingDisplay.from_estimators`).

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. Learning and Generalization in Overparameterized Neural
    Networks, Going Beyond Two Layers. NeurIPS 2019. Section 7, Figures 1 and 2.

    Examples
    --------
    >>> from sklearn_overparam.plotting import azll_methods
    >>> estimators, grid = azll_methods(methods=["3layer", "3layer(NTK)"])
    >>> est = estimators["3layer"].set_params(n_hidden=100)
    >>> [round(lr * 100, 3) for lr in grid["3layer"](est, 1000)["learning_rate_init"]]
    [0.5, 1.0, 2.0]
    """
    chosen = AZLL_METHODS if methods is None else tuple(methods)
    unknown = sorted(set(chosen) - set(AZLL_METHODS))
    if unknown:
        raise ValueError(f"`methods` names {unknown}; choose from {list(AZLL_METHODS)}.")
    common = {"input_padding": input_padding, "random_state": random_state}
    kernel_alpha = {} if ridges is not None else {"alpha": "auto"}
    templates = {
        "3layer": ThreeLayerReLURegressor(max_iter=max_iter_3layer, tol=None, **common),
        "2layer": TwoLayerReLURegressor(max_iter=max_iter_2layer, tol=None, **common),
        "3layer(last)": ConjugateKernelRegressor(depth=3, **kernel_alpha, **common),
        "2layer(last)": ConjugateKernelRegressor(depth=2, **kernel_alpha, **common),
        "3layer(NTK)": NTKRegressor(depth=3, **kernel_alpha, **common),
        "2layer(NTK)": NTKRegressor(depth=2, **kernel_alpha, **common),
        # the limit kernel alone: no finite network's output f0 in the model
        "3layer(NTK, m=inf)": NTKRegressor(depth=3, kernel="analytic", include_f0=False,
                                           **kernel_alpha, **common),
    }
    grids = {
        "3layer": _learning_rate_grid(learning_rates_3layer, weight_decays),
        "2layer": _learning_rate_grid(learning_rates_2layer, weight_decays),
    }
    if ridges is not None:
        ridges = list(ridges)
        for name in ("3layer(last)", "2layer(last)"):
            grids[name] = _ridge_grid(ridges, scale_with_width=False)
        for name in ("3layer(NTK)", "2layer(NTK)", "3layer(NTK, m=inf)"):
            grids[name] = _ridge_grid(ridges, scale_with_width=True)
    estimators = {name: templates[name] for name in chosen}
    return estimators, {name: grids[name] for name in chosen if name in grids}


def azll_scaling_panels(X, y, X_test, y_test, *, widths, sizes, n_samples=1000, n_hidden=100,
                        axes=None, verbose=False, **method_params):
    """[AZLL] Figure 1/2: test error vs ``m`` at fixed ``N`` and vs ``N`` at fixed ``m``.

    Panel (a) fits every method of :func:`azll_methods` on the first ``n_samples`` rows
    of ``(X, y)`` at each width of ``widths``; panel (b) at width ``n_hidden`` on the
    first ``N`` rows for each ``N`` of ``sizes``. Every learner is the best of its grid,
    the whole grid trained as one stacked engine run per point. Learners are drawn solid,
    kernels dashed; one legend, right of panel (b).

    Parameters
    ----------
    X : array-like of shape (n_train, n_features)
        Training inputs, at least ``max(n_samples, *sizes)`` rows.
    y : array-like of shape (n_train,)
        Training targets.
    X_test : array-like of shape (n_test, n_features)
        Test inputs.
    y_test : array-like of shape (n_test,)
        Test targets.
    widths : sequence of int
        The widths ``m`` of panel (a).
    sizes : sequence of int
        The training-set sizes ``N`` of panel (b).
    n_samples : int, default=1000
        ``N`` of panel (a).
    n_hidden : int, default=100
        ``m`` of panel (b).
    axes : sequence of two matplotlib Axes or None, default=None
        Where to draw panels (a) and (b); ``None`` only fits and scores (call each
        display's ``plot`` later).
    verbose : bool, default=False
        Print one line per fitted point.
    **method_params : dict
        Keyword arguments of :func:`azll_methods` (epochs, grids, methods, seed).

    Returns
    -------
    by_width : ScalingDisplay
        Panel (a): test MSE against ``m``.
    by_size : ScalingDisplay
        Panel (b): test MSE against ``N``.

    Examples
    --------
    >>> from sklearn_overparam.datasets import make_composite_sine
    >>> from sklearn_overparam.plotting import azll_scaling_panels
    >>> X, y = make_composite_sine(200, random_state=0)
    >>> Xt, yt = make_composite_sine(200, random_state=1)
    >>> a, b = azll_scaling_panels(X, y, Xt, yt, widths=[20], sizes=[100, 200],
    ...                            n_samples=200, n_hidden=20, max_iter_3layer=2,
    ...                            max_iter_2layer=2, methods=["3layer", "3layer(last)"])
    >>> a.curves["3layer"].shape, b.x.tolist()
    ((1,), [100.0, 200.0])
    """
    if len(X) < max(n_samples, *sizes):
        raise ValueError(f"`X` has {len(X)} rows; the panels need max(n_samples, *sizes) = "
                         f"{max(n_samples, *sizes)}.")
    estimators, grid = azll_methods(**method_params)
    styles = {name: {"linestyle": "-" if name in LEARNERS else "--"} for name in estimators}
    ax_a, ax_b = (None, None) if axes is None else axes
    plot = axes is not None
    by_width = ScalingDisplay.from_estimators(
        estimators, "n_hidden", list(widths), X[:n_samples], y[:n_samples], X_test, y_test,
        grid=grid, title=f"(a) N = {n_samples}", ax=ax_a, plot=plot, verbose=verbose,
        curve_kwargs=styles, legend=False)
    at_width = {name: est.set_params(n_hidden=n_hidden) for name, est in estimators.items()}
    by_size = ScalingDisplay.from_estimators(
        at_width, "n_samples", list(sizes), X, y, X_test, y_test, grid=grid,
        title=f"(b) m = {n_hidden}", ax=ax_b, plot=plot, verbose=verbose,
        curve_kwargs=styles, legend={"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)})
    return by_width, by_size
