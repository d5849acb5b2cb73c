"""StackedGridSearchCV (CV folds and candidates as stacked engine runs) against GridSearchCV.

Protocol (the README's "Performance" section: round-robin, medians, ratios in one run)
------------------------------------------------------------------------------------
Data: ``make_composite_sine`` ([AZLL] Figure 1, d=4), N=1000 points, float32, ``cv=3``
(``KFold``; ``StratifiedKFold`` for the classifier): 18 candidates x 3 folds = 54 fits.

``two_layer``   ``TwoLayerReLURegressor(n_hidden=1000, max_iter=--epochs (200), tol=None)``,
                grid ``learning_rate_init`` in {5, 10, 20} / m x ``alpha`` in {0, 1e-4} x
                ``random_state`` in {0, 1, 2}.
``three_layer`` ``ThreeLayerReLURegressor(n_hidden=200, max_iter=--side-epochs (50))``,
                ``learning_rate_init`` in {0.5, 1, 2} / m, same alphas and seeds.
``deep``        ``DeepReLUClassifier(width=256, depth=3, max_iter=--side-epochs)`` on the
                labels ``y > median(y)``, ``lr_scale`` in {2, 4, 8}, same alphas and seeds.

Ways, timed over the same work (fit and score of every candidate and fold, ``refit=False``):
``stacked`` ``StackedGridSearchCV(n_jobs=1)`` (and ``stacked_2``: ``n_jobs=2``, two loky
workers over the tiles); ``grid`` ``GridSearchCV(n_jobs=1)`` and ``grid_2``
(``n_jobs=2``). The side estimators run ``stacked`` and ``grid`` only (ratio only). Every
way gets one untimed warm-up (1 epoch; it also starts the loky workers), then the timed
runs go round-robin ``for rep: for estimator: for way``. torch and every BLAS/OpenMP pool
are pinned to one thread per process.

Also measured (one run each, two_layer): what a user without this library runs
(``GridSearchCV`` over sklearn's ``MLPRegressor`` of the same width, SGD, batch and grid,
``--sklearn-epochs``), the tile sweep (stacked CPU time per network and epoch against the
networks per engine run, ``--sweep-epochs``), the profile of one stacked search (phases by
cProfile, torch operators by ``torch.profiler``; the fused kernels' seconds in it and in
the same search under ``GridSearchCV``), and the float64 exactness (``--exact-epochs``:
stacked and GridSearchCV per-split scores in float64). The ``CEILING`` check divides
``GridSearchCV(n_jobs=1)``'s time by the stacked search's kernel seconds (scaled to
``--epochs``): the ratio stacking would reach if everything besides its kernels cost
nothing while ``GridSearchCV``'s fits kept their time.

Reading the tables
------------------
``s`` is the median wall time over the repeats (min-max spread beside it); ``CPU s`` the
median CPU time of this process (n_jobs=1 ways only: loky workers are other processes);
``ms/epoch/fit`` the wall time per fit and epoch. Ratios are a way's median over the stacked
median (> 1: stacking is faster). ``other load`` is the median number of cores other
processes kept busy during the runs (the machine is shared: parallel ways suffer most).
Agreement: whether both ways pick the same ``best_params_``, and the largest difference of
a per-split test score (float32 training: SGD amplifies the rounding difference of a
batched ``bmm`` and a K=1 ``matmul`` over the epochs; the float64 check shows the two are
the same computation).

Usage: ``python benchmarks/bench_search.py [--quick] [--epochs 200] [--side-epochs 50]
[--repeats 3] [--estimators two_layer three_layer deep] [--wait-idle 0]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
import warnings

import numpy as np
from _common import (  # benchmarks/ is on sys.path when run as a script
    Cell,
    Measurement,
    fmt_num,
    fmt_ratio,
    machine_info,
    markdown_table,
    median_spread,
    pin_threads,
    round_robin,
    stderr_log,
    timed,
)

N = 1000
CV = 3
SEEDS = (0, 1, 2)
ALPHAS = (0.0, 1e-4)
ESTIMATORS = {
    # name: (class, width, step-size parameter, its grid)
    "two_layer": ("TwoLayerReLURegressor", 1000, "learning_rate_init", (5.0, 10.0, 20.0)),
    "three_layer": ("ThreeLayerReLURegressor", 200, "learning_rate_init", (0.5, 1.0, 2.0)),
    "deep": ("DeepReLUClassifier", 256, "lr_scale", (2.0, 4.0, 8.0)),
}
MAIN_WAYS = ("stacked", "stacked_2", "grid", "grid_2")
SIDE_WAYS = ("stacked", "grid")
SWEEP_TILES = (1, 3, 6, 9, 18, 27, 54)


def make_data():
    from sklearn_overparam.datasets import make_composite_sine

    X, y = make_composite_sine(N, random_state=0)
    return X.astype(np.float32), y.astype(np.float32)


def make_estimator(name, epochs, **extra):
    import sklearn_overparam

    cls_name, m, _, _ = ESTIMATORS[name]
    cls = getattr(sklearn_overparam, cls_name)
    if name == "deep":
        return cls(width=m, depth=3, max_iter=epochs, tol=None, **extra)
    return cls(n_hidden=m, max_iter=epochs, tol=None, **extra)


def make_grid(name):
    _, m, param, values = ESTIMATORS[name]
    scale = m if param == "learning_rate_init" else 1.0
    return {param: [v / scale for v in values], "alpha": list(ALPHAS),
            "random_state": list(SEEDS)}


def targets(name, y):
    return (y > np.median(y)).astype(int) if name == "deep" else y


def run_way(way, est, grid, X, y):
    from sklearn.model_selection import GridSearchCV

    from sklearn_overparam.model_selection import StackedGridSearchCV

    cls = StackedGridSearchCV if way.startswith("stacked") else GridSearchCV
    n_jobs = 2 if way.endswith("_2") else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = cls(est, grid, cv=CV, refit=False, n_jobs=n_jobs).fit(X, y)
    return {"best": search.best_params_,
            "splits": np.stack([search.cv_results_[f"split{s}_test_score"]
                                for s in range(CV)]),
            "fit_time": float(np.sum(search.cv_results_["mean_fit_time"]) * CV)}


def _fmt_best(p):
    step = {k: v for k, v in p.items() if k not in ("alpha", "random_state")}
    (key, value), = step.items()
    return f"{key}={value:.3g}, alpha={p['alpha']:g}, seed={p['random_state']}"


# ---------------------------------------------------------------------- side measurements
def tile_sweep(X, y, epochs, tiles):
    """Stacked CPU seconds per fit and epoch against the networks per engine run."""
    from sklearn_overparam.model_selection import StackedGridSearchCV

    est, grid = make_estimator("two_layer", epochs), make_grid("two_layer")
    rows = []
    original = StackedGridSearchCV._tile_size
    default = None
    try:
        default = original(StackedGridSearchCV(est, grid), est, X.shape[1], 667, 54)
        for tile in tiles:
            StackedGridSearchCV._tile_size = lambda self, *a, _t=tile: min(_t, a[-1])
            run_way("stacked", est.set_params(max_iter=1), grid, X, y)  # warm
            est.set_params(max_iter=epochs)
            m = timed(lambda: run_way("stacked", est, grid, X, y))
            rows.append((tile, m.cpu_seconds, m.seconds, m.other_load))
            stderr_log(f"tile {tile}: CPU {m.cpu_seconds:.2f} s, wall {m.seconds:.2f} s")
    finally:
        StackedGridSearchCV._tile_size = original
    return rows, default


def _cprofile(way, X, y, epochs):
    """cProfile statistics and CPU seconds of one search (two_layer) run ``way``."""
    est, grid = make_estimator("two_layer", epochs), make_grid("two_layer")
    prof = cProfile.Profile()
    start = time.process_time()
    prof.enable()
    run_way(way, est, grid, X, y)
    prof.disable()
    return pstats.Stats(prof, stream=io.StringIO()), time.process_time() - start


def kernel_seconds(stats) -> float:
    """Seconds in the two fused kernels' calls (TwoLayerStep.forward / .backward)."""
    from sklearn_overparam.nn._fused import TwoLayerStep

    lines = {TwoLayerStep.forward.__code__.co_firstlineno,
             TwoLayerStep.backward.__code__.co_firstlineno}
    return sum(entry[3] for (file, line, _), entry in stats.stats.items()
               if file.endswith("_fused.py") and line in lines)


def profile_search(X, y, epochs):
    """Phases (cProfile cumulative seconds) and torch operators of one stacked search, and
    the kernels' seconds of that search and of GridSearchCV's."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    est, grid = make_estimator("two_layer", epochs), make_grid("two_layer")
    stats, total = _cprofile("stacked", X, y, epochs)
    phases = {
        "engine: forward + backward (objective.loss_and_grads)": ("_objectives.py",
                                                                   "loss_and_grads"),
        "engine: SGD update (SGDUpdate.step)": ("_updates.py", "step"),
        "engine: batch gather + weights (RowSampler.batches)": ("_sampling.py", "batches"),
        "engine: train() total": ("_engine.py", "train"),
        "stack set-up: validation, input maps, slots (_stack_prepare)": ("_stacking.py",
                                                                          "_stack_prepare"),
        "storing the fitted clones (_stack_store)": ("_stacking.py", "_stack_store"),
        "scoring (sklearn _score: predict + r2)": ("_validation.py", "_score"),
    }
    found = {}
    for (file, _, func), entry in stats.stats.items():
        for label, (f, fn) in phases.items():
            if file.endswith(f) and func == fn:
                found[label] = found.get(label, 0.0) + entry[3]
    phase_rows = [(label, found.get(label, 0.0), found.get(label, 0.0) / total)
                  for label in phases]
    kernels = kernel_seconds(stats)
    phase_rows.insert(1, ("  of which the fused kernels (TwoLayerStep.forward + .backward)",
                          kernels, kernels / total))
    grid_stats, grid_total = _cprofile("grid", X, y, epochs)
    grid_kernels = kernel_seconds(grid_stats)
    with profile(activities=[ProfilerActivity.CPU]) as tprof:
        run_way("stacked", est, grid, X, y)
    events = sorted(tprof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    op_total = sum(e.self_cpu_time_total for e in events)
    op_rows = [(e.key, e.self_cpu_time_total / 1e3, e.self_cpu_time_total / op_total, e.count)
               for e in events[:12]]
    del torch
    return total, phase_rows, op_rows, (kernels, grid_kernels, grid_total)


def user_alternative(X, y, epochs):
    """Seconds of the 54-fit two-layer search as a user without this library runs it
    (GridSearchCV over sklearn's MLPRegressor of the same width, SGD with the same batch,
    momentum and grid; it also trains the output layer and the biases), and of
    StackedGridSearchCV, both at ``epochs`` epochs, one run each, n_jobs=1."""
    from sklearn.neural_network import MLPRegressor

    _, m, _, _ = ESTIMATORS["two_layer"]
    mlp = MLPRegressor(hidden_layer_sizes=(m,), solver="sgd", batch_size=50, momentum=0.9,
                       nesterovs_momentum=False, max_iter=epochs, tol=0.0,
                       n_iter_no_change=epochs + 1)
    grid = make_grid("two_layer")
    sk = timed(lambda: run_way("grid", mlp, grid, X, y))
    ours = timed(lambda: run_way("stacked", make_estimator("two_layer", epochs), grid, X, y))
    return sk.seconds, ours.seconds


def exactness(X, y, epochs):
    """float64: stacked and GridSearchCV per-split scores (max relative difference)."""
    est, grid = make_estimator("two_layer", epochs, dtype="float64"), make_grid("two_layer")
    a = run_way("stacked", est, grid, X.astype(np.float64), y.astype(np.float64))
    b = run_way("grid", est, grid, X.astype(np.float64), y.astype(np.float64))
    fin = np.isfinite(b["splits"])
    rel = np.abs(a["splits"][fin] - b["splits"][fin]) / np.abs(b["splits"][fin])
    return float(rel.max()), a["best"] == b["best"], bool(
        np.array_equal(np.isfinite(a["splits"]), fin))


# ---------------------------------------------------------------------------- benchmark
def run_benchmark(args) -> int:
    wall_start = time.perf_counter()
    info = machine_info(1)
    X, y = make_data()

    def make_cell(name, way, epochs):
        grid, yy = make_grid(name), targets(name, y)

        def run():
            t = timed(lambda: run_way(way, make_estimator(name, epochs), grid, X, yy))
            return Measurement(t.seconds, t.payload, t.other_load, t.cpu_seconds)

        def warmup():
            run_way(way, make_estimator(name, 1), grid, X, yy)

        return Cell((name, way), run, warmup)

    cells = []
    for name in args.estimators:
        epochs = args.epochs if name == "two_layer" else args.side_epochs
        for way in (MAIN_WAYS if name == "two_layer" else SIDE_WAYS):
            cells.append(make_cell(name, way, epochs))

    def describe(cell, meas):
        return f"{meas.seconds:.2f} s (CPU {meas.cpu_seconds:.2f})"

    results = round_robin(cells, args.repeats, log=stderr_log, describe=describe,
                          wait_idle=args.wait_idle)

    rows, agree, checks = [], [], []
    for name in args.estimators:
        cls_name, m, _, _ = ESTIMATORS[name]
        epochs = args.epochs if name == "two_layer" else args.side_epochs
        ways = MAIN_WAYS if name == "two_layer" else SIDE_WAYS
        med = {w: statistics.median(results.seconds((name, w))) for w in ways}
        for way in ways:
            wall = median_spread(results.seconds((name, way)))
            cpu = statistics.median(results.cpu_seconds((name, way)))
            load = statistics.median(results.other_loads((name, way)))
            rows.append([cls_name, m, epochs, way, fmt_num(wall[0]),
                         f"{fmt_num(wall[1])}–{fmt_num(wall[2])}",
                         fmt_num(cpu) if not way.endswith("_2") else "-",
                         fmt_num(wall[0] / (CV * 18) / epochs * 1e3),
                         fmt_ratio(med[way] / med["stacked"]),
                         fmt_ratio(med[way] / med["stacked_2"]) if "stacked_2" in med else "-",
                         f"{load:.2f}"])
        ref = results.payloads((name, "grid"))[-1]
        for way in ways:
            if way == "grid":
                continue
            got = results.payloads((name, way))[-1]
            fin = np.isfinite(ref["splits"]) & np.isfinite(got["splits"])
            diff = np.abs(got["splits"] - ref["splits"])[fin]
            agree.append([cls_name, way, "yes" if got["best"] == ref["best"] else "**no**",
                          _fmt_best(got["best"]), _fmt_best(ref["best"]),
                          f"{diff.max():.2e}", f"{np.median(diff):.1e}",
                          int((~np.isfinite(ref["splits"])).sum()),
                          int((~np.isfinite(got["splits"])).sum())])
        cpu_ratio = (statistics.median(results.cpu_seconds((name, "grid")))
                     / statistics.median(results.cpu_seconds((name, "stacked"))))
        text = (f"{name}: grid / stacked {med['grid'] / med['stacked']:.2f}x wall, "
                f"{cpu_ratio:.2f}x CPU")
        if "stacked_2" in med:
            text += (f"; grid / stacked_2 {med['grid'] / med['stacked_2']:.2f}x, grid_2 / "
                     f"stacked {med['grid_2'] / med['stacked']:.2f}x, grid_2 / stacked_2 "
                     f"{med['grid_2'] / med['stacked_2']:.2f}x")
        checks.append(text)

    out = [f"# Search benchmark: StackedGridSearchCV vs GridSearchCV, composite sine, N={N}, "
           f"cv={CV} (54 fits), float32", ""]
    out.extend(info)
    loads = [v for key in results.measurements for v in results.other_loads(key)]
    out.extend([
        "- load average at end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        f"- other load over all timed runs (cores of {os.cpu_count()}): median "
        f"{statistics.median(loads):.2f}, min {min(loads):.2f}, max {max(loads):.2f}",
        f"- repeats: {args.repeats} (round-robin; medians and min–max spread), 1 warm-up "
        f"per way at 1 epoch; wait for idle before each run: {args.wait_idle:g} s max",
        "",
        markdown_table(["estimator", "m", "epochs", "way", "s (median)", "spread (min–max)",
                        "CPU s", "ms/epoch/fit", "way / stacked", "way / stacked_2",
                        "other load"], rows),
        "",
        "Agreement with GridSearchCV(n_jobs=1) (the last timed repeat):",
        "",
        markdown_table(["estimator", "way", "same best_params_", "best (way)", "best (grid)",
                        "max |diff| split test score", "median |diff|", "nan (grid)",
                        "nan (way)"], agree),
        "",
    ])
    if not args.no_extras:
        rel, same, nan_same = exactness(X, y, args.exact_epochs)
        checks.append(f"float64 ({args.exact_epochs} epochs): max rel diff of per-split "
                      f"scores {rel:.1e}, same best {'yes' if same else 'NO'}, same "
                      f"diverged {'yes' if nan_same else 'NO'}")
        sk_s, ours_s = user_alternative(X, y, args.sklearn_epochs)
        per = CV * 18 * args.sklearn_epochs / 1e3
        out.extend([
            f"What a user without this library runs ({args.sklearn_epochs} epochs, one run each,"
            " n_jobs=1): GridSearchCV over `MLPRegressor(hidden_layer_sizes=(1000,), "
            "solver='sgd', batch_size=50, momentum=0.9)` on the same grid and folds.",
            "",
            markdown_table(["way", "s", "ms/epoch/fit", "way / stacked"],
                           [["GridSearchCV(MLPRegressor)", fmt_num(sk_s), fmt_num(sk_s / per),
                             fmt_ratio(sk_s / ours_s)],
                            ["StackedGridSearchCV(TwoLayerReLURegressor)", fmt_num(ours_s),
                             fmt_num(ours_s / per), "1.00x"]]),
            "",
        ])
        checks.append(f"GridSearchCV(MLPRegressor) / stacked {sk_s / ours_s:.1f}x")
        sweep, default = tile_sweep(X, y, args.sweep_epochs,
                                    SWEEP_TILES if not args.quick else (1, 18, 54))
        base = next(cpu for tile, cpu, _, _ in sweep if tile == 1)
        out.extend([
            f"Tile sweep (two_layer, {args.sweep_epochs} epochs, n_jobs=1): networks per "
            f"engine run against CPU time (the search's default tile here: {default}).",
            "",
            markdown_table(["networks per run", "engine runs", "CPU s", "CPU ms/epoch/fit",
                            "speed-up vs 1", "wall s", "other load"],
                           [[t, -(-54 // t), fmt_num(c), fmt_num(c / 54 / args.sweep_epochs
                                                                  * 1e3),
                             fmt_ratio(base / c), fmt_num(w), f"{ld:.2f}"]
                            for t, c, w, ld in sweep]),
            "",
        ])
        total, phases, ops, kernels = profile_search(X, y, args.profile_epochs)
        kern, grid_kern, grid_total = kernels
        out.extend([
            f"Where the time goes: one stacked search (two_layer, {args.profile_epochs} "
            f"epochs, default tiles), {total:.2f} CPU s under cProfile (nested phases: the "
            "engine lines are parts of 'train() total').",
            "",
            markdown_table(["phase", "s", "share"],
                           [[p, fmt_num(s), f"{100 * f:.1f}%"] for p, s, f in phases]),
            "",
            "torch operators (torch.profiler, self CPU time of the same search):",
            "",
            markdown_table(["operator", "self ms", "share", "calls"],
                           [[k, fmt_num(t), f"{100 * f:.1f}%", c] for k, t, f, c in ops]),
            "",
            f"The same search under GridSearchCV(n_jobs=1) and cProfile: {grid_total:.2f} CPU s,"
            f" {grid_kern:.2f} s ({grid_kern / grid_total:.0%}) in the same kernels (its"
            f" one-network fits run them too); the stacked search {kern:.2f} s"
            f" ({kern / total:.0%}).",
            "",
        ])
        # the timed search runs args.epochs (the extras run only with two_layer); the
        # kernels' time scales with the epochs
        floor = kern / args.profile_epochs * args.epochs
        grid_s = statistics.median(results.seconds(("two_layer", "grid")))
        checks.append(f"CEILING: GridSearchCV(n_jobs=1) / the stacked search's kernels "
                      f"alone ({floor:.2f} s at {args.epochs} epochs) = {grid_s / floor:.2f}x")
    out.extend(["CHECKS: " + " | ".join(checks),
                f"wall time of the run: {time.perf_counter() - wall_start:.1f} s"])
    print("\n".join(out), flush=True)
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="StackedGridSearchCV against GridSearchCV (n_jobs=1 and 2): round-robin "
        "over repeats, medians, ratios in one run.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 epochs, 1 repeat, a short tile sweep")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the two-layer fits (default 200; 2 with --quick)")
    parser.add_argument("--side-epochs", type=int, default=None,
                        help="epochs of the three-layer and deep fits (default 50)")
    parser.add_argument("--sweep-epochs", type=int, default=None,
                        help="epochs of the tile sweep (default 20)")
    parser.add_argument("--profile-epochs", type=int, default=None,
                        help="epochs of the profiled search (default 20)")
    parser.add_argument("--sklearn-epochs", type=int, default=None,
                        help="epochs of the GridSearchCV(MLPRegressor) comparison (default 20)")
    parser.add_argument("--exact-epochs", type=int, default=None,
                        help="epochs of the float64 exactness check (default 20)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="round-robin repeats (default 3; 1 with --quick)")
    parser.add_argument("--estimators", nargs="+", choices=list(ESTIMATORS),
                        default=list(ESTIMATORS), help="estimators to run (default: all)")
    parser.add_argument("--no-extras", action="store_true",
                        help="skip the tile sweep, the profile and the float64 check")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each timed run, wait up to SECONDS for the other "
                        "processes to use < 0.5 cores (default 0: no wait)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.epochs = args.epochs or (2 if quick else 200)
    args.side_epochs = args.side_epochs or (2 if quick else 50)
    args.sweep_epochs = args.sweep_epochs or (2 if quick else 20)
    args.profile_epochs = args.profile_epochs or (2 if quick else 20)
    args.exact_epochs = args.exact_epochs or (2 if quick else 20)
    args.sklearn_epochs = args.sklearn_epochs or (2 if quick else 20)
    args.repeats = args.repeats or (1 if quick else 3)
    if "two_layer" not in args.estimators:
        args.no_extras = True
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the loky workers' thread count too
    pin_threads(1, preload=["numpy", "scipy.linalg", "sklearn.linear_model", "torch",
                            "sklearn_overparam"])
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
