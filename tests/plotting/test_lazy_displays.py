"""The lazy-training displays ([LL] Sec. 7, [CCZG] App. D): lines, axes reuse, values."""

import doctest
import math
import subprocess
import sys

import matplotlib
import numpy as np
import numpydoc.validate as numpydoc_validate  # a test dependency
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_overparam import (  # noqa: E402
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
)
from sklearn_overparam.datasets import (  # noqa: E402
    make_composite_sine,
    make_structured_mixture,
    make_xor_balls,
)
from sklearn_overparam.diagnostics import (  # noqa: E402
    activation_pattern_change,
    relative_distance_from_init,
    top_singular_values,
)
from sklearn_overparam.plotting import (  # noqa: E402
    DiagnosticsDisplay,
    MinWidthDisplay,
    SpectrumDisplay,
    WidthScalingDisplay,
    final_diagnostics,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def xor():
    return make_xor_balls(200, random_state=0)


@pytest.fixture(scope="module")
def recorded(xor):
    """Two [LL] classifiers fitted with record_every=2 (epochs 0, 2, 4, 6 and 7)."""
    X, y = xor
    return [TwoLayerReLUClassifier(n_hidden=m, max_iter=7, tol=None, record_every=2,
                                   diagnostics_X=X[:50], random_state=0).fit(X, y)
            for m in (32, 64)]


RUNS = {"m=500": {"step": [0, 10, 400], "change": [0.0, 0.05, 0.06],
                  "distance": [0.0, 0.03, 0.04]},
        "m=2000": {"step": [0, 10, 200, 400], "change": [0.0, 0.02, 0.02, 0.025],
                   "distance": [0.0, 0.01, 0.015, 0.016]}}


# ------------------------------------------------------------ DiagnosticsDisplay
def test_diagnostics_display_one_axes_per_column_one_line_per_run():
    disp = DiagnosticsDisplay(RUNS, ["change", "distance"], x="step",
                              y_labels={"change": "(b) change"}, title="mixture").plot()
    assert len(disp.axes_) == 2 and disp.ax_ is disp.axes_
    assert disp.figure_ is disp.axes_[0].figure
    for ax, column in zip(disp.axes_, ("change", "distance")):
        assert len(ax.get_lines()) == len(RUNS)
        assert list(disp.lines_[column]) == list(RUNS)
        for name, line in disp.lines_[column].items():
            np.testing.assert_array_equal(line.get_xdata(), RUNS[name]["step"])
            np.testing.assert_array_equal(line.get_ydata(), RUNS[name][column])
            assert line.get_label() == name
            assert line.axes is ax
    assert disp.axes_[0].get_ylabel() == "(b) change"
    assert disp.axes_[1].get_ylabel() == "distance"  # unlabelled columns: their name
    assert disp.axes_[0].get_xlabel() == "step" and disp.axes_[0].get_title() == "mixture"
    # the legend (first axes only) names the runs
    assert [t.get_text() for t in disp.axes_[0].get_legend().get_texts()] == list(RUNS)
    assert disp.axes_[1].get_legend() is None


def test_diagnostics_display_reuses_passed_axes():
    fig, (left, mid, right) = plt.subplots(1, 3)
    disp = DiagnosticsDisplay(RUNS, "change", x="step").plot(
        ax=mid, xscale="symlog", curve_kwargs={"m=500": {"linestyle": "--"}}, linewidth=3)
    assert disp.ax_ is mid and disp.figure_ is fig and list(disp.axes_) == [mid]
    assert not left.get_lines() and not right.get_lines() and len(mid.get_lines()) == 2
    assert mid.get_xscale() == "symlog"
    assert disp.lines_["change"]["m=500"].get_linestyle() == "--"
    assert all(line.get_linewidth() == 3 for line in disp.lines_["change"].values())
    # several columns on given axes (e.g. a row of a larger figure), per-column y scales
    n_figures = len(plt.get_fignums())
    two = DiagnosticsDisplay(RUNS, ["change", "distance"], x="step").plot(
        ax=[left, right], yscale={"distance": "log"})
    assert list(two.axes_) == [left, right] and len(plt.get_fignums()) == n_figures
    assert left.get_yscale() == "linear" and right.get_yscale() == "log"
    with pytest.raises(ValueError, match="one Axes per column"):
        DiagnosticsDisplay(RUNS, ["change", "distance"], x="step").plot(ax=mid)


def test_diagnostics_display_rejects_bad_records():
    with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
        DiagnosticsDisplay(RUNS, "nope", x="step")
    with pytest.raises(ValueError, match="one value per record"):
        DiagnosticsDisplay({"a": {"epoch": [0, 1], "c": [1.0]}}, "c")
    with pytest.raises(ValueError, match="at least one"):
        DiagnosticsDisplay(RUNS, [], x="step")
    with pytest.raises(ValueError, match="not runs"):
        DiagnosticsDisplay(RUNS, "change", x="step").plot(curve_kwargs={"m=1": {}})


def test_diagnostics_display_final_values_and_table():
    disp = DiagnosticsDisplay(
        {"a": {"epoch": [0, 1, 2], "c": [0.0, 0.5, np.nan]}}, ["c"])
    assert disp.final_values() == {"a": {"c": 0.5}}  # the last finite value
    lines = disp.format_table(digits=2).splitlines()
    assert lines[0].split() == ["run", "c"] and lines[1].split() == ["a", "0.50"]


def test_from_diagnostics_accepts_one_record_a_list_or_a_dict():
    one = DiagnosticsDisplay.from_diagnostics(RUNS["m=500"], "change", x="step",
                                              labels=["m=500"])
    assert list(one.lines_["change"]) == ["m=500"]
    listed = DiagnosticsDisplay.from_diagnostics(list(RUNS.values()), "change", x="step")
    assert list(listed.lines_["change"]) == ["0", "1"]
    keyed = DiagnosticsDisplay.from_diagnostics(RUNS, "change", x="step")
    assert list(keyed.lines_["change"]) == list(RUNS)
    with pytest.raises(ValueError, match="one label per entry"):
        DiagnosticsDisplay.from_diagnostics(list(RUNS.values()), "change", x="step",
                                            labels=["a"])


def test_from_estimator_plots_the_fitted_diagnostics(recorded):
    disp = DiagnosticsDisplay.from_estimator(
        recorded, ["activation_change_0", "X_relative_distance_0"])
    assert list(disp.lines_["activation_change_0"]) == ["m=32", "m=64"]
    for est, name in zip(recorded, ("m=32", "m=64")):
        d = est.diagnostics_
        np.testing.assert_array_equal(d["epoch"], [0, 2, 4, 6])
        line = disp.lines_["X_relative_distance_0"][name]
        np.testing.assert_array_equal(line.get_xdata(), d["epoch"])
        np.testing.assert_array_equal(line.get_ydata(), d["X_relative_distance_0"])
    assert disp.axes_[0].get_xlabel() == "epoch"


def test_from_estimator_steps_and_history_columns(xor):
    X, y = xor
    seen = []

    def record_epoch(info):  # a plain epoch callback adding a per-epoch record
        seen.append(info.epoch)
        info.history.record("epoch_plus_one", np.full(1, info.epoch + 1.0))

    # 200 samples in batches of 16: 13 steps per epoch; 30 steps end inside epoch 3
    est = TwoLayerReLUClassifier(n_hidden=16, max_iter=100, max_steps=30, tol=None,
                                 record_every=1, callbacks=[record_epoch],
                                 random_state=0).fit(X, y)
    disp = DiagnosticsDisplay.from_estimator({"net": est}, ["loss", "epoch_plus_one"],
                                             steps_per_epoch=13)
    np.testing.assert_array_equal(est.diagnostics_["epoch"], [0, 1, 2, 3])
    line = disp.lines_["epoch_plus_one"]["net"]
    np.testing.assert_array_equal(line.get_xdata(), [0, 13, 26, 30])  # capped at max_steps
    np.testing.assert_array_equal(line.get_ydata(), [np.nan, 1.0, 2.0, 3.0])
    loss = disp.lines_["loss"]["net"].get_ydata()
    assert math.isnan(loss[0])  # no loss before the first epoch
    np.testing.assert_allclose(loss[1:], est.loss_curve_)
    assert disp.axes_[0].get_xlabel() == "SGD steps" and seen == [0, 1, 2]


def test_from_estimator_needs_recorded_diagnostics(xor, recorded):
    X, y = xor
    plain = TwoLayerReLUClassifier(n_hidden=8, max_iter=2, tol=None, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="record_every"):
        DiagnosticsDisplay.from_estimator(plain, "activation_change_0")
    with pytest.raises(ValueError, match="no column 'nope'"):
        DiagnosticsDisplay.from_estimator(recorded, "nope")
    with pytest.raises(ValueError, match="distinct `labels`"):
        DiagnosticsDisplay.from_estimator(recorded, "activation_change_0", labels=["a", "a"])


# --------------------------------------------------------------- SpectrumDisplay
def test_spectrum_display_update_and_weights_of_each_estimator(recorded):
    disp = SpectrumDisplay.from_estimator(recorded, n_values=3)  # min(m, d=3) = 3
    names = ["W_T - W_0, m=32", "W_T, m=32", "W_T - W_0, m=64", "W_T, m=64"]
    assert list(disp.curves) == names and list(disp.lines_) == names
    assert len(disp.ax_.get_lines()) == 4
    assert disp.ax_.get_yscale() == "log" and disp.ax_.get_xscale() == "linear"
    np.testing.assert_array_equal(disp.x, [1, 2, 3])
    est = recorded[0]
    np.testing.assert_allclose(disp.curves["W_T - W_0, m=32"], top_singular_values(
        est.coefs_[0], 3, W0=est.initial_coefs_[0]))
    np.testing.assert_allclose(disp.curves["W_T, m=32"], top_singular_values(est.coefs_[0], 3))
    # one colour per estimator: the update solid, the weights dotted
    lines = disp.lines_
    assert lines["W_T - W_0, m=32"].get_color() == lines["W_T, m=32"].get_color()
    assert lines["W_T - W_0, m=32"].get_color() != lines["W_T - W_0, m=64"].get_color()
    assert lines["W_T - W_0, m=32"].get_linestyle() == "-"
    assert lines["W_T, m=32"].get_linestyle() == ":"
    s = disp.curves["W_T - W_0, m=64"]
    assert disp.gap("W_T - W_0, m=64", 1) == pytest.approx(s[0] / s[1])
    with pytest.raises(ValueError, match="index"):
        disp.gap("W_T, m=64", 3)


def test_spectrum_display_reuses_ax_and_can_omit_weights(recorded):
    fig, (left, right) = plt.subplots(1, 2)
    disp = SpectrumDisplay.from_estimator(recorded[1], n_values=2, weights=False, ax=right)
    assert disp.ax_ is right and disp.figure_ is fig and not left.get_lines()
    assert list(disp.curves) == ["W_T - W_0, m=64"] and len(right.get_lines()) == 1


# --------------------------------------------------------------- MinWidthDisplay
def test_min_width_display_marks_missing_points_at_their_cap():
    disp = MinWidthDisplay([100, 400, 1600], {"clusters": [8, 8, 16],
                                              "random": [8, 24, None]},
                           caps={"random": 96}).plot()
    assert list(disp.lines_) == ["clusters", "random"]
    np.testing.assert_array_equal(disp.lines_["random"].get_ydata(), [8, 24, np.nan])
    marker = disp.not_found_lines_["random"]
    np.testing.assert_array_equal(marker.get_xdata(), [1600])
    np.testing.assert_array_equal(marker.get_ydata(), [96])
    assert marker.get_color() == disp.lines_["random"].get_color()
    assert "clusters" not in disp.not_found_lines_
    assert disp.ax_.get_xscale() == "log" and disp.ax_.get_yscale() == "linear"
    # reference growths pass through the first point of the first curve
    assert list(disp.reference_lines_) == ["O(log n)", "O(log^2 n)", "O(log^3 n)", "O(n)"]
    for ref, grow in (("O(log n)", np.log), ("O(n)", lambda n: n)):
        line = disp.reference_lines_[ref]
        x, yv = line.get_xdata(), line.get_ydata()
        assert x[0] == pytest.approx(100) and yv[0] == pytest.approx(8)
        assert yv[-1] == pytest.approx(8 * grow(1600.0) / grow(100.0))
    assert disp.format_table().splitlines() == [
        "n           100    400   1600",
        "clusters      8      8     16",
        "random        8     24    >96",
    ]
    # 4 references + 2 curves + 1 marker in the legend
    assert len(disp.ax_.get_legend().get_texts()) == 7


def test_min_width_display_reuses_ax_without_references():
    fig, (left, right) = plt.subplots(1, 2)
    disp = MinWidthDisplay([10, 20], {"a": [4, 8]}).plot(ax=left, references=())
    assert disp.ax_ is left and disp.figure_ is fig and not right.get_lines()
    assert len(left.get_lines()) == 1 and disp.reference_lines_ == {}
    with pytest.raises(ValueError, match="references"):
        disp.plot(references=("sqrt n",))
    with pytest.raises(ValueError, match="not a curve"):
        MinWidthDisplay([10, 20], {"a": [4, 8]}, caps={"b": 8})


class _WidthThreshold:
    """A fake classifier: zero training error iff ``width >= n / 10``; logs each fit."""

    fits = []

    def __init__(self, width=1):
        self.width = width

    def get_params(self, deep=True):
        return {"width": self.width}

    def fit(self, X, y):
        self.fits.append((self.width, len(X)))
        self.ok_ = self.width >= len(X) / 10
        self.y_ = np.asarray(y)
        return self

    def predict(self, X):
        return self.y_ if self.ok_ else 1 - self.y_


def test_min_width_from_estimator_uses_leading_rows_and_caps():
    X = np.zeros((400, 2))
    y = np.arange(400) % 2
    _WidthThreshold.fits = []
    disp = MinWidthDisplay.from_estimator(
        _WidthThreshold(), X, {"easy": y, "capped": y}, [50, 200, 400], [8, 16, 32, 64],
        max_width={"capped": 16}, plot=False)
    assert disp.curves["easy"].tolist() == [8, 32, 64]
    np.testing.assert_array_equal(disp.curves["capped"], [8, np.nan, np.nan])
    np.testing.assert_array_equal(disp.caps["capped"], [16, 16, 16])
    # widths tried in increasing order up to the first success, never above the cap
    assert _WidthThreshold.fits == [
        (8, 50), (8, 200), (16, 200), (32, 200), (8, 400), (16, 400), (32, 400), (64, 400),
        (8, 50), (8, 200), (16, 200), (8, 400), (16, 400)]
    assert disp.format_table().splitlines()[2].split() == ["capped", "8", ">16", ">16"]
    assert set(disp.fit_times_) == {"easy", "capped"}
    assert not hasattr(disp, "ax_")  # plot=False draws nothing
    with pytest.raises(ValueError, match="sizes"):
        MinWidthDisplay.from_estimator(_WidthThreshold(), X, y, [500], [8], plot=False)
    with pytest.raises(ValueError, match="cap"):
        MinWidthDisplay.from_estimator(_WidthThreshold(), X, y, [50], [32], max_width=16,
                                       plot=False)


# ----------------------------------------------------------- WidthScalingDisplay
def test_width_scaling_display_fits_power_laws():
    m = np.array([100.0, 400.0, 1600.0])
    disp = WidthScalingDisplay(m, {"lazy": 3.0 * m**-0.5, "flat": [0.4, 0.4, 0.4]},
                               y_label="distance").plot()
    assert disp.slopes_["lazy"] == pytest.approx(-0.5)
    assert disp.intercepts_["lazy"] == pytest.approx(math.log(3.0))
    assert disp.slopes_["flat"] == pytest.approx(0.0, abs=1e-12)
    assert disp.lines_["lazy"].get_label() == "lazy (slope -0.50)"
    assert disp.ax_.get_xscale() == "log" and disp.ax_.get_yscale() == "log"
    assert disp.ax_.get_ylabel() == "distance"
    fit = disp.fit_lines_["lazy"]
    assert fit.get_linestyle() == "--" and fit.get_color() == disp.lines_["lazy"].get_color()
    np.testing.assert_allclose(fit.get_ydata(), 3.0 * m**-0.5)
    assert len(disp.ax_.get_lines()) == 4  # two curves and their fits
    table = disp.format_table(digits=3).splitlines()
    assert table[0].split() == ["m", "100", "400", "1600", "slope"]
    assert table[1].split()[-1] == "-0.500"
    # a curve with fewer than two positive points has no slope (and no fit line)
    nan = WidthScalingDisplay([1, 2], {"a": [0.0, 1.0]}).plot()
    assert math.isnan(nan.slopes_["a"]) and nan.fit_lines_ == {}
    assert nan.lines_["a"].get_label() == "a"


def test_width_scaling_display_reuses_ax():
    fig, (left, right) = plt.subplots(1, 2)
    disp = WidthScalingDisplay([1, 2, 4], {"a": [1, 0.7, 0.5]}).plot(ax=right, fit=False)
    assert disp.ax_ is right and disp.figure_ is fig and not left.get_lines()
    assert len(right.get_lines()) == 1 and disp.fit_lines_ == {}


def test_from_diagnostics_averages_seeds():
    diags = {"a": [{"x": 1.0, "y": 3.0}, [{"x": 2.0, "y": 1.0}, {"x": 4.0, "y": 5.0}]]}
    disp = WidthScalingDisplay.from_diagnostics(diags, [10, 20], "x")
    np.testing.assert_array_equal(disp.curves["a"], [1.0, 3.0])
    assert disp.diagnostics_["a"][1] == {"x": 3.0, "y": 3.0}
    assert disp.ax_.get_ylabel() == "x"
    with pytest.raises(ValueError, match="column 'z'"):
        WidthScalingDisplay.from_diagnostics(diags, [10, 20], "z")


def test_final_diagnostics_match_the_diagnostics_functions():
    X, y = make_structured_mixture(200, n_features=30, random_state=0)
    clf = TwoLayerReLUClassifier(n_hidden=64, max_steps=20, max_iter=100, tol=None,
                                 normalize_inputs=False, random_state=0).fit(X, y)
    values = final_diagnostics(clf, X, probe=20)
    W, W0 = clf.coefs_[0], clf.initial_coefs_[0]
    assert values["relative_distance_0"] == pytest.approx(
        relative_distance_from_init(W, W0), rel=1e-5)
    assert values["activation_change_0"] == pytest.approx(
        activation_pattern_change(W, W0, X), abs=1e-6)
    assert 0 < values["ntk_drift"] < 1
    assert "sv_update_W0_1" not in values
    with_spectra = final_diagnostics(clf, X, probe=20, spectra=True)
    assert with_spectra["sv_update_W0_1"] == pytest.approx(
        top_singular_values(W, 1, W0=W0)[0], rel=1e-4)


def test_width_scaling_from_estimators_measures_each_learner_on_its_inputs():
    X_c, y_c = make_structured_mixture(150, n_features=20, random_state=0)
    X_r, y_r = make_composite_sine(150, random_state=0)
    widths = [16, 64]
    nets = {
        "clf": [TwoLayerReLUClassifier(n_hidden=m, max_iter=3, tol=None,
                                       random_state=0).fit(X_c, y_c) for m in widths],
        "reg": [[TwoLayerReLURegressor(n_hidden=m, max_iter=3, tol=None,
                                       random_state=s).fit(X_r, y_r) for s in (0, 1)]
                for m in widths],
    }
    X = {"clf": X_c, "reg": X_r}
    disp = WidthScalingDisplay.from_estimators(nets, widths, "relative_distance_0", X,
                                               probe=10)
    assert list(disp.lines_) == ["clf", "reg"]
    for k, est in enumerate(nets["clf"]):
        assert disp.curves["clf"][k] == pytest.approx(
            relative_distance_from_init(est.coefs_[0], est.initial_coefs_[0]), rel=1e-5)
    seeds = nets["reg"][1]  # the two seeds at m=64 are averaged
    assert disp.curves["reg"][1] == pytest.approx(np.mean([
        relative_distance_from_init(e.coefs_[0], e.initial_coefs_[0]) for e in seeds]),
        rel=1e-5)
    assert {"activation_change_0", "ntk_drift"} <= set(disp.diagnostics_["reg"][0])
    with pytest.raises(ValueError, match=r"no inputs for \['reg'\]"):
        WidthScalingDisplay.from_estimators(nets, widths, "ntk_drift", {"clf": X_c})


# ------------------------------------------------------------------ package-wide
def test_importing_plotting_does_not_import_matplotlib():
    code = ("import sys; import sklearn_overparam.plotting as p; "
            "from sklearn_overparam.plotting import (DiagnosticsDisplay, MinWidthDisplay, "
            "SpectrumDisplay, WidthScalingDisplay); "
            "DiagnosticsDisplay({'a': {'epoch': [0, 1], 'c': [0, 1]}}, 'c').format_table(); "
            "MinWidthDisplay([1, 2], {'a': [8, None]}, caps={'a': 16}).format_table(); "
            "SpectrumDisplay([1, 2], {'a': [2, 1]}).gap('a', 1); "
            "WidthScalingDisplay([1, 2], {'a': [2, 1]}).format_table(); "
            "assert 'matplotlib' not in sys.modules, sorted(m for m in sys.modules "
            "if m.startswith('matplotlib'))[:5]; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


PUBLIC = [DiagnosticsDisplay, DiagnosticsDisplay.from_diagnostics,
          DiagnosticsDisplay.from_estimator, SpectrumDisplay, SpectrumDisplay.from_estimator,
          MinWidthDisplay, MinWidthDisplay.from_estimator, WidthScalingDisplay,
          WidthScalingDisplay.from_diagnostics, WidthScalingDisplay.from_estimators,
          final_diagnostics]


@pytest.mark.parametrize("obj", PUBLIC, ids=lambda o: o.__qualname__)
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
    f"sklearn_overparam.plotting.{name}" for name in (
        "DiagnosticsDisplay", "DiagnosticsDisplay.plot", "DiagnosticsDisplay.from_diagnostics",
        "DiagnosticsDisplay.from_estimator", "DiagnosticsDisplay.final_values",
        "DiagnosticsDisplay.format_table", "SpectrumDisplay", "SpectrumDisplay.gap",
        "SpectrumDisplay.from_estimator", "MinWidthDisplay", "MinWidthDisplay.plot",
        "MinWidthDisplay.format_table", "MinWidthDisplay.from_estimator",
        "WidthScalingDisplay", "WidthScalingDisplay.plot", "WidthScalingDisplay.format_table",
        "WidthScalingDisplay.from_diagnostics", "WidthScalingDisplay.from_estimators",
        "final_diagnostics")
])
def test_docstrings_are_valid_numpydoc(name):
    codes = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "GL03", "GL06",
             "GL07", "RT01", "SA04"}
    errors = [f"{c}: {m}" for c, m in numpydoc_validate.validate(name)["errors"]
              if c in codes]
    assert not errors, "\n".join(errors)
