"""Displays of the lazy-training figures of [LL] Sec. 7 and [CCZG] App. D.

- :class:`DiagnosticsDisplay`: diagnostics along training (test accuracy, activation-pattern
  change, relative distance from init; [LL] Figures 1-2 (a)-(c)), one line per run.
- :class:`SpectrumDisplay`: top singular values of ``W_T - W_0`` against those of ``W_T``
  ([LL] Figures 1-2 (d)).
- :class:`MinWidthDisplay`: the minimum width for zero training error against ``n``
  ([CCZG] App. D, Figure 1).
- :class:`WidthScalingDisplay`: a diagnostic at the end of training against the width, with
  fitted power laws (the NTK regime's ``m^{-1/2}``).

matplotlib is imported inside ``plot`` only: importing this module does not need it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from .._log import log
from ..diagnostics import min_width_for_zero_error, top_singular_values
from ._displays import MARKERS, ScalingDisplay, _CurvesDisplay, _pyplot

REFERENCES = {
    "log n": np.log,
    "log^2 n": lambda n: np.log(n) ** 2,
    "log^3 n": lambda n: np.log(n) ** 3,
    "n": lambda n: np.asarray(n, dtype=np.float64),
}


# ---------------------------------------------------------------------- helpers
def _is_estimator(obj):
    return hasattr(obj, "get_params") and hasattr(obj, "fit")


def _named(objects, labels, default_label, what):
    """``{label: object}`` from one object, a sequence or a mapping of them."""
    if isinstance(objects, Mapping) and not _is_estimator(objects):
        items = list(objects.items())
        if labels is not None:
            raise ValueError(f"`labels` cannot be combined with a dict of {what}: its keys "
                             "are the labels.")
    else:
        if _is_estimator(objects) or not isinstance(objects, (list, tuple)):
            objects = [objects]
        objects = list(objects)
        if labels is None:
            labels = [default_label(obj, i) for i, obj in enumerate(objects)]
        labels = list(labels)
        if len(labels) != len(objects):
            raise ValueError(f"`labels` has {len(labels)} entries for {len(objects)} {what}; "
                             "give one label per entry.")
        items = list(zip(labels, objects))
    if not items:
        raise ValueError(f"Pass at least one of the {what}.")
    out = {}
    for label, obj in items:
        label = str(label)
        if label in out:
            raise ValueError(f"Two {what} are labelled {label!r}; pass distinct `labels`.")
        out[label] = obj
    return out


def _width_label(estimator, i):
    params = estimator.get_params() if _is_estimator(estimator) else {}
    for key in ("n_hidden", "width"):
        if key in params:
            return f"m={params[key]}"
    return f"{type(estimator).__name__} {i}"


def _check_fitted_diagnostics(estimator, label):
    diag = getattr(estimator, "diagnostics_", None)
    if diag is None:
        raise ValueError(
            f"{label!r} ({type(estimator).__name__}) has no recorded diagnostics: fit it "
            "with record_every=k (and diagnostics_X= for a test set) to fill diagnostics_."
        )
    return diag


def _power_law(x, y):
    """Least-squares ``(slope, intercept)`` of ``log y`` on ``log x`` (positive points)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2 or np.ptp(np.log(x[keep])) == 0:
        return math.nan, math.nan
    slope, intercept = np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)
    return float(slope), float(intercept)


def final_diagnostics(estimator, X, *, probe=100, spectra=False):
    """Every lazy-training diagnostic of a fitted network at the end of training, on ``X``.

    One :class:`~sklearn_overparam.diagnostics.DiagnosticsRecorder` measurement of the
    fitted weights ``coefs_`` against ``initial_coefs_`` (the biases as fitted), on the
    network's view of ``X`` (through the fitted input map): activation-pattern change on
    all rows of ``X``, relative distance from init, ``sqrt(m) max_l ||W_l - W_l0||_F``, the
    pseudo-network gap and the empirical-NTK drift on ``probe`` rows.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted network of this library (``coefs_``, ``initial_coefs_``, ``network_``).
    X : array-like of shape (n_samples, n_features)
        Raw reference inputs (e.g. a test set).
    probe : int, default=100
        Rows of ``X`` (evenly spaced) on which the empirical NTK is computed.
    spectra : bool, default=False
        Also record the top singular values and effective ranks of the first trainable
        weight matrix and of its update.

    Returns
    -------
    values : dict of str to float
        Keyed like the columns of ``diagnostics_`` (``"activation_change_0"``,
        ``"relative_distance_0"``, ``"ntk_drift"``, ...).

    Examples
    --------
    >>> from sklearn_overparam import TwoLayerReLUClassifier
    >>> from sklearn_overparam.datasets import make_xor_balls
    >>> from sklearn_overparam.plotting import final_diagnostics
    >>> X, y = make_xor_balls(200, random_state=0)
    >>> clf = TwoLayerReLUClassifier(n_hidden=64, max_iter=5, tol=None,
    ...                              random_state=0).fit(X, y)
    >>> values = final_diagnostics(clf, X, probe=20)
    >>> 0 <= values["activation_change_0"] <= 1, values["ntk_drift"] >= 0
    (True, True)
    """
    import torch

    from ..diagnostics import DiagnosticsRecorder

    net = estimator.network_
    params = {name: p.detach() for name, p in net.stacked_params().items()}
    params0 = dict(params)
    for l, W0 in enumerate(estimator.initial_coefs_):
        params0[f"W{l}"] = torch.as_tensor(np.asarray(W0), dtype=params[f"W{l}"].dtype)[None]
    X = np.asarray(X)
    Z = torch.as_tensor(X, dtype=params["W0"].dtype)
    if net.input_map is not None:
        with torch.no_grad():
            Z = net.input_map(Z)
    recorder = DiagnosticsRecorder(net.spec, params0, Z, rows="all",
                                   probe=min(int(probe), Z.shape[0]),
                                   layers=None if spectra else [])
    return {key: float(value[0]) for key, value in recorder.measure(params).items()}


# ------------------------------------------------------------ DiagnosticsDisplay
class DiagnosticsDisplay:
    """Diagnostics along training, one line per run ([LL] Figures 1-2, panels (a)-(c)).

    [LL] Sec. 7 plots, against the SGD iteration and for several widths ``m``, the test
    accuracy, the fraction of hidden units whose activation pattern changed since
    initialization ("coupling") and the relative distance ``||W_t - W_0||_F / ||W_0||_F``;
    all three stay small and shrink as ``m`` grows. This display draws any columns of
    recorded diagnostics (the fitted ``diagnostics_`` of an estimator fitted with
    ``record_every``, or a dict of equal-length arrays) against an x column, one axes per
    column and one line per run.

    Parameters
    ----------
    diagnostics : dict of str to dict of array-like
        Per run (the curve label), a mapping of equal-length arrays holding ``x`` and
        every column.
    columns : str or list of str
        The columns to draw, one axes each.
    x : str, default="epoch"
        The column of the x axis (``"epoch"`` in ``diagnostics_``).
    x_label : str, default=None
        Label of the x axes; ``None`` is ``x``.
    y_labels : dict of str to str, default=None
        Label of the y axis of each column; columns missing from it are labelled by name.
    title : str, default=None
        Title of the first axes.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One axes per column (set by :meth:`plot`).
    ax_ : matplotlib Axes or ndarray of Axes
        The axes when there is one column, else ``axes_``.
    figure_ : matplotlib Figure
        Figure of the axes.
    lines_ : dict of str to dict of str to matplotlib Line2D
        ``lines_[column][run]``.

    See Also
    --------
    SpectrumDisplay : Panel (d), the spectrum of the accumulated update.
    sklearn_overparam.diagnostics.DiagnosticsRecorder : What records the diagnostics.

    References
    ----------
    Y. Li, Y. Liang. Learning Overparameterized Neural Networks via Stochastic Gradient
    Descent on Structured Data. NeurIPS 2018. Section 7, Figures 1 and 2 (a)-(c).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import DiagnosticsDisplay
    >>> runs = {"m=500": {"step": [0, 10, 400], "change": [0.0, 0.05, 0.06]},
    ...         "m=2000": {"step": [0, 10, 400], "change": [0.0, 0.02, 0.02]}}
    >>> disp = DiagnosticsDisplay(runs, "change", x="step").plot()
    >>> sorted(disp.lines_["change"]), disp.ax_.get_xlabel()
    (['m=2000', 'm=500'], 'step')
    """

    def __init__(self, diagnostics, columns, *, x="epoch", x_label=None, y_labels=None,
                 title=None):
        columns = [columns] if isinstance(columns, str) else list(columns)
        if not columns:
            raise ValueError("`columns` must name at least one diagnostic to plot.")
        if not isinstance(diagnostics, Mapping) or not diagnostics:
            raise ValueError("`diagnostics` must map at least one run name to its records "
                             "(a dict of equal-length arrays).")
        runs = {}
        for name, record in diagnostics.items():
            if not isinstance(record, Mapping):
                raise ValueError(f"run {name!r} must be a mapping of arrays; got "
                                 f"{type(record).__name__}.")
            missing = [c for c in [x, *columns] if c not in record]
            if missing:
                raise ValueError(f"run {name!r} has no column(s) {missing}; it has "
                                 f"{sorted(record)}.")
            xs = np.asarray(record[x], dtype=np.float64)
            if xs.ndim != 1 or xs.size == 0:
                raise ValueError(f"run {name!r}: `{x}` must be a non-empty 1-D array; got "
                                 f"shape {xs.shape}.")
            run = {x: xs}
            for column in columns:
                values = np.asarray(record[column], dtype=np.float64)
                if values.shape != xs.shape:
                    raise ValueError(f"run {name!r}: column {column!r} has shape "
                                     f"{values.shape}, `{x}` has {xs.shape}; give one value "
                                     "per record.")
                run[column] = values
            runs[str(name)] = run
        self.diagnostics = runs
        self.columns = columns
        self.x = x
        self.x_label = x if x_label is None else x_label
        self.y_labels = {c: c for c in columns}
        self.y_labels.update(y_labels or {})
        self.title = title

    @classmethod
    def from_diagnostics(cls, diagnostics, columns, *, x="epoch", labels=None, x_label=None,
                         y_labels=None, title=None, ax=None, **kwargs):
        """Plot recorded diagnostics: one dict of arrays, a list of them or a dict of them.

        Parameters
        ----------
        diagnostics : dict of array-like, list of such dicts, or dict of str to such dicts
            The records of one run (e.g. an estimator's ``diagnostics_`` or a
            :class:`~sklearn_overparam.diagnostics.DiagnosticsRecorder`'s ``records``),
            several runs, or runs keyed by label.
        columns : str or list of str
            The columns to draw, one axes each.
        x : str, default="epoch"
            The column of the x axis.
        labels : list of str, default=None
            Curve labels of a single run or a list of runs; ``None`` numbers them.
        x_label : str, default=None
            Label of the x axes; ``None`` is ``x``.
        y_labels : dict of str to str, default=None
            Label of the y axis of each column.
        title : str, default=None
            Title of the first axes.
        ax : matplotlib Axes or sequence of Axes, default=None
            One axes per column; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : DiagnosticsDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam.plotting import DiagnosticsDisplay
        >>> record = {"epoch": [0, 1, 2], "relative_distance_0": [0.0, 0.01, 0.02],
        ...           "activation_change_0": [0.0, 0.03, 0.04]}
        >>> disp = DiagnosticsDisplay.from_diagnostics(
        ...     record, ["relative_distance_0", "activation_change_0"], labels=["m=100"])
        >>> len(disp.axes_), list(disp.lines_["relative_distance_0"])
        (2, ['m=100'])
        """
        if isinstance(diagnostics, Mapping) and diagnostics and all(
            not isinstance(v, Mapping) for v in diagnostics.values()
        ):
            diagnostics = [diagnostics]  # the records of one run
        runs = _named(diagnostics, labels, lambda obj, i: str(i), "runs")
        display = cls(runs, columns, x=x, x_label=x_label, y_labels=y_labels, title=title)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, columns, *, labels=None, steps_per_epoch=None,
                       x_label=None, y_labels=None, title=None, ax=None, **kwargs):
        """Plot the ``diagnostics_`` of fitted estimators, one line per estimator.

        Parameters
        ----------
        estimator : fitted estimator, list of them, or dict of str to them
            Networks fitted with ``record_every`` (and ``diagnostics_X`` for the ``X_``
            columns).
        columns : str or list of str
            Columns of ``diagnostics_`` (``"activation_change_0"``,
            ``"X_relative_distance_0"``, ...) or of ``history_`` (per-epoch records such as
            ``"loss"`` or what an engine callback recorded with ``History.record``; read
            at the recorded epochs, ``nan`` at epoch 0).
        labels : list of str, default=None
            Curve labels; ``None`` labels by width (``"m=..."``).
        steps_per_epoch : int, default=None
            With it the x axis counts SGD steps, ``epoch * steps_per_epoch`` (capped at
            the estimator's ``max_steps``), instead of epochs.
        x_label : str, default=None
            Label of the x axes; ``None`` is ``"epoch"`` or ``"SGD steps"``.
        y_labels : dict of str to str, default=None
            Label of the y axis of each column.
        title : str, default=None
            Title of the first axes.
        ax : matplotlib Axes or sequence of Axes, default=None
            One axes per column; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : DiagnosticsDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam import TwoLayerReLUClassifier
        >>> from sklearn_overparam.datasets import make_xor_balls
        >>> from sklearn_overparam.plotting import DiagnosticsDisplay
        >>> X, y = make_xor_balls(200, random_state=0)
        >>> nets = [TwoLayerReLUClassifier(n_hidden=m, max_iter=4, tol=None, record_every=2,
        ...                                random_state=0).fit(X, y) for m in (32, 64)]
        >>> disp = DiagnosticsDisplay.from_estimator(nets, "activation_change_0")
        >>> list(disp.lines_["activation_change_0"])
        ['m=32', 'm=64']
        >>> disp.lines_["activation_change_0"]["m=32"].get_xdata().tolist()
        [0.0, 2.0, 4.0]
        """
        columns = [columns] if isinstance(columns, str) else list(columns)
        estimators = _named(estimator, labels, _width_label, "estimators")
        runs = {}
        for name, est in estimators.items():
            diag = _check_fitted_diagnostics(est, name)
            history = getattr(est, "history_", None) or {}
            epochs = np.asarray(diag["epoch"], dtype=np.float64)
            run = {"epoch": epochs}
            for column in columns:
                if column in diag:
                    run[column] = np.asarray(diag[column], dtype=np.float64)
                elif column in history:
                    per_epoch = np.asarray(history[column], dtype=np.float64)
                    values = np.full(epochs.shape, np.nan)
                    idx = epochs.astype(int) - 1  # history_[c][e - 1] is epoch e's record
                    ok = (idx >= 0) & (idx < per_epoch.shape[0])
                    values[ok] = per_epoch[idx[ok]]
                    run[column] = values
                else:
                    raise ValueError(
                        f"{name!r} has no column {column!r} in diagnostics_ "
                        f"({sorted(diag)}) or history_ ({sorted(history)})."
                    )
            if steps_per_epoch is not None:
                steps = epochs * int(steps_per_epoch)
                max_steps = est.get_params().get("max_steps")
                if max_steps is not None:
                    steps = np.minimum(steps, max_steps)
                run["step"] = steps
            runs[name] = run
        x = "epoch" if steps_per_epoch is None else "step"
        if x_label is None:
            x_label = "epoch" if steps_per_epoch is None else "SGD steps"
        display = cls(runs, columns, x=x, x_label=x_label, y_labels=y_labels, title=title)
        return display.plot(ax=ax, **kwargs)

    def _axes(self, ax, plt):
        n = len(self.columns)
        if ax is None:
            _, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False,
                                   constrained_layout=True)
            return list(axes[0])
        if hasattr(ax, "plot"):  # one Axes
            axes = [ax]
        else:
            axes = list(np.asarray(ax, dtype=object).ravel())
        if len(axes) != n:
            raise ValueError(f"`ax` must hold one Axes per column ({n}: {self.columns}); got "
                             f"{len(axes)}.")
        return axes

    def plot(self, ax=None, *, xscale="linear", yscale="linear", legend=True,
             curve_kwargs=None, **kwargs):
        """Draw every column on its axes, one line per run.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One axes per column; ``None`` creates a figure with a row of them.
        xscale : str, default="linear"
            Scale of the x axes (``"symlog"`` shows the first steps and the long run, with
            a linear range ``[0, 1]``).
        yscale : str or dict of str to str, default="linear"
            Scale of the y axes, or one per column (columns missing are linear).
        legend : bool or dict, default=True
            Whether to draw a legend of the runs on the first axes; a dict is passed to
            ``Axes.legend``.
        curve_kwargs : dict of str to dict, default=None
            Per-run keyword arguments of ``Axes.plot``, keyed by run name; they override
            ``kwargs``.
        **kwargs : dict
            Keyword arguments of ``Axes.plot`` for every line.

        Returns
        -------
        display : DiagnosticsDisplay
            The display, with ``axes_``, ``ax_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        axes = self._axes(ax, plt)
        curve_kwargs = curve_kwargs or {}
        unknown = sorted(set(curve_kwargs) - set(self.diagnostics))
        if unknown:
            raise ValueError(f"`curve_kwargs` names {unknown}, which are not runs; the runs "
                             f"are {list(self.diagnostics)}.")
        yscales = (dict(yscale) if isinstance(yscale, Mapping)
                   else dict.fromkeys(self.columns, yscale))
        self.lines_ = {}
        for col_ax, column in zip(axes, self.columns):
            self.lines_[column] = {}
            for i, (name, run) in enumerate(self.diagnostics.items()):
                style = {"marker": MARKERS[i % len(MARKERS)], "markersize": 4,
                         "label": name, **kwargs, **curve_kwargs.get(name, {})}
                (self.lines_[column][name],) = col_ax.plot(run[self.x], run[column], **style)
            if xscale == "symlog":
                col_ax.set_xscale("symlog", linthresh=1.0)
            else:
                col_ax.set_xscale(xscale)
            col_ax.set_yscale(yscales.get(column, "linear"))
            col_ax.set_xlabel(self.x_label)
            col_ax.set_ylabel(self.y_labels[column])
        if self.title:
            axes[0].set_title(self.title)
        if legend:
            axes[0].legend(**{"fontsize": "small",
                              **(legend if isinstance(legend, dict) else {})})
        self.axes_ = np.empty(len(axes), dtype=object)
        self.axes_[:] = axes
        self.ax_ = axes[0] if len(axes) == 1 else self.axes_
        self.figure_ = axes[0].figure
        return self

    def final_values(self):
        """The last finite value of every column of every run.

        Returns
        -------
        values : dict of str to dict of str to float
            ``values[run][column]`` (``nan`` when a column has no finite value).
        """
        out = {}
        for name, run in self.diagnostics.items():
            out[name] = {}
            for column in self.columns:
                finite = run[column][np.isfinite(run[column])]
                out[name][column] = float(finite[-1]) if finite.size else math.nan
        return out

    def format_table(self, *, digits=4, label="run"):
        """The final values as a text table: one row per run, one column per diagnostic.

        Parameters
        ----------
        digits : int, default=4
            Decimals printed.
        label : str, default="run"
            Header of the name column.

        Returns
        -------
        table : str
            The table, one line per run after a header line.
        """
        values = self.final_values()
        width = max(len(label), *(len(name) for name in values))
        col = max(digits + 6, *(len(c) for c in self.columns))
        lines = [f"{label:<{width}s} " + " ".join(f"{c:>{col}s}" for c in self.columns)]
        for name, row in values.items():
            lines.append(f"{name:<{width}s} " + " ".join(
                f"{row[c]:{col}.{digits}f}" for c in self.columns))
        return "\n".join(lines)


# --------------------------------------------------------------- SpectrumDisplay
class SpectrumDisplay(_CurvesDisplay):
    """Top singular values of the accumulated update ``W_T - W_0`` and of ``W_T``.

    [LL] Figures 1(d) and 2(d): the update learned by SGD is close to low rank (on the
    synthetic mixture, "the top 20 singular values of the accumulated updates are much
    larger than the rest", ``k l = 20`` components), "while the spectrum of the weight matrix
    do[es] not have such structure". One solid line per estimator for the update, a dotted
    one in the same colour for the weights; log-scale y axis.

    Parameters
    ----------
    x : array-like of shape (n_values,)
        The indices ``i = 1, 2, ...``.
    curves : dict of str to array-like of shape (n_values,)
        Singular values ``s_i`` of each curve.
    x_label : str, default="index i"
        Label of the x axis.
    y_label : str, default="singular value s_i"
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
    DiagnosticsDisplay : Panels (a)-(c), the diagnostics along training.
    sklearn_overparam.diagnostics.singular_value_gap : ``s_i / s_{i+1}``.

    References
    ----------
    Y. Li, Y. Liang. Learning Overparameterized Neural Networks via Stochastic Gradient
    Descent on Structured Data. NeurIPS 2018. Section 7, Figures 1(d) and 2(d).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_overparam.plotting import SpectrumDisplay
    >>> disp = SpectrumDisplay([1, 2, 3], {"W_T - W_0": [5.0, 4.0, 0.1],
    ...                                    "W_T": [1.1, 1.0, 1.0]}).plot()
    >>> disp.ax_.get_yscale(), disp.gap("W_T - W_0", 2)
    ('log', 40.0)
    """

    _default_xscale = "linear"
    _default_yscale = "log"

    def __init__(self, x, curves, *, x_label="index i", y_label="singular value s_i",
                 title=None):
        super().__init__(x, curves, x_label=x_label, y_label=y_label, title=title)

    def gap(self, name, index):
        """``s_index / s_{index+1}`` (1-based) of a curve: the gap after ``index`` values.

        Parameters
        ----------
        name : str
            The curve.
        index : int
            ``i`` in ``s_i / s_{i+1}``, in ``[1, n_values - 1]``.

        Returns
        -------
        gap : float
            The ratio (``inf`` when ``s_{i+1} = 0 < s_i``).
        """
        s = self.curves[name]
        if not 1 <= index <= len(s) - 1:
            raise ValueError(f"`index` must be in [1, {len(s) - 1}]; got {index!r}.")
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(s[index - 1] / s[index])

    @classmethod
    def from_estimator(cls, estimator, *, layer=0, n_values=40, labels=None, weights=True,
                       x_label="index i", y_label="singular value s_i", title=None, ax=None,
                       **kwargs):
        """Spectra of ``W_T - W_0`` (and ``W_T``) of fitted networks' weight matrix.

        Parameters
        ----------
        estimator : fitted estimator, list of them, or dict of str to them
            Fitted networks (``coefs_`` and ``initial_coefs_``).
        layer : int, default=0
            Which weight matrix (``coefs_[layer]``, rows are neurons).
        n_values : int, default=40
            How many of the largest singular values (at most the smallest matrix
            dimension of all estimators).
        labels : list of str, default=None
            Labels of the estimators; ``None`` labels by width (``"m=..."``).
        weights : bool, default=True
            Also draw the spectrum of ``W_T`` (dotted).
        x_label : str, default="index i"
            Label of the x axis.
        y_label : str, default="singular value s_i"
            Label of the y axis.
        title : str, default=None
            Title of the axes.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        **kwargs : dict
            Keyword arguments of :meth:`plot`.

        Returns
        -------
        display : SpectrumDisplay
            The plotted display; curves ``"W_T - W_0, <label>"`` and ``"W_T, <label>"``.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_overparam import TwoLayerReLUClassifier
        >>> from sklearn_overparam.datasets import make_structured_mixture
        >>> from sklearn_overparam.plotting import SpectrumDisplay
        >>> X, y = make_structured_mixture(200, n_features=50, random_state=0)
        >>> clf = TwoLayerReLUClassifier(n_hidden=100, max_steps=50, tol=None,
        ...                              random_state=0).fit(X, y)
        >>> disp = SpectrumDisplay.from_estimator(clf, n_values=30)
        >>> list(disp.curves), disp.x.size
        (['W_T - W_0, m=100', 'W_T, m=100'], 30)
        """
        estimators = _named(estimator, labels, _width_label, "estimators")
        mats = {name: (np.asarray(est.coefs_[layer]), np.asarray(est.initial_coefs_[layer]))
                for name, est in estimators.items()}
        k = min(int(n_values), *(min(W.shape) for W, _ in mats.values()))
        curves, styles = {}, {}
        for i, (name, (W, W0)) in enumerate(mats.items()):
            color = f"C{i % 10}"
            curves[f"W_T - W_0, {name}"] = top_singular_values(W, k, W0=W0)
            styles[f"W_T - W_0, {name}"] = {"color": color, "linestyle": "-"}
            if weights:
                curves[f"W_T, {name}"] = top_singular_values(W, k)
                styles[f"W_T, {name}"] = {"color": color, "linestyle": ":"}
        display = cls(np.arange(1, k + 1), curves, x_label=x_label, y_label=y_label,
                      title=title)
        user = kwargs.pop("curve_kwargs", None) or {}
        merged = {name: {**styles[name], **user.get(name, {})} for name in curves}
        merged.update({n: v for n, v in user.items() if n not in merged})
        kwargs = {"marker": ".", "markersize": 4, **kwargs}
        return display.plot(ax=ax, curve_kwargs=merged, **kwargs)


# --------------------------------------------------------------- MinWidthDisplay
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
