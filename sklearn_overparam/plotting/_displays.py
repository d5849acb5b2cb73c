"""Displays of the [AZLL] Sec. 7 figures, in scikit-learn's ``*Display`` pattern.

matplotlib is imported inside ``plot`` only: importing this module does not need it.
"""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
from sklearn.base import clone

from .._log import log
from ..diagnostics import norm_ratio
from ..model_selection import fit_grid

MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">")


def _pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError naming what needs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is an optional dependency
        raise ImportError(
            f"{caller} requires matplotlib. Install it with `pip install matplotlib` "
            "(or the package's `plot` extra)."
        ) from exc
    return plt


def _mse(estimator, X, y):
    pred = np.asarray(estimator.predict(X), dtype=np.float64)
    return float(np.mean((pred - np.asarray(y, dtype=np.float64)) ** 2))


class _CurvesDisplay:
    """One line per named curve over a shared x axis (plotting shared by the displays)."""

    _default_xscale = "log"
    _default_yscale = "log"

    def __init__(self, x, curves, *, x_label, y_label, title=None):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"`x` must be a non-empty 1-D sequence; got shape {x.shape}.")
        if not curves:
            raise ValueError("`curves` must map at least one name to its y values.")
        checked = {}
        for name, values in curves.items():
            values = np.asarray(values, dtype=np.float64)
            if values.shape != x.shape:
                raise ValueError(
                    f"curve {name!r} has {values.size} values for {x.size} x positions; "
                    "give one value per x (nan for a missing point)."
                )
            checked[str(name)] = values
        self.x = x
        self.curves = checked
        self.x_label = x_label
        self.y_label = y_label
        self.title = title

    def plot(self, ax=None, *, xscale=None, yscale=None, legend=True, curve_kwargs=None,
             **kwargs):
        """Draw every curve on ``ax`` (a new figure when ``None``).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure with one axes.
        xscale : str, default=None
            Scale of the x axis (``"log"``, ``"linear"``, ...); ``None`` is the display's
            default.
        yscale : str, default=None
            Scale of the y axis; ``None`` is the display's default.
        legend : bool or dict, default=True
            Whether to draw a legend of the curve names; a dict is passed to
            ``Axes.legend`` (e.g. ``{"loc": "upper left", "bbox_to_anchor": (1, 1)}``).
        curve_kwargs : dict, default=None
            Per-curve keyword arguments of ``Axes.plot``, keyed by curve name (e.g.
            ``{"3layer(NTK)": {"linestyle": "--"}}``); they override ``kwargs``.
        **kwargs : dict
            Keyword arguments of ``Axes.plot`` for every curve.

        Returns
        -------
        display : object
            The display, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        curve_kwargs = curve_kwargs or {}
        unknown = sorted(set(curve_kwargs) - set(self.curves))
        if unknown:
            raise ValueError(f"`curve_kwargs` names {unknown}, which are not curves; "
                             f"the curves are {list(self.curves)}.")
        self.lines_ = {}
        for i, (name, values) in enumerate(self.curves.items()):
            style = {"marker": MARKERS[i % len(MARKERS)], "label": name, **kwargs,
                     **curve_kwargs.get(name, {})}
            (self.lines_[name],) = ax.plot(self.x, values, **style)
        ax.set_xscale(xscale or self._default_xscale)
        ax.set_yscale(yscale or self._default_yscale)
        if ax.get_xscale() == "log":  # label the swept values themselves, not powers of 10
            ax.set_xticks(self.x, [f"{v:g}" for v in self.x])
            ax.set_xticks([], minor=True)
        ax.set_xlabel(self.x_label)
        ax.set_ylabel(self.y_label)
        if self.title:
            ax.set_title(self.title)
        if legend:
            ax.legend(**{"fontsize": "small", **(legend if isinstance(legend, dict) else {})})
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def format_table(self, *, scale=1.0, digits=3, label=None):
        """The curves as a text table: one row per curve, one column per x value.

        Parameters
        ----------
        scale : float, default=1.0
            Every value is divided by ``scale`` (e.g. ``Var(y_test)`` for MSE / Var(y)).
        digits : int, default=3
            Decimals printed.
        label : str, default=None
            Header of the name column; ``None`` is ``x_label``.

        Returns
        -------
        table : str
            The table, one line per curve after a header line.
        """
        label = self.x_label if label is None else label
        width = max(len(label), *(len(name) for name in self.curves))
        cells = [f"{v:g}" for v in self.x]
        col = max(digits + 6, *(len(c) for c in cells))
        lines = [f"{label:<{width}s} " + " ".join(f"{c:>{col}s}" for c in cells)]
        for name, values in self.curves.items():
            lines.append(f"{name:<{width}s} "
                         + " ".join(f"{v / scale:{col}.{digits}f}" for v in values))
        return "\n".join(lines)


class ScalingDisplay(_CurvesDisplay):
    """Test error against width or sample size, one line per method ([AZLL] Figures 1-3).

    The panels of [AZLL] Sec. 7: Figure 1 (composite sine) and Figure 2 (composite tanh)
    plot the test error of ``3layer``, ``2layer`` and their kernel baselines
    (``(last)``: conjugate kernel, ``(NTK)``: tangent kernel) against the width ``m``
    (panel a) and the number of training samples ``N`` (panel b); Figure 3(a) compares
    two regularizers of the 3-layer learner against ``m``. Both axes are logarithmic.
    Build it from numbers you have (the constructor or :meth:`from_results`) or let
    :meth:`from_estimators` fit and score the methods.

    Parameters
    ----------
    x : array-like of shape (n_points,)
        The swept values (widths ``m`` or sample sizes ``N``).
    curves : dict of str to array-like of shape (n_points,)
        Test error of each method at each ``x`` (``nan`` for a missing point).
    x_label : str, default="m"
        Label of the x axis.
    y_label : str, default="test MSE"
        Label of the y axis.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes the curves are drawn on (set by :meth:`plot`).
    figure_ : matplotlib Figure
        Figure of ``ax_``.
    lines_ : dict of str to matplotlib Line2D
        The line of each curve, keyed by name.
    best_estimators_ : dict of str to list
        Only from :meth:`from_estimators`: the fitted estimator (best of its grid) of each
        method at each ``x``.
    best_params_ : dict of str to list of dict
        Only from :meth:`from_estimators`: the chosen grid parameters (empty dicts
        without a grid).
    fit_times_ : dict of str to list of float
        Only from :meth:`from_estimators`: seconds spent fitting each point (the whole
        grid).

    See Also
    --------
    NormRatioDisplay : [AZLL] Figure 3(b), the row-norm spread of the learned weights.
    sklearn_overparam.model_selection.fit_grid : The stacked best-of-grid fit.

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. Learning and Generalization in Overparameterized Neural
    Networks, Going Beyond Two Layers. NeurIPS 2019. Section 7, Figures 1, 2 and 3(a).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import ScalingDisplay
    >>> disp = ScalingDisplay([50, 100, 200], {"3layer": [0.43, 0.30, 0.19],
    ...                                        "3layer(last)": [25.6, 21.8, 14.5]})
    >>> disp = disp.plot()
    >>> sorted(disp.lines_), disp.ax_.get_xscale(), disp.ax_.get_yscale()
    (['3layer', '3layer(last)'], 'log', 'log')
    """

    def __init__(self, x, curves, *, x_label="m", y_label="test MSE", title=None):
        super().__init__(x, curves, x_label=x_label, y_label=y_label, title=title)
        self.best_estimators_ = None
        self.best_params_ = None
        self.fit_times_ = None

    @classmethod
    def from_results(cls, results, *, x=None, x_label="m", y_label="test MSE", title=None,
                     ax=None, **kwargs):
        """Plot test errors given as ``{method: {x: error}}`` or ``{method: errors}``.

        Parameters
        ----------
        results : dict of str to dict or array-like
            Per method, either a mapping ``{x value: error}`` (methods may miss some x:
            those points are ``nan``) or a sequence of errors aligned with ``x``.
        x : array-like of shape (n_points,), default=None
            The swept values; ``None`` takes the sorted union of the mappings' keys.
        x_label : str, default="m"
            Label of the x axis.
        y_label : str, default="test MSE"
            Label of the y axis.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : ScalingDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam.plotting import ScalingDisplay
        >>> disp = ScalingDisplay.from_results({"3layer": {250: 3.4, 1000: 0.45},
        ...                                     "3layer(NTK)": {250: 19.5, 500: 13.9}},
        ...                                    x_label="N")
        >>> disp.x.tolist(), disp.curves["3layer"].tolist()
        ([250.0, 500.0, 1000.0], [3.4, nan, 0.45])
        """
        if x is None:
            keys = set()
            for values in results.values():
                if not isinstance(values, dict):
                    raise ValueError("`x` is needed when `results` holds sequences; pass x= "
                                     "or give each method a {x: error} mapping.")
                keys |= set(values)
            x = sorted(keys)
        curves = {}
        for name, values in results.items():
            if isinstance(values, dict):
                values = [values.get(v, values.get(float(v), np.nan)) for v in x]
            curves[name] = values
        display = cls(x, curves, x_label=x_label, y_label=y_label, title=title)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimators(cls, estimators, param_name, param_values, X, y, X_test, y_test,
                        grid=None, *, x_label=None, y_label="test MSE", title=None, ax=None,
                        plot=True, verbose=False, **kwargs):
        """Fit each method at each value of a parameter and plot its best test MSE.

        For every ``value`` of ``param_values`` and every method, the template is cloned
        with ``param_name=value`` and fitted on ``(X, y)``: with a grid, every candidate
        trains in one stacked engine run
        (:func:`~sklearn_overparam.model_selection.fit_grid`) and the candidate of smallest
        test MSE is kept, the protocol of [AZLL] Sec. 7 (best setting by test error).
        ``param_name="n_samples"`` sweeps the training-set size instead: the first
        ``value`` rows of ``(X, y)`` are the training data ([AZLL] Figure 1(b)).

        Parameters
        ----------
        estimators : dict of str to estimator
            Unfitted templates, keyed by the curve name (e.g. ``"3layer"``).
        param_name : str
            The swept parameter (``"n_hidden"`` for the width), or ``"n_samples"``.
        param_values : array-like of shape (n_points,)
            Its values: the x axis.
        X : array-like of shape (n_samples, n_features)
            Training inputs (at least ``max(param_values)`` rows for ``"n_samples"``).
        y : array-like of shape (n_samples,)
            Training targets.
        X_test : array-like of shape (n_test, n_features)
            Test inputs.
        y_test : array-like of shape (n_test,)
            Test targets.
        grid : dict of str to (dict, list of dict or callable), default=None
            Per curve name, a parameter grid as for
            :class:`~sklearn.model_selection.GridSearchCV`, or a callable
            ``grid(estimator, n_samples)`` returning one, called with the template after
            ``param_name`` is set and the training-set size (grids that scale with the
            width or with ``N``, e.g. learning rates ``c / m``). Methods missing from it
            (or ``None``) are fitted once with their own parameters.
        x_label : str, default=None
            Label of the x axis; ``None`` is ``"m"`` for ``n_hidden``, ``"N"`` for
            ``n_samples`` and ``param_name`` otherwise.
        y_label : str, default="test MSE"
            Label of the y axis.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        plot : bool, default=True
            Whether to draw; ``False`` only fits and scores (no matplotlib needed), and
            :meth:`plot` can be called later.
        verbose : bool, default=False
            Print one line per fitted point (method, value, test MSE, seconds).
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : ScalingDisplay
            The display, with ``best_estimators_``, ``best_params_`` and ``fit_times_``.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam import ConjugateKernelRegressor, ThreeLayerReLURegressor
        >>> from sklearn_overparam.datasets import make_composite_sine
        >>> from sklearn_overparam.plotting import ScalingDisplay
        >>> X, y = make_composite_sine(200, random_state=0)
        >>> Xt, yt = make_composite_sine(200, random_state=1)
        >>> methods = {"3layer": ThreeLayerReLURegressor(max_iter=5, tol=None, random_state=0),
        ...            "3layer(last)": ConjugateKernelRegressor(depth=3, random_state=0)}
        >>> grid = {"3layer": lambda est, n: {"learning_rate_init": [0.5 / est.n_hidden,
        ...                                                           1 / est.n_hidden]}}
        >>> disp = ScalingDisplay.from_estimators(methods, "n_hidden", [20, 40], X, y,
        ...                                       Xt, yt, grid=grid)
        >>> disp.curves["3layer"].shape, len(disp.best_estimators_["3layer"])
        ((2,), 2)
        """
        grid = dict(grid or {})
        unknown = sorted(set(grid) - set(estimators))
        if unknown:
            raise ValueError(f"`grid` names {unknown}, which are not methods; the methods "
                             f"are {list(estimators)}.")
        values = list(param_values)
        if param_name == "n_samples":
            bad = [v for v in values
                   if not isinstance(v, Integral) or not 1 <= v <= len(X)]
            if bad:
                raise ValueError(f"`param_values` for 'n_samples' must be integers in "
                                 f"[1, {len(X)}] (the rows of X); got {bad}.")
        else:
            for name, est in estimators.items():
                if param_name not in est.get_params():
                    raise ValueError(f"{name!r} ({type(est).__name__}) has no parameter "
                                     f"{param_name!r}.")
        curves, best, params, times = {}, {}, {}, {}
        for name, template in estimators.items():
            curves[name], best[name], params[name], times[name] = [], [], [], []
            for value in values:
                est = clone(template)
                Xtr, ytr = X, y
                if param_name == "n_samples":
                    Xtr, ytr = X[:value], y[:value]
                else:
                    est.set_params(**{param_name: value})
                candidates = grid.get(name)
                if callable(candidates):
                    candidates = candidates(est, len(Xtr))
                start = time.perf_counter()
                if candidates is None:
                    fitted = est.fit(Xtr, ytr)
                    mse, chosen = _mse(fitted, X_test, y_test), {}
                else:
                    res = fit_grid(est, candidates, Xtr, ytr, X_test, y_test)
                    fitted, chosen = res.best_estimator, res.best_params
                    mse = float(res.val_mse[res.best_index])
                elapsed = time.perf_counter() - start
                if verbose:
                    log(f"  {name} {param_name}={value}: test MSE {mse:.4g} "
                        f"({elapsed:.1f}s)")
                curves[name].append(mse)
                best[name].append(fitted)
                params[name].append(chosen)
                times[name].append(elapsed)
        if x_label is None:
            x_label = {"n_hidden": "m", "n_samples": "N"}.get(param_name, param_name)
        display = cls(values, curves, x_label=x_label, y_label=y_label, title=title)
        display.best_estimators_, display.best_params_, display.fit_times_ = best, params, times
        return display.plot(ax=ax, **kwargs) if plot else display


class NormRatioDisplay(_CurvesDisplay):
    """How evenly the learned weights spread over neurons, against width ([AZLL] Fig. 3(b)).

    Plots ``m ||W||_{2,4}^4 / ||W||_F^4``
    (:func:`~sklearn_overparam.diagnostics.norm_ratio`) of a fitted network's weight
    matrix against ``m``: 1 when every neuron has the same row norm, about ``1 + 2/d`` for
    a Gaussian ``d``-column initialization and ``m`` when one neuron carries all the
    weight. [AZLL] Figure 3(b) compares weight decay with the ``||W||_{2,4}^4``
    regularizer and finds the ratios "roughly the same". The x axis is logarithmic, the
    y axis linear.

    Parameters
    ----------
    x : array-like of shape (n_points,)
        The widths ``m``.
    curves : dict of str to array-like of shape (n_points,)
        Norm ratio of each method at each width.
    x_label : str, default="m"
        Label of the x axis.
    y_label : str, default="m ||W||_{2,4}^4 / ||W||_F^4"
        Label of the y axis.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes the curves are drawn on (set by :meth:`plot`).
    figure_ : matplotlib Figure
        Figure of ``ax_``.
    lines_ : dict of str to matplotlib Line2D
        The line of each curve, keyed by name.

    See Also
    --------
    ScalingDisplay : Test error against width or sample size.

    References
    ----------
    Z. Allen-Zhu, Y. Li, Y. Liang. Learning and Generalization in Overparameterized Neural
    Networks, Going Beyond Two Layers. NeurIPS 2019. Section 7, Figure 3(b).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import NormRatioDisplay
    >>> disp = NormRatioDisplay([100, 200], {"weight decay": [2.6, 3.6],
    ...                                      "||W||_{2,4}^4": [1.3, 1.9]}).plot()
    >>> disp.ax_.get_xscale(), disp.ax_.get_yscale()
    ('log', 'linear')
    """

    _default_yscale = "linear"

    def __init__(self, x, curves, *, x_label="m", y_label="m ||W||_{2,4}^4 / ||W||_F^4",
                 title=None):
        super().__init__(x, curves, x_label=x_label, y_label=y_label, title=title)

    @classmethod
    def from_estimators(cls, estimators, x, *, layer=0, increment=False, initialization=None,
                        x_label="m", y_label="m ||W||_{2,4}^4 / ||W||_F^4", title=None,
                        ax=None, **kwargs):
        """Norm ratio of fitted networks' weights, one curve per method.

        Parameters
        ----------
        estimators : dict of str to list of fitted estimators
            Per curve name, one fitted network per ``x`` (e.g.
            ``ScalingDisplay.from_estimators(...).best_estimators_``).
        x : array-like of shape (n_points,)
            The widths.
        layer : int, default=0
            Which weight matrix (``coefs_[layer]``); 0 is the first layer ``W``, the
            matrix the ``||W||_{2,4}^4`` regularizer acts on.
        increment : bool, default=False
            Use ``W - W^(0)`` (the theory's ``W'``) instead of ``W``.
        initialization : str, default=None
            Name of an extra curve with the ratio of the initial weights
            (``initial_coefs_``) of the first method's networks; ``None`` adds none.
        x_label : str, default="m"
            Label of the x axis.
        y_label : str, default="m ||W||_{2,4}^4 / ||W||_F^4"
            Label of the y axis.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : NormRatioDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam import ThreeLayerReLURegressor
        >>> from sklearn_overparam.datasets import make_composite_sine
        >>> from sklearn_overparam.plotting import NormRatioDisplay
        >>> X, y = make_composite_sine(200, random_state=0)
        >>> nets = [ThreeLayerReLURegressor(n_hidden=m, input_padding=None, max_iter=5,
        ...                                 tol=None, random_state=0).fit(X, y)
        ...         for m in (20, 40)]
        >>> disp = NormRatioDisplay.from_estimators({"weight decay": nets}, [20, 40],
        ...                                         initialization="init")
        >>> list(disp.curves), bool((disp.curves["init"] >= 1).all())
        (['weight decay', 'init'], True)
        """
        curves = {}
        for name, fitted in estimators.items():
            fitted = list(fitted)
            curves[name] = [
                norm_ratio(est.coefs_[layer], est.initial_coefs_[layer] if increment else None)
                for est in fitted
            ]
        if initialization is not None:
            first = list(next(iter(estimators.values())))
            curves[initialization] = [norm_ratio(est.initial_coefs_[layer]) for est in first]
        display = cls(x, curves, x_label=x_label, y_label=y_label, title=title)
        return display.plot(ax=ax, **kwargs)
