"""Width scaling: the minimum width for zero training error ([CCZG] Sec. 5) and any
diagnostic against the width, as displays."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from .._log import log
from ..diagnostics import min_width_for_zero_error
from ._displays import ScalingDisplay, _CurvesDisplay
from ._lazy import (
    REFERENCES,
    _is_estimator,
    _power_law,
    final_diagnostics,
)


class MinWidthDisplay(_CurvesDisplay):
    """The minimum width for zero training error against ``n`` ([CCZG] App. D, Figure 1).

    [CCZG] App. D trains a 5-layer ReLU network for growing training sets (binary CIFAR-10
    subsets) and plots the smallest width reaching zero training error, with reference
    curves ``O(log n)``, ``O(log^2 n)``, ``O(log^3 n)`` and ``O(n)`` started at the same
    point: the width needed grows polylogarithmically in ``n`` ("the required network width
    to achieve zero training error is polylogarithmic on the sample size n"). One line per
    labelling; a point whose grid (up to its cap) holds no such width is drawn as an open
    triangle at the cap and printed as ``> cap``. Logarithmic x axis, linear y axis.

    Parameters
    ----------
    x : array-like of shape (n_points,)
        The training-set sizes ``n``.
    curves : dict of str to array-like of shape (n_points,)
        Minimum width of each curve at each ``n`` (``None`` or ``nan``: not found).
    caps : dict of str to float or array-like, default=None
        The largest width tried for each curve (or at each of its points); the not-found
        points are drawn there. Curves missing from it draw no marker for them.
    x_label : str, default="n (training samples)"
        Label of the x axis.
    y_label : str, default="min width for zero training error"
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
    not_found_lines_ : dict of str to matplotlib Line2D
        The open markers of the points without a width, keyed by curve.
    reference_lines_ : dict of str to matplotlib Line2D
        The dashed reference curves, keyed by ``"O(log n)"`` etc.
    fit_times_ : dict of str to list of float
        Only from :meth:`from_estimator`: seconds spent on each point.

    See Also
    --------
    sklearn_overparam.diagnostics.min_width_for_zero_error : One point of the curve.

    References
    ----------
    Z. Chen, Y. Cao, D. Zou, Q. Gu. How Much Over-parameterization Is Sufficient to Learn
    Deep ReLU Networks? ICLR 2021. Appendix D, Figure 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import MinWidthDisplay
    >>> disp = MinWidthDisplay([100, 400, 1600], {"clusters": [8, 8, 8],
    ...                                           "random": [8, 24, None]},
    ...                        caps={"random": 96}).plot()
    >>> print(disp.format_table())
    n           100    400   1600
    clusters      8      8      8
    random        8     24    >96
    >>> sorted(disp.reference_lines_)
    ['O(log n)', 'O(log^2 n)', 'O(log^3 n)', 'O(n)']
    """

    _default_xscale = "log"
    _default_yscale = "linear"

    def __init__(self, x, curves, *, caps=None, x_label="n (training samples)",
                 y_label="min width for zero training error", title=None):
        curves = {name: [np.nan if v is None else v for v in values]
                  for name, values in curves.items()}
        super().__init__(x, curves, x_label=x_label, y_label=y_label, title=title)
        self.caps = {}
        for name, cap in (caps or {}).items():
            if name not in self.curves:
                raise ValueError(f"`caps` names {name!r}, which is not a curve; the curves "
                                 f"are {list(self.curves)}.")
            self.caps[name] = np.broadcast_to(np.asarray(cap, dtype=np.float64),
                                              self.x.shape).copy()
        self.fit_times_ = None

    def plot(self, ax=None, *, references=("log n", "log^2 n", "log^3 n", "n"),
             legend=True, **kwargs):
        """Draw the curves, the not-found markers and the reference curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        references : sequence of str, default=("log n", "log^2 n", "log^3 n", "n")
            Reference growths drawn dashed, scaled to pass through the first point of the
            first curve (as in [CCZG] App. D); ``()`` draws none.
        legend : bool or dict, default=True
            Whether to draw a legend; a dict is passed to ``Axes.legend``.
        **kwargs : dict
            ``xscale``, ``yscale``, ``curve_kwargs`` (as in :meth:`ScalingDisplay.plot`)
            and keyword arguments of ``Axes.plot`` for every curve.

        Returns
        -------
        display : MinWidthDisplay
            The display, with ``ax_``, ``figure_``, ``lines_``, ``not_found_lines_`` and
            ``reference_lines_`` set.
        """
        unknown = [r for r in references if r not in REFERENCES]
        if unknown:
            raise ValueError(f"`references` must be among {list(REFERENCES)}; got {unknown}.")
        super().plot(ax=ax, legend=False, **kwargs)
        ax = self.ax_
        self.not_found_lines_ = {}
        for name, values in self.curves.items():
            cap = self.caps.get(name)
            missing = ~np.isfinite(values)
            if cap is None or not missing.any():
                continue
            color = self.lines_[name].get_color()
            (self.not_found_lines_[name],) = ax.plot(
                self.x[missing], cap[missing], linestyle="none", marker="^",
                fillstyle="none", markersize=9, color=color,
                label=f"{name}: no width <= {np.nanmax(cap[missing]):g}")
        self.reference_lines_ = {}
        first = next(iter(self.curves.values()))
        ok = np.flatnonzero(np.isfinite(first))
        if references and ok.size:
            x0, y0 = self.x[ok[0]], first[ok[0]]
            grid = np.geomspace(self.x.min(), self.x.max(), 50)
            for ref in references:
                g = REFERENCES[ref]
                g0 = float(g(x0))
                if g0 <= 0:  # log n at n = 1
                    continue
                (self.reference_lines_[f"O({ref})"],) = ax.plot(
                    grid, y0 * g(grid) / g0, linestyle="--", linewidth=1, color="0.6",
                    label=f"O({ref})")
                line = self.reference_lines_[f"O({ref})"]
                line.set_dashes({"log n": (6, 2), "log^2 n": (4, 2), "log^3 n": (2, 2),
                                 "n": (1, 2)}[ref])
            top = np.nanmax([np.nanmax(v) if np.isfinite(v).any() else 0
                             for v in [*self.curves.values(), *self.caps.values()]])
            ax.set_ylim(0, 1.25 * max(top, y0))
        if legend:
            ax.legend(**{"fontsize": "small", **(legend if isinstance(legend, dict) else {})})
        return self

    def format_table(self, *, label=None):
        """The minimum widths as a text table (``>cap`` where none was found).

        Parameters
        ----------
        label : str, default=None
            Header of the name column; ``None`` is ``"n"``.

        Returns
        -------
        table : str
            The table, one line per curve after a header line.
        """
        label = "n" if label is None else label
        width = max(len(label), *(len(name) for name in self.curves))
        cells = [f"{v:g}" for v in self.x]
        col = max(6, *(len(c) for c in cells))
        lines = [f"{label:<{width}s} " + " ".join(f"{c:>{col}s}" for c in cells)]
        for name, values in self.curves.items():
            cap = self.caps.get(name)
            row = []
            for i, v in enumerate(values):
                if np.isfinite(v):
                    row.append(f"{v:g}")
                else:
                    row.append(f">{cap[i]:g}" if cap is not None else "-")
            lines.append(f"{name:<{width}s} " + " ".join(f"{c:>{col}s}" for c in row))
        return "\n".join(lines)

    @classmethod
    def from_estimator(cls, estimator, X, y, sizes, widths, *, param="width", max_width=None,
                       random_states=None, x_label="n (training samples)",
                       y_label="min width for zero training error", title=None, ax=None,
                       plot=True, verbose=False, **kwargs):
        """Minimum width for zero training error on the first ``n`` rows, for each ``n``.

        Each point is :func:`~sklearn_overparam.diagnostics.min_width_for_zero_error` of
        the template on ``X[:n], y[:n]`` (widths tried in increasing order, each fitted
        from scratch), so pass the rows in random order.

        Parameters
        ----------
        estimator : classifier
            The template, e.g. ``DeepReLUClassifier(depth=5, solver="gd",
            stop_at_zero_error=True)``.
        X : array-like of shape (n_samples, n_features)
            Training inputs, at least ``max(sizes)`` rows.
        y : array-like of shape (n_samples,) or dict of str to such arrays
            Labels, or several labellings of the same inputs keyed by curve name (e.g.
            structured and random labels).
        sizes : array-like of int
            The training-set sizes ``n``: the x axis.
        widths : sequence of int
            The width grid.
        param : str, default="width"
            The estimator's width parameter (``"n_hidden"`` for two-layer networks).
        max_width : int or dict of str to int, default=None
            Fit only the widths up to this cap (per curve with a dict): a time budget for
            labellings that need large widths; the points without a width are then
            reported as ``> cap``.
        random_states : sequence of int, default=None
            Seeds fitted per width (all must reach zero error); ``None`` is the template's.
        x_label : str, default="n (training samples)"
            Label of the x axis.
        y_label : str, default="min width for zero training error"
            Label of the y axis.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        plot : bool, default=True
            Whether to draw (``False`` needs no matplotlib).
        verbose : bool, default=False
            Print one line per point (curve, ``n``, width, seconds).
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : MinWidthDisplay
            The display, with ``fit_times_``.

        Examples
        --------
        >>> from sklearn_overparam import DeepReLUClassifier
        >>> from sklearn_overparam.datasets import make_cczg_clusters
        >>> from sklearn_overparam.plotting import MinWidthDisplay
        >>> X, y = make_cczg_clusters(100, random_state=0)
        >>> est = DeepReLUClassifier(depth=3, solver="gd", max_iter=300,
        ...                          stop_at_zero_error=True, tol=None, random_state=0)
        >>> disp = MinWidthDisplay.from_estimator(est, X, {"clusters": y}, [50, 100],
        ...                                       [8, 16, 32], plot=False)
        >>> disp.x.tolist(), len(disp.curves["clusters"])
        ([50.0, 100.0], 2)
        """
        labellings = dict(y) if isinstance(y, Mapping) else {"labels": y}
        sizes = [int(n) for n in sizes]
        X = np.asarray(X)
        if not sizes or min(sizes) < 1 or max(sizes) > X.shape[0]:
            raise ValueError(f"`sizes` must be integers in [1, {X.shape[0]}] (the rows of X); "
                             f"got {sizes}.")
        widths = sorted(int(w) for w in widths)
        caps_in = max_width if isinstance(max_width, Mapping) else dict.fromkeys(
            labellings, max_width)
        curves, caps, times = {}, {}, {}
        for name, labels in labellings.items():
            labels = np.asarray(labels)
            cap = caps_in.get(name)
            grid = [w for w in widths if cap is None or w <= cap]
            if not grid:
                raise ValueError(f"curve {name!r}: no width of {widths} is <= its cap {cap}.")
            caps[name] = max(grid)
            curves[name], times[name] = [], []
            for n in sizes:
                start = time.perf_counter()
                found = min_width_for_zero_error(estimator, X[:n], labels[:n], grid,
                                                 param=param, random_states=random_states)
                times[name].append(time.perf_counter() - start)
                curves[name].append(found)
                if verbose:
                    log(f"  {name} n={n}: min width "
                        f"{found if found is not None else f'> {max(grid)}'} "
                        f"({times[name][-1]:.1f}s)")
        display = cls(sizes, curves, caps=caps, x_label=x_label, y_label=y_label, title=title)
        display.fit_times_ = times
        return display.plot(ax=ax, **kwargs) if plot else display


# ----------------------------------------------------------- WidthScalingDisplay
class WidthScalingDisplay(ScalingDisplay):
    """A diagnostic at the end of training against the width, with fitted power laws.

    In the lazy (NTK) regime the distance travelled from initialization, the fraction of
    activation patterns that changed and the drift of the tangent kernel all vanish like
    ``m^{-1/2}`` as the width ``m`` grows (the [LL] Sec. 5 coupling, [AZLL] Sec. 6, [CCZG]
    Theorem 3.3's radius ``R / sqrt(m)``). This display plots one diagnostic against ``m`` on
    log-log axes, one line per learner, and fits ``log y = s log m + c`` by least squares:
    the slopes ``s`` are in the legend and in ``slopes_``, the fits drawn dashed.

    Parameters
    ----------
    x : array-like of shape (n_points,)
        The widths ``m``.
    curves : dict of str to array-like of shape (n_points,)
        The diagnostic of each learner at each width.
    x_label : str, default="m"
        Label of the x axis.
    y_label : str, default="diagnostic"
        Label of the y axis.
    title : str, default=None
        Title of the axes.

    Attributes
    ----------
    slopes_ : dict of str to float
        Fitted exponent of each curve (``nan`` with fewer than two positive points).
    intercepts_ : dict of str to float
        Fitted ``c`` of each curve.
    fit_lines_ : dict of str to matplotlib Line2D
        The dashed fits (set by :meth:`plot`).
    diagnostics_ : dict of str to list of dict
        Only from :meth:`from_estimators`: every diagnostic of each learner at each width
        (averaged over seeds), to build the other panels with :meth:`from_diagnostics`.
    ax_ : matplotlib Axes
        Axes the curves are drawn on (set by :meth:`plot`).
    figure_ : matplotlib Figure
        Figure of ``ax_``.
    lines_ : dict of str to matplotlib Line2D
        The line of each curve, keyed by name.

    See Also
    --------
    ScalingDisplay : Test error against width or sample size.
    final_diagnostics : The diagnostics of one fitted network.

    References
    ----------
    Y. Li, Y. Liang. NeurIPS 2018, Sec. 5 and 7 (coupling and distance shrink with ``m``);
    Z. Allen-Zhu, Y. Li, Y. Liang. NeurIPS 2019, Sec. 6; Z. Chen, Y. Cao, D. Zou, Q. Gu.
    ICLR 2021, Theorem 3.3.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import WidthScalingDisplay
    >>> disp = WidthScalingDisplay([100, 400, 1600], {"lazy": [0.08, 0.04, 0.02]},
    ...                            y_label="relative distance").plot()
    >>> round(disp.slopes_["lazy"], 2), disp.lines_["lazy"].get_label()
    (-0.5, 'lazy (slope -0.50)')
    """

    def __init__(self, x, curves, *, x_label="m", y_label="diagnostic", title=None):
        super().__init__(x, curves, x_label=x_label, y_label=y_label, title=title)
        fits = {name: _power_law(self.x, values) for name, values in self.curves.items()}
        self.slopes_ = {name: fit[0] for name, fit in fits.items()}
        self.intercepts_ = {name: fit[1] for name, fit in fits.items()}
        self.diagnostics_ = None

    def plot(self, ax=None, *, fit=True, curve_kwargs=None, **kwargs):
        """Draw the curves and (dashed) their fitted power laws.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        fit : bool, default=True
            Draw the fits and put the slopes in the legend.
        curve_kwargs : dict of str to dict, default=None
            Per-curve keyword arguments of ``Axes.plot``.
        **kwargs : dict
            Keyword arguments of :meth:`ScalingDisplay.plot`.

        Returns
        -------
        display : WidthScalingDisplay
            The display, with ``ax_``, ``figure_``, ``lines_`` and ``fit_lines_`` set.
        """
        curve_kwargs = {name: dict(v) for name, v in (curve_kwargs or {}).items()}
        if fit:
            for name, slope in self.slopes_.items():
                curve_kwargs.setdefault(name, {}).setdefault(
                    "label", f"{name} (slope {slope:+.2f})" if math.isfinite(slope)
                    else name)
        super().plot(ax=ax, curve_kwargs=curve_kwargs, **kwargs)
        self.fit_lines_ = {}
        if fit:
            for name, slope in self.slopes_.items():
                if not math.isfinite(slope):
                    continue
                (self.fit_lines_[name],) = self.ax_.plot(
                    self.x, np.exp(self.intercepts_[name]) * self.x ** slope, linestyle="--",
                    linewidth=1, color=self.lines_[name].get_color())
        return self

    def format_table(self, *, scale=1.0, digits=4, label=None):
        """The curves and their fitted slopes as a text table.

        Parameters
        ----------
        scale : float, default=1.0
            Every value is divided by ``scale``.
        digits : int, default=4
            Decimals printed.
        label : str, default=None
            Header of the name column; ``None`` is ``x_label``.

        Returns
        -------
        table : str
            One line per curve after a header line; the last column is the slope.
        """
        table = super().format_table(scale=scale, digits=digits, label=label).splitlines()
        col = digits + 6
        table[0] += " " + f"{'slope':>{col}s}"
        for i, name in enumerate(self.curves, start=1):
            table[i] += " " + f"{self.slopes_[name]:{col}.{digits}f}"
        return "\n".join(table)

    @classmethod
    def from_diagnostics(cls, diagnostics, x, column, *, x_label="m", y_label=None,
                         title=None, ax=None, **kwargs):
        """Plot one column of per-width diagnostics (e.g. another display's ``diagnostics_``).

        Parameters
        ----------
        diagnostics : dict of str to list
            Per learner, one entry per width: a dict of diagnostics, or a list of such
            dicts (seeds, averaged).
        x : array-like of shape (n_points,)
            The widths.
        column : str
            The diagnostic plotted.
        x_label : str, default="m"
            Label of the x axis.
        y_label : str, default=None
            Label of the y axis; ``None`` is ``column``.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : WidthScalingDisplay
            The plotted display, with ``diagnostics_`` set to the (averaged) dicts.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam.plotting import WidthScalingDisplay
        >>> diags = {"lazy": [{"ntk_drift": 0.2}, [{"ntk_drift": 0.1}, {"ntk_drift": 0.3}]]}
        >>> disp = WidthScalingDisplay.from_diagnostics(diags, [100, 400], "ntk_drift")
        >>> disp.curves["lazy"].tolist(), round(disp.slopes_["lazy"], 3)
        ([0.2, 0.2], 0.0)
        """
        averaged, curves = {}, {}
        for name, per_width in diagnostics.items():
            averaged[name] = []
            for entry in per_width:
                entries = [entry] if isinstance(entry, Mapping) else list(entry)
                if not entries or any(column not in e for e in entries):
                    raise ValueError(f"{name!r}: every entry needs the column {column!r}; "
                                     f"got keys {sorted(entries[0]) if entries else []}.")
                keys = set.intersection(*(set(e) for e in entries))
                averaged[name].append({k: float(np.mean([e[k] for e in entries]))
                                       for k in sorted(keys)})
            curves[name] = [d[column] for d in averaged[name]]
        display = cls(x, curves, x_label=x_label,
                      y_label=column if y_label is None else y_label, title=title)
        display.diagnostics_ = averaged
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimators(cls, estimators, x, column, X, *, probe=100, x_label="m",
                        y_label=None, title=None, ax=None, **kwargs):
        """Measure fitted networks at the end of training on ``X`` and plot one column.

        Parameters
        ----------
        estimators : dict of str to list
            Per learner, one fitted network per width (or a list of them: seeds,
            averaged).
        x : array-like of shape (n_points,)
            The widths.
        column : str
            The diagnostic plotted (a key of :func:`final_diagnostics`).
        X : array-like of shape (n_samples, n_features), or dict of str to such arrays
            Raw reference inputs of the measures (e.g. a test set), or one per learner
            (keyed like ``estimators``) when the learners solve different problems.
        probe : int, default=100
            Rows of ``X`` on which the empirical NTK is computed.
        x_label : str, default="m"
            Label of the x axis.
        y_label : str, default=None
            Label of the y axis; ``None`` is ``column``.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : WidthScalingDisplay
            The plotted display, with every measured diagnostic in ``diagnostics_``.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam import TwoLayerReLUClassifier
        >>> from sklearn_overparam.datasets import make_xor_balls
        >>> from sklearn_overparam.plotting import WidthScalingDisplay
        >>> X, y = make_xor_balls(200, random_state=0)
        >>> nets = [TwoLayerReLUClassifier(n_hidden=m, max_iter=5, tol=None,
        ...                                random_state=0).fit(X, y) for m in (50, 200)]
        >>> disp = WidthScalingDisplay.from_estimators({"[LL]": nets}, [50, 200],
        ...                                            "relative_distance_0", X, probe=20)
        >>> bool(disp.slopes_["[LL]"] < 0), "ntk_drift" in disp.diagnostics_["[LL]"][0]
        (True, True)
        """
        spectra = column.startswith(("sv_", "effective_rank"))
        if isinstance(X, Mapping):
            missing = sorted(set(estimators) - set(X))
            if missing:
                raise ValueError(f"`X` has no inputs for {missing}; give one array per "
                                 "learner, or a single array for all.")
        measured = {}
        for name, per_width in estimators.items():
            inputs = X[name] if isinstance(X, Mapping) else X
            measured[name] = []
            for entry in per_width:
                fitted = [entry] if _is_estimator(entry) else list(entry)
                measured[name].append([final_diagnostics(est, inputs, probe=probe,
                                                         spectra=spectra)
                                       for est in fitted])
        return cls.from_diagnostics(measured, x, column, x_label=x_label, y_label=y_label,
                                    title=title, ax=ax, **kwargs)
