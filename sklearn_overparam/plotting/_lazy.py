"""Displays of the lazy-training figures of [LL] Sec. 7 and [CCZG] App. D: the shared
helpers and :class:`DiagnosticsDisplay`.

- :class:`DiagnosticsDisplay`: diagnostics along training (test accuracy, activation-pattern
  change, relative distance from init; [LL] Figures 1-2 (a)-(c)), one line per run.
- :class:`~sklearn_overparam.plotting.SpectrumDisplay` (``_spectrum.py``): top singular
  values of ``W_T - W_0`` against those of ``W_T`` ([LL] Figures 1-2 (d)).
- :class:`~sklearn_overparam.plotting.MinWidthDisplay` and
  :class:`~sklearn_overparam.plotting.WidthScalingDisplay` (``_width.py``): the minimum
  width for zero training error against ``n`` ([CCZG] App. D, Figure 1), and a diagnostic
  at the end of training against the width, with fitted power laws.

matplotlib is imported inside ``plot`` only: importing this module does not need it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._displays import MARKERS, _pyplot

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
