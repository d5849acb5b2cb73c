"""The [AZLL] figure displays: lines per curve, log axes, ax reuse, lazy matplotlib."""

import doctest
import subprocess
import sys

import matplotlib
import numpy as np
import numpydoc.validate as numpydoc_validate  # a test dependency
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_overparam import (  # noqa: E402
    ConjugateKernelRegressor,
    NTKRegressor,
    ThreeLayerReLURegressor,
)
from sklearn_overparam.datasets import make_composite_sine  # noqa: E402
from sklearn_overparam.model_selection import fit_grid  # noqa: E402
from sklearn_overparam.plotting import (  # noqa: E402
    NormRatioDisplay,
    ScalingDisplay,
    azll_methods,
    azll_scaling_panels,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, y = make_composite_sine(200, random_state=0)
    Xt, yt = make_composite_sine(200, random_state=1)
    return X, y, Xt, yt


CURVES = {"3layer": [0.43, 0.30, 0.19], "3layer(last)": [25.6, 21.8, 14.5],
          "3layer(NTK)": [10.7, 9.9, 9.4]}


def test_one_line_per_curve_on_log_axes():
    disp = ScalingDisplay([50, 100, 200], CURVES, x_label="m", title="(a)").plot()
    assert list(disp.lines_) == list(CURVES)
    assert disp.ax_.get_xscale() == "log" and disp.ax_.get_yscale() == "log"
    assert disp.figure_ is disp.ax_.figure
    assert len(disp.ax_.get_lines()) == len(CURVES)
    for name, line in disp.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), [50, 100, 200])
        np.testing.assert_array_equal(line.get_ydata(), CURVES[name])
        assert line.get_label() == name
    # distinct markers, the method names in the legend
    assert len({line.get_marker() for line in disp.lines_.values()}) == len(CURVES)
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == list(CURVES)
    assert disp.ax_.get_xlabel() == "m" and disp.ax_.get_title() == "(a)"


def test_passed_ax_is_reused_and_styles_apply():
    fig, (left, right) = plt.subplots(1, 2)
    disp = ScalingDisplay([1, 2, 3], CURVES).plot(
        ax=right, curve_kwargs={"3layer(NTK)": {"linestyle": "--"}}, linewidth=3)
    assert disp.ax_ is right and disp.figure_ is fig
    assert not left.get_lines() and len(right.get_lines()) == 3
    assert disp.lines_["3layer(NTK)"].get_linestyle() == "--"
    assert disp.lines_["3layer"].get_linestyle() == "-"
    assert all(line.get_linewidth() == 3 for line in disp.lines_.values())
    # plotting again on the same axes adds lines there, no new figure
    n_figures = len(plt.get_fignums())
    again = disp.plot(ax=right, xscale="linear")
    assert again is disp and len(plt.get_fignums()) == n_figures
    assert right.get_xscale() == "linear"


def test_invalid_curves_raise():
    with pytest.raises(ValueError, match="one value per x"):
        ScalingDisplay([1, 2], {"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="at least one"):
        ScalingDisplay([1, 2], {})
    with pytest.raises(ValueError, match="not curves"):
        ScalingDisplay([1, 2], {"a": [1, 2]}).plot(curve_kwargs={"b": {}})


def test_from_results_aligns_mappings_and_sequences():
    disp = ScalingDisplay.from_results({"3layer": {250: 3.4, 1000: 0.45},
                                        "3layer(NTK)": {250: 19.5, 500: 13.9}}, x_label="N")
    np.testing.assert_array_equal(disp.x, [250, 500, 1000])
    np.testing.assert_array_equal(disp.curves["3layer"], [3.4, np.nan, 0.45])
    assert disp.ax_.get_xlabel() == "N" and set(disp.lines_) == {"3layer", "3layer(NTK)"}
    seq = ScalingDisplay.from_results({"a": [1, 2]}, x=[10, 20])
    np.testing.assert_array_equal(seq.curves["a"], [1, 2])
    with pytest.raises(ValueError, match="`x` is needed"):
        ScalingDisplay.from_results({"a": [1, 2]})


def test_format_table_rows_and_scaling():
    disp = ScalingDisplay([50, 100], {"3layer": [0.5, 0.25], "3layer(last)": [20.0, 10.0]})
    lines = disp.format_table(scale=2.0).splitlines()
    assert lines[0].split() == ["m", "50", "100"]
    assert lines[1].split() == ["3layer", "0.250", "0.125"]
    assert lines[2].split() == ["3layer(last)", "10.000", "5.000"]


def test_from_estimators_fits_the_grid_best_and_scores_on_test(data):
    X, y, Xt, yt = data
    methods = {"3layer": ThreeLayerReLURegressor(max_iter=4, tol=None, random_state=0),
               "3layer(last)": ConjugateKernelRegressor(depth=3, random_state=0)}

    def lr_grid(est, n):
        return {"learning_rate_init": [0.5 / est.n_hidden, 2 / est.n_hidden]}

    disp = ScalingDisplay.from_estimators(methods, "n_hidden", [20, 40], X, y, Xt, yt,
                                          grid={"3layer": lr_grid})
    assert set(disp.lines_) == set(methods) and disp.ax_.get_xlabel() == "m"
    for k, m in enumerate((20, 40)):
        # the curve is the best of the stacked grid, scored on the test data
        ref = fit_grid(ThreeLayerReLURegressor(n_hidden=m, max_iter=4, tol=None,
                                               random_state=0),
                       lr_grid(ThreeLayerReLURegressor(n_hidden=m), len(X)), X, y, Xt, yt)
        assert disp.curves["3layer"][k] == pytest.approx(ref.val_mse.min(), rel=1e-6)
        best = disp.best_estimators_["3layer"][k]
        assert best.n_hidden == m and disp.best_params_["3layer"][k] == ref.best_params
        # without a grid: one plain fit with the template's own parameters
        ck = ConjugateKernelRegressor(n_hidden=m, depth=3, random_state=0).fit(X, y)
        assert disp.curves["3layer(last)"][k] == pytest.approx(
            np.mean((ck.predict(Xt) - yt) ** 2), rel=1e-9)
        assert disp.best_params_["3layer(last)"][k] == {}
    assert all(t > 0 for times in disp.fit_times_.values() for t in times)


def test_from_estimators_sweeps_n_samples_on_leading_rows(data):
    X, y, Xt, yt = data
    seen = []

    def ridge_grid(est, n):
        seen.append(n)
        return {"alpha": [2 * 1e-2 / n]}

    disp = ScalingDisplay.from_estimators(
        {"ck": ConjugateKernelRegressor(n_hidden=30, random_state=0)}, "n_samples",
        [50, 200], X, y, Xt, yt, grid={"ck": ridge_grid}, plot=False)
    assert seen == [50, 200] and disp.x_label == "N"
    assert not hasattr(disp, "ax_")  # plot=False draws nothing
    ref = ConjugateKernelRegressor(n_hidden=30, alpha=2 * 1e-2 / 50,
                                   random_state=0).fit(X[:50], y[:50])
    assert disp.curves["ck"][0] == pytest.approx(np.mean((ref.predict(Xt) - yt) ** 2))
    with pytest.raises(ValueError, match="integers in"):
        ScalingDisplay.from_estimators({"ck": ConjugateKernelRegressor()}, "n_samples",
                                       [500], X, y, Xt, yt)
    with pytest.raises(ValueError, match="has no parameter"):
        ScalingDisplay.from_estimators({"ck": ConjugateKernelRegressor()}, "lambda_w",
                                       [1.0], X, y, Xt, yt)
    with pytest.raises(ValueError, match="not methods"):
        ScalingDisplay.from_estimators({"ck": ConjugateKernelRegressor()}, "n_hidden",
                                       [10], X, y, Xt, yt, grid={"other": None})


def test_norm_ratio_display_from_fitted_networks(data):
    X, y, _, _ = data
    nets = [ThreeLayerReLURegressor(n_hidden=m, input_padding=None, max_iter=3, tol=None,
                                    random_state=0).fit(X, y) for m in (20, 40)]
    disp = NormRatioDisplay.from_estimators({"wd": nets}, [20, 40], initialization="init")
    assert list(disp.lines_) == ["wd", "init"]
    assert disp.ax_.get_xscale() == "log" and disp.ax_.get_yscale() == "linear"
    W, W0 = nets[1].coefs_[0], nets[1].initial_coefs_[0]
    m = W.shape[0]
    rows = np.sum(W**2, axis=1)
    assert disp.curves["wd"][1] == pytest.approx(m * np.sum(rows**2) / np.sum(rows) ** 2)
    rows0 = np.sum(W0**2, axis=1)
    assert disp.curves["init"][1] == pytest.approx(m * np.sum(rows0**2) / np.sum(rows0) ** 2)
    inc = NormRatioDisplay.from_estimators({"wd": nets}, [20, 40], increment=True)
    D = W - W0
    rowsD = np.sum(D**2, axis=1)
    assert inc.curves["wd"][1] == pytest.approx(m * np.sum(rowsD**2) / np.sum(rowsD) ** 2)


def test_azll_methods_grids_scale_with_width_and_samples():
    estimators, grid = azll_methods()
    assert list(estimators) == ["3layer", "2layer", "3layer(last)", "2layer(last)",
                                "3layer(NTK)", "2layer(NTK)", "3layer(NTK, m=inf)"]
    m, n = 100, 500
    three = grid["3layer"](estimators["3layer"].set_params(n_hidden=m), n)
    np.testing.assert_allclose(three["learning_rate_init"], [0.5 / m, 1 / m, 2 / m])
    assert three["alpha"] == [0.0, 1e-4]
    two = grid["2layer"](estimators["2layer"].set_params(n_hidden=m), n)
    np.testing.assert_allclose(two["learning_rate_init"], [5 / m, 10 / m, 20 / m])
    ridges = 10.0 ** np.arange(-6, 3)
    # alpha = 2 ridge / n for the conjugate kernel, ridge m 10^k for the NTKs
    ck = grid["3layer(last)"](estimators["3layer(last)"].set_params(n_hidden=m), n)
    np.testing.assert_allclose(ck["alpha"], 2 * ridges / n)
    ntk = grid["3layer(NTK)"](estimators["3layer(NTK)"].set_params(n_hidden=m), n)
    np.testing.assert_allclose(ntk["alpha"], 2 * m * ridges / n)
    inf = estimators["3layer(NTK, m=inf)"]
    assert isinstance(inf, NTKRegressor) and inf.kernel == "analytic" and inf.depth == 3
    assert estimators["3layer"].max_iter == 200 and estimators["2layer"].max_iter == 800
    auto, auto_grid = azll_methods(methods=["2layer(NTK)"], ridges=None)
    assert auto["2layer(NTK)"].alpha == "auto" and auto_grid == {}
    with pytest.raises(ValueError, match="choose from"):
        azll_methods(methods=["4layer"])


def test_azll_scaling_panels_draws_both_panels(data):
    X, y, Xt, yt = data
    fig, axes = plt.subplots(1, 2)
    a, b = azll_scaling_panels(X, y, Xt, yt, widths=[10, 20], sizes=[100, 200],
                               n_samples=150, n_hidden=10, axes=axes, max_iter_3layer=2,
                               max_iter_2layer=2,
                               methods=["3layer", "2layer", "3layer(NTK)"])
    assert a.ax_ is axes[0] and b.ax_ is axes[1]
    assert a.x.tolist() == [10, 20] and b.x.tolist() == [100, 200]
    assert a.lines_["3layer"].get_linestyle() == "-"
    assert a.lines_["3layer(NTK)"].get_linestyle() == "--"
    assert all(est.n_hidden == 10 for est in b.best_estimators_["2layer"])
    assert [len(est.predict(X[:3])) for est in a.best_estimators_["3layer"]] == [3, 3]
    with pytest.raises(ValueError, match="rows"):
        azll_scaling_panels(X, y, Xt, yt, widths=[10], sizes=[1000])


def test_importing_plotting_does_not_import_matplotlib():
    code = ("import sys; import sklearn_overparam.plotting as p; "
            "from sklearn_overparam.plotting import ScalingDisplay; "
            "d = ScalingDisplay([1, 2], {'a': [1, 2]}); d.format_table(); "
            "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules "
            "if m.startswith('matplotlib'))[:5]; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("obj", [ScalingDisplay, ScalingDisplay.from_results,
                                 ScalingDisplay.from_estimators, NormRatioDisplay,
                                 NormRatioDisplay.from_estimators, azll_methods,
                                 azll_scaling_panels])
def test_docstring_examples_run_in_a_fresh_namespace(obj):
    """The Examples sections pass with only their own imports (globs={})."""
    tests = [t for t in doctest.DocTestFinder().find(obj, globs={}) if t.examples]
    assert tests, f"{obj.__qualname__} has no Examples section"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("name", [
    "sklearn_overparam.plotting.ScalingDisplay",
    "sklearn_overparam.plotting.ScalingDisplay.plot",
    "sklearn_overparam.plotting.ScalingDisplay.from_results",
    "sklearn_overparam.plotting.ScalingDisplay.from_estimators",
    "sklearn_overparam.plotting.ScalingDisplay.format_table",
    "sklearn_overparam.plotting.NormRatioDisplay",
    "sklearn_overparam.plotting.NormRatioDisplay.from_estimators",
    "sklearn_overparam.plotting.azll_methods",
    "sklearn_overparam.plotting.azll_scaling_panels",
])
def test_docstrings_are_valid_numpydoc(name):
    codes = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "GL03", "GL06",
             "GL07", "RT01", "SA04"}
    errors = [f"{c}: {m}" for c, m in numpydoc_validate.validate(name)["errors"]
              if c in codes]
    assert not errors, "\n".join(errors)
