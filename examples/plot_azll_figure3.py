"""[AZLL] Figure 3: weight decay vs the ||W||_{2,4}^4 regularizer, three-layer learner.

The 3-layer learner ([AZLL] Sec. 7, hidden weights trained) on the composite-sine data,
regularized (i) by PyTorch weight decay ``alpha`` in {1e-4, 1e-3} ("minimizing
||W||_F") or (ii) by ``lambda_w ||W||_{2,4}^4`` on the full first-layer ``W`` with
``lambda_w`` in {1e-3, 1e-2, 1e-1} and no weight decay; learning rates {0.5, 1} / m,
each method the best of its grid on the test set (one stacked engine run per grid group),
inputs not padded (Sec. 7). Panel (a): best test MSE against ``m``; panel (b): the norm
ratio ``m ||W||_{2,4}^4 / ||W||_F^4`` of the best network's first layer (1: every neuron
carries the same weight; ``m``: one neuron carries all of it), with the ratio at
initialization for reference. The paper finds "no real difference" in test error and
ratios "roughly the same". Writes a PNG and prints the tables.

Run ``python examples/plot_azll_figure3.py [--quick] [--output PATH]``.
"""

import argparse
import pathlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_overparam import ThreeLayerReLURegressor  # noqa: E402
from sklearn_overparam.datasets import make_composite_sine  # noqa: E402
from sklearn_overparam.plotting import NormRatioDisplay, ScalingDisplay  # noqa: E402

TITLE = "[AZLL] Figure 3: weight decay vs ||W||_{2,4}^4, 3-layer, composite sine"
FULL = {"widths": (100, 200, 400, 800), "n_samples": 1000, "n_test": 2000, "epochs": 200}
QUICK = {"widths": (16, 32), "n_samples": 200, "n_test": 200, "epochs": 10}
LEARNING_RATES = (0.5, 1.0)  # times 1 / m
WEIGHT_DECAYS = (1e-4, 1e-3)
LAMBDA_W = (1e-3, 1e-2, 1e-1)


def weight_decay_grid(estimator, n_samples):
    m = estimator.n_hidden
    return {"learning_rate_init": [c / m for c in LEARNING_RATES],
            "alpha": list(WEIGHT_DECAYS)}


def row_norm_grid(estimator, n_samples):
    m = estimator.n_hidden
    return {"learning_rate_init": [c / m for c in LEARNING_RATES],
            "lambda_w": list(LAMBDA_W)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny widths and epochs")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("azll_figure3.png"),
                        help="PNG path (default: azll_figure3.png in the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per fitted point")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL

    X, y = make_composite_sine(mode["n_samples"], random_state=args.seed)
    X_test, y_test = make_composite_sine(mode["n_test"], random_state=args.seed + 1)
    var = float(y_test.var())
    print(f"{TITLE} ({'quick' if args.quick else 'full'} mode)\nN={mode['n_samples']}, "
          f"{mode['epochs']} epochs, Var(y_test)={var:.2f} on {mode['n_test']} test points")

    start = time.perf_counter()
    base = ThreeLayerReLURegressor(input_padding=None, max_iter=mode["epochs"], tol=None,
                                   alpha=0.0, random_state=args.seed)
    methods = {"weight decay": base, "||W||_{2,4}^4": base}
    grid = {"weight decay": weight_decay_grid, "||W||_{2,4}^4": row_norm_grid}
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    errors = ScalingDisplay.from_estimators(
        methods, "n_hidden", mode["widths"], X, y, X_test, y_test, grid=grid,
        title=f"(a) best test MSE, N = {mode['n_samples']}", ax=ax_a, verbose=args.verbose)
    ratios = NormRatioDisplay.from_estimators(
        errors.best_estimators_, errors.x, initialization="initialization",
        title="(b) norm ratio of the first layer W", ax=ax_b,
        curve_kwargs={"initialization": {"linestyle": ":", "color": "gray"}})

    print(f"\n(a) test MSE\n{errors.format_table()}")
    print(f"\n(a) test MSE / Var(y)\n{errors.format_table(scale=var)}")
    print(f"\n(b) m ||W||_{{2,4}}^4 / ||W||_F^4\n{ratios.format_table(digits=2)}")
    print("\nchosen settings (lr in units of 1/m):")
    for name, chosen in errors.best_params_.items():
        cells = []
        for m, p in zip(mode["widths"], chosen):
            reg = f"alpha={p['alpha']:g}" if "alpha" in p else f"lambda_w={p['lambda_w']:g}"
            cells.append(f"m={m}: lr={p['learning_rate_init'] * m:g}, {reg}")
        print(f"  {name}: " + "; ".join(cells))
    fig.suptitle(TITLE)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    plt.close(fig)
    print(f"\n{time.perf_counter() - start:.1f}s; figure written to {args.output}")
    return errors, ratios


if __name__ == "__main__":
    main()
