"""Lazy or not: how far training moves two learners from their initialization, vs width.

At the end of training, three measures of how far a network has left its random
initialization, against the width ``m`` on log-log axes, each with a least-squares power
law ``c m^s`` (dashed, slope ``s`` in the legend):

(a) the relative distance ``||W_T - W_0||_F / ||W_0||_F`` of the trained hidden weights;
(b) the fraction of (test point, hidden unit) pairs whose ReLU pattern changed
    (the [LL] Sec. 5 "coupling", [AZLL] Lemma 6.5's sign changes);
(c) the drift ``||K_T - K_0||_F / ||K_0||_F`` of the empirical tangent kernel on 100 test
    points.

In the lazy (NTK) regime all three vanish like ``m^{-1/2}``: the network stays in a
``O(1 / sqrt(m))`` ball around ``W_0`` where it is its linearization ([LL] Sec. 5, [CCZG]
Theorem 3.3's ``R / sqrt(m)``). Two learners:

- ``[LL] classifier``: the [LL] two-layer softmax network on the Sec. 7 structured mixture
  (``d = 1000``, ``k = 10``, ``l = 2``, 1000/1000 points), plain SGD, ``B = 16``,
  ``T = 400`` steps, ``eta = 10 / m``;
- ``[AZLL] 2-layer regressor``: the [AZLL] two-layer network (``A relu(W x + b)``, only
  ``W`` trained) on the Sec. 7 composite-sine target (N = 1000, inputs padded to the
  sphere), momentum SGD, batch 50, ``lr = 10 / m`` divided by 10 at half of 800 epochs.

Each point is the mean over a few seeds. Prints one table per measure (values and slopes)
and the test scores, and writes a PNG.

Run ``python examples/plot_lazy_vs_rich.py [--quick] [--output PATH]`` (default mode: 1-2
minutes on 2 cores with OMP_NUM_THREADS=1; ``--quick``: small widths and data).
"""

import argparse
import pathlib
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklearn_overparam import TwoLayerReLUClassifier, TwoLayerReLURegressor  # noqa: E402
from sklearn_overparam.datasets import (  # noqa: E402
    make_composite_sine,
    make_structured_mixture,
)
from sklearn_overparam.plotting import WidthScalingDisplay  # noqa: E402

TITLE = "Lazy training vs width: distance, activation change and NTK drift at the end"
# measured on 2 CPU cores: 1-2 minutes in the default mode
FULL = {"widths": (100, 200, 400, 800, 1600, 3200), "n_seeds": 3,
        "ll": {"n_features": 1000, "n_train": 1000, "n_test": 1000, "steps": 400},
        "azll": {"n_train": 1000, "n_test": 1000, "epochs": 800}}
QUICK = {"widths": (32, 64, 128), "n_seeds": 1,
         "ll": {"n_features": 100, "n_train": 200, "n_test": 200, "steps": 50},
         "azll": {"n_train": 200, "n_test": 200, "epochs": 20}}
LL, AZLL = "[LL] classifier", "[AZLL] 2-layer regressor"
PANELS = {"relative_distance_0": "(a) ||W_T - W_0||_F / ||W_0||_F",
          "activation_change_0": "(b) activation-pattern change",
          "ntk_drift": "(c) NTK drift ||K_T - K_0||_F / ||K_0||_F"}


def fit_learners(mode, seed, verbose=False):
    """The fitted networks of both learners, per width a list over seeds; test data; scores."""
    ll, azll = mode["ll"], mode["azll"]
    X_ll, y_ll = make_structured_mixture(ll["n_train"], n_features=ll["n_features"],
                                         centers_random_state=seed, random_state=seed + 1)
    X_ll_test, y_ll_test = make_structured_mixture(ll["n_test"], n_features=ll["n_features"],
                                                   centers_random_state=seed,
                                                   random_state=seed + 2)
    X_az, y_az = make_composite_sine(azll["n_train"], random_state=seed)
    X_az_test, y_az_test = make_composite_sine(azll["n_test"], random_state=seed + 1)
    fitted = {LL: [], AZLL: []}
    scores = {LL: [], AZLL: []}
    for m in mode["widths"]:
        start = time.perf_counter()
        nets_ll = [TwoLayerReLUClassifier(
            n_hidden=m, lr_scale=10.0, batch_size=16, max_steps=ll["steps"], max_iter=10**6,
            tol=None, normalize_inputs=False, random_state=seed + r).fit(X_ll, y_ll)
            for r in range(mode["n_seeds"])]
        nets_az = [TwoLayerReLURegressor(
            n_hidden=m, learning_rate_init=10.0 / m, max_iter=azll["epochs"], tol=None,
            random_state=seed + r).fit(X_az, y_az) for r in range(mode["n_seeds"])]
        fitted[LL].append(nets_ll)
        fitted[AZLL].append(nets_az)
        scores[LL].append(np.mean([n.score(X_ll_test, y_ll_test) for n in nets_ll]))
        scores[AZLL].append(np.mean([np.mean((n.predict(X_az_test) - y_az_test) ** 2)
                                     for n in nets_az]) / y_az_test.var())
        if verbose:
            print(f"  m={m}: fitted in {time.perf_counter() - start:.1f}s", flush=True)
    return fitted, {LL: X_ll_test, AZLL: X_az_test}, scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="small widths and data")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path("lazy_vs_rich.png"),
                        help="PNG path (default: lazy_vs_rich.png in the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per width")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    print(f"{TITLE} ({'quick' if args.quick else 'full'} mode)\nwidths {mode['widths']}, "
          f"mean over {mode['n_seeds']} seed(s) from {args.seed}; diagnostics on the test "
          "sets (NTK on 100 test points)")

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: fixed budgets by design
        fitted, X_test, scores = fit_learners(mode, args.seed, args.verbose)
    fit_seconds = time.perf_counter() - start
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    columns = list(PANELS)
    first = WidthScalingDisplay.from_estimators(
        fitted, mode["widths"], columns[0], X_test, y_label=PANELS[columns[0]], ax=axes[0])
    displays = {columns[0]: first}
    for ax, column in zip(axes[1:], columns[1:]):
        displays[column] = WidthScalingDisplay.from_diagnostics(
            first.diagnostics_, mode["widths"], column, y_label=PANELS[column], ax=ax)
    widths = np.asarray(mode["widths"], dtype=np.float64)
    for disp in displays.values():  # reference m^{-1/2} through the [LL] curve's first point
        y0 = disp.curves[LL][0]
        disp.ax_.plot(widths, y0 * (widths / widths[0]) ** -0.5, color="0.6", linestyle=":",
                      label="m^(-1/2)")
        disp.ax_.legend(fontsize="small")
    for column, disp in displays.items():
        print(f"\n{PANELS[column]} at the end of training, with the fitted slope "
              f"(NTK regime: -0.5)\n{disp.format_table()}")
    print("\nslopes of log(measure) on log(m):")
    for name in fitted:
        print(f"  {name}: " + ", ".join(
            f"{column} {displays[column].slopes_[name]:+.3f}" for column in columns))
    print("\ntest scores (accuracy for [LL], MSE / Var(y) for [AZLL]):")
    for name, values in scores.items():
        print(f"  {name}: " + ", ".join(f"m={m}: {v:.4f}"
                                        for m, v in zip(mode["widths"], values)))
    fig.suptitle(TITLE)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    plt.close(fig)
    print(f"\n{time.perf_counter() - start:.1f}s ({fit_seconds:.1f}s fitting); figure "
          f"written to {args.output}")
    return displays


if __name__ == "__main__":
    main()
