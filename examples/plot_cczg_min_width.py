"""[CCZG] App. D, Figure 1: the width needed for zero training error grows slowly with n.

For each training-set size ``n``, the smallest width ``m`` of a grid at which gradient
descent on the [CCZG] network (``f(x) = sqrt(m) W_L relu(... relu(W_1 x))``, ``L = 5``
layers, He initialization, all layers trained, logistic loss; [CCZG] Sec. 2 and 6.1)
reaches zero training error, with the step size ``eta = 8 / (L m)`` (Theorem 3.3's
``Theta(1 / (L m))``), at most 2000 full-batch steps and a stop at zero error; one seed,
widths ``{8, 16, 24, 32, 48, 64, 96}``. [CCZG] App. D finds on binary CIFAR-10 subsets that
"the required network width to achieve zero training error is polylogarithmic on the sample
size n" (reference curves ``O(log n)``, ``O(log^2 n)``, ``O(log^3 n)``, ``O(n)``, dashed,
started at the same point). The same inputs with uniformly random labels need a width that
grows fast with ``n`` (or no width of the grid reaches zero error: printed as ``>cap``, an
open triangle in the figure).

(a) ``make_cczg_clusters``: 20 unit-norm cluster means in ``R^10``, alternating labels,
    noisy unit-norm points; (b) an offline stand-in for the paper's image pairs:
    ``sklearn.datasets.load_digits``, odd vs even digits, inputs scaled to unit norm
    (Assumption 3.1), rows shuffled (each ``n`` is the first ``n`` rows). Random labels may
    be fitted only up to a width cap (``--random-cap``), a time budget.

Prints a table per panel (minimum widths and seconds spent) and writes a PNG.

Run ``python examples/plot_cczg_min_width.py [--quick] [--output PATH]`` (default mode: a
few minutes on 2 cores with OMP_NUM_THREADS=1; ``--quick``: small n and widths).
"""

import argparse
import pathlib
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from sklearn_overparam import DeepReLUClassifier  # noqa: E402
from sklearn_overparam.datasets import make_cczg_clusters  # noqa: E402
from sklearn_overparam.plotting import MinWidthDisplay  # noqa: E402

TITLE = "[CCZG] App. D Figure 1: min width for zero training error vs n, L = 5, GD"
# measured on 2 CPU cores: about 1 min (clusters) + 1.5 min (digits) in the default mode
FULL = {"sizes": (100, 200, 400, 800, 1600), "widths": (8, 16, 24, 32, 48, 64, 96),
        "max_steps": 2000, "random_cap": None}
QUICK = {"sizes": (50, 100), "widths": (8, 16), "max_steps": 300, "random_cap": 16}
DEPTH = 5
LR_SCALE = 8.0  # eta = 8 / (L m)


def digits_odd_even(seed):
    """load_digits as a binary problem (odd vs even), unit-norm rows, shuffled."""
    X, digit = load_digits(return_X_y=True)
    perm = np.random.RandomState(seed).permutation(len(X))
    X, digit = X[perm], digit[perm]
    return X / np.linalg.norm(X, axis=1, keepdims=True), digit % 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="small n and widths")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path("cczg_min_width.png"),
                        help="PNG path (default: cczg_min_width.png in the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-cap", type=int, default=None,
                        help="fit random labels only up to this width (a time budget)")
    parser.add_argument("--verbose", action="store_true", help="one line per point")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    cap = args.random_cap if args.random_cap is not None else mode["random_cap"]
    sizes, n_max = mode["sizes"], max(mode["sizes"])
    print(f"{TITLE} ({'quick' if args.quick else 'full'} mode)\n"
          f"L={DEPTH}, eta={LR_SCALE:g}/(L m), <= {mode['max_steps']} GD steps, stop at zero "
          f"training error, widths {mode['widths']}, random labels up to width "
          f"{cap if cap is not None else max(mode['widths'])}, seed {args.seed}")

    X, y = make_cczg_clusters(n_max, centers_random_state=args.seed,
                              random_state=args.seed + 1)
    _, y_random = make_cczg_clusters(n_max, centers_random_state=args.seed,
                                     random_labels=True, random_state=args.seed + 1)
    X_dig, y_dig = digits_odd_even(args.seed)
    y_dig_random = np.random.RandomState(args.seed + 1).randint(2, size=len(y_dig))
    panels = {
        "(a) cluster data (d=10, 20 clusters)": (X, {"cluster labels": y,
                                                      "random labels": y_random}),
        "(b) digits, odd vs even (d=64)": (X_dig, {"odd/even labels": y_dig,
                                                   "random labels": y_dig_random}),
    }
    estimator = DeepReLUClassifier(depth=DEPTH, solver="gd", lr_scale=LR_SCALE,
                                   max_iter=mode["max_steps"], stop_at_zero_error=True,
                                   tol=None, random_state=args.seed)

    start = time.perf_counter()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    displays = {}
    for ax, (title, (inputs, labellings)) in zip(axes, panels.items()):
        size_grid = [n for n in sizes if n <= len(inputs)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            disp = MinWidthDisplay.from_estimator(
                estimator, inputs, labellings, size_grid, mode["widths"],
                max_width={"random labels": cap}, title=title, ax=ax,
                verbose=args.verbose)
        displays[title] = disp
        print(f"\n{title}: min width for zero training error\n{disp.format_table()}")
        seconds = {name: sum(t) for name, t in disp.fit_times_.items()}
        print("seconds: " + ", ".join(f"{name} {s:.1f}" for name, s in seconds.items()))
    fig.suptitle(TITLE)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    plt.close(fig)
    print(f"\n{time.perf_counter() - start:.1f}s; figure written to {args.output}")
    return displays


if __name__ == "__main__":
    main()
