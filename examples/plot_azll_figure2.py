"""[AZLL] Figure 2: the Figure-1 comparison on the composite-tanh target.

Test MSE of ``3layer`` / ``2layer`` (hidden weights trained, [AZLL] Sec. 7), their
conjugate kernels (``(last)``: only the output layer trained), their finite-width tangent
kernels (``(NTK)``) and the infinite-width 3-layer NTK, (a) against the width ``m`` at
N = 1000 and (b) against the number of training samples ``N`` at a fixed width, on
``y = (tanh 8x1 + tanh 8x2 + tanh 8x3 - 2)^2 tanh 8x4``, ``x`` uniform on the sphere. Every
learner is the best of its (learning rate, weight decay) grid on the test set (the paper's
protocol; the whole grid trains as one stacked engine run per point), every kernel the best
of its ridge grid. Writes a PNG and prints the tables (test MSE and MSE / Var(y)).

Run ``python examples/plot_azll_figure2.py [--quick] [--output PATH]`` (default mode: a
few minutes on 2 cores with OMP_NUM_THREADS=1; ``--quick``: tiny widths and epochs).
"""

import argparse
import pathlib
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_overparam.datasets import make_composite_tanh  # noqa: E402
from sklearn_overparam.plotting import azll_scaling_panels  # noqa: E402

TITLE = "[AZLL] Figure 2: composite tanh, learners vs kernels"
# default mode: widths and epochs measured to finish in a few minutes on 2 CPU cores
FULL = {"widths": (50, 100, 200, 400, 800), "sizes": (250, 500, 1000, 2000),
        "n_samples": 1000, "n_hidden": 100, "n_test": 2000,
        "methods": {"max_iter_3layer": 200, "max_iter_2layer": 800}}
QUICK = {"widths": (16, 32), "sizes": (100, 200), "n_samples": 200, "n_hidden": 16,
         "n_test": 200,
         "methods": {"max_iter_3layer": 10, "max_iter_2layer": 20,
                     "ridges": (1e-4, 1e-2, 1.0)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="tiny widths and epochs")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("azll_figure2.png"),
                        help="PNG path (default: azll_figure2.png in the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per fitted point")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL

    X, y = make_composite_tanh(max(mode["n_samples"], *mode["sizes"]), random_state=args.seed)
    X_test, y_test = make_composite_tanh(mode["n_test"], random_state=args.seed + 1)
    var = float(y_test.var())
    print(f"{TITLE} ({'quick' if args.quick else 'full'} mode)\n"
          f"Var(y_test)={var:.2f} on {mode['n_test']} test points, seed {args.seed}")

    start = time.perf_counter()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    panels = azll_scaling_panels(
        X, y, X_test, y_test, widths=mode["widths"], sizes=mode["sizes"],
        n_samples=mode["n_samples"], n_hidden=mode["n_hidden"], axes=axes,
        verbose=args.verbose, random_state=args.seed, **mode["methods"])
    for disp in panels:
        print(f"\n{disp.title}: test MSE\n{disp.format_table()}")
        print(f"\n{disp.title}: test MSE / Var(y)\n{disp.format_table(scale=var)}")
    fig.suptitle(TITLE)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    plt.close(fig)
    print(f"\n{time.perf_counter() - start:.1f}s; figure written to {args.output}")
    return panels


if __name__ == "__main__":
    main()
