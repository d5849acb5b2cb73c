"""The singular-value spectra of weights and their updates ([LL] Figure 1), as a display."""

from __future__ import annotations

import numpy as np

from ..diagnostics import top_singular_values
from ._displays import _CurvesDisplay
from ._lazy import (
    _named,
    _width_label,
)


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
