"""A whole tuning grid as one stacked engine run (``fit_grid``) against fitting it network by
network.

Protocol (the README's "Performance" section: round-robin, medians, ratios in one run)
------------------------------------------------------------------------------------
Data: ``make_composite_sine`` ([AZLL] Figure 1, d=4), N=1000 training points and 2000
validation points, float32. Two estimators, each with the grid [AZLL] tunes over
(18 networks):

``two_layer``    ``TwoLayerReLURegressor(n_hidden=1000, max_iter=epochs, tol=None)``,
                 grid ``learning_rate_init`` in {5, 10, 20} / m x ``alpha`` in {0, 1e-4} x
                 ``random_state`` in {0, 1, 2}.
``three_layer``  ``ThreeLayerReLURegressor(n_hidden=200, max_iter=epochs, tol=None)``,
                 grid ``learning_rate_init`` in {0.5, 1, 2} / m x ``alpha`` in {0, 1e-4} x
                 ``random_state`` in {0, 1, 2}.

Everything else is the estimator's default (momentum 0.9, batch 50, lr / 10 at half the
epochs, float32, CPU). ``tol=None`` makes every candidate run all ``--epochs`` epochs
(default 200), so both ways do the same number of steps.

Two ways to fit a grid, both timed over the same work (fit, ``predict`` and ``score`` on
the validation data for every candidate):

``stacked``  ``fit_grid(estimator, grid, X, y, X_val, y_val)``: the 18 candidates differ
             only in stackable parameters, so they train as ONE engine run of K=18 networks.
``loop``     ``for p in ParameterGrid(grid): clone(estimator).set_params(**p).fit(X, y)``,
             then ``predict`` and ``score`` on the validation data, one after another (a
             candidate whose training diverges gets an infinite MSE, as in ``fit_grid``).

Each way gets one warm-up (the grid at one epoch), then the timed runs go round-robin:
``for rep in repeats: for estimator: for way``. torch and every BLAS/OpenMP pool are
pinned to ``--threads`` (default 1).

Reading the table
-----------------
``s (median)`` is the median over the repeats of the wall time of the whole grid, with
the min-max ``spread``; ``CPU s`` the median CPU time of this process (wall time less the
time other processes held the core, with one thread); ``fit s`` the fitting part only
(``FitGridResult.fit_time``, and the sum of the ``fit`` calls of the loop). ``loop /
stacked`` is the loop's median over the stacked median (> 1: stacking is faster), on wall
time, CPU time and fit time. ``other load`` is the median number of cores that other
processes kept busy during the timed runs.

Agreement
---------
The stacked copy ``k`` is the very network, seeds and settings of candidate ``k``'s own
``fit``; only the rounding differs (batched ``bmm`` over K=18 instead of K=1 products, bias
folding chosen by size). In float32 over 4000 SGD steps that rounding does not stay small:
a pre-activation within rounding distance of 0 flips a ReLU, after which the two
trajectories separate by far more than 1e-7 (the per-candidate validation MSEs differ by
up to a few percent after 200 epochs; by about 1e-5 after 5). So the float32 tolerance is
measured, not assumed: once per run (untimed) both ways also run in float64, where the
rounding is 1e-16 and no ReLU flips, and

- ``exact``: float64 stacked vs float64 loop, max relative difference of the
  per-candidate validation MSE must be <= ``EXACT_RTOL`` (1e-9), with the same best
  parameters (the two ways are the same computation);
- the float32 tolerance is the float32 error of the one-at-a-time fits themselves,
  ``e_loop = |loop32 - ref| / ref`` per candidate (``ref`` = the float64 loop); its max over
  the candidates is printed as ``tol32``;
- ``float32``: the max relative difference ``|stacked32 - loop32| / loop32`` is printed
  (with the candidate it occurs at) beside ``tol32``, and the stacked fits' own float32
  error ``e_stacked = |stacked32 - ref| / ref`` must be of the same size as ``e_loop``:
  median over the candidates <= ``ERR_FACTOR`` (10) x the median of ``e_loop`` (floor
  1e-6). Medians, because a ReLU flip is a rare, large event (at 5 epochs one candidate of
  18 may see one and the others none), so maxima over 18 candidates are a coin toss;
- ``best``: both ways pick the same best parameters (smallest validation MSE) in float32,
  or, when they do not, the two picks are a tie that float32 cannot resolve: their
  reference MSEs differ by less than the float32 error (``e_loop`` or ``e_stacked``) of
  those two candidates;
- the float32 results are identical in every repeat, and both ways diverge on the same
  candidates (none here).

``--no-float64`` skips the reference runs (then only the float32 differences are shown).

Usage: ``python benchmarks/bench_grid.py [--quick] [--epochs 200] [--repeats 3]
[--threads 1] [--estimators two_layer three_layer] [--wait-idle 0] [--no-float64]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

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

N_TRAIN = 1000
N_VAL = 2000
N_FEATURES = 4
DATA_SEED = 0
SEEDS = (0, 1, 2)
ALPHAS = (0.0, 1e-4)
EXACT_RTOL = 1e-9  # float64 stacked vs float64 loop: the same computation
ERR_FACTOR = 10.0  # median stacked float32 error <= this x the loop's own (median)
ERR_FLOOR = 1e-6  # ... or below this (float32 rounding of the MSE itself)

ESTIMATORS = {
    # name: (class name, width m, learning rates as multiples of 1/m)
    "two_layer": ("TwoLayerReLURegressor", 1000, (5.0, 10.0, 20.0)),
    "three_layer": ("ThreeLayerReLURegressor", 200, (0.5, 1.0, 2.0)),
}


def make_data():
    from sklearn_overparam.datasets import make_composite_sine

    X, y = make_composite_sine(N_TRAIN + N_VAL, n_features=N_FEATURES, random_state=DATA_SEED)
    X, y = X.astype(np.float32), y.astype(np.float32)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def make_estimator(name, epochs):
    import sklearn_overparam

    cls_name, m, _ = ESTIMATORS[name]
    return getattr(sklearn_overparam, cls_name)(n_hidden=m, max_iter=epochs, tol=None)


def make_grid(name):
    _, m, lrs = ESTIMATORS[name]
    return {"learning_rate_init": [c / m for c in lrs], "alpha": list(ALPHAS),
            "random_state": list(SEEDS)}


def _val_mse(est, X_val, y_val):
    # as fit_grid computes it: float64 mean of the squared residuals of predict
    return float(np.mean((np.asarray(est.predict(X_val), dtype=float) - y_val) ** 2))


# ------------------------------------------------------------------------- the two ways
# Each returns a dict: val_mse (n_candidates,), best_index, params, fit_seconds.
def run_stacked(est, grid, X, y, X_val, y_val):
    from sklearn_overparam.model_selection import fit_grid

    res = fit_grid(est, grid, X, y, X_val, y_val)
    return {"val_mse": np.asarray(res.val_mse, dtype=float), "best_index": res.best_index,
            "params": res.params, "fit_seconds": res.fit_time,
            "engine_runs": res.n_engine_runs}


def run_loop(est, grid, X, y, X_val, y_val):
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    params = list(ParameterGrid(grid))
    val_mse = np.full(len(params), np.inf)
    fit_seconds = 0.0
    y_val = np.asarray(y_val)
    for i, p in enumerate(params):
        start = time.perf_counter()
        try:
            fitted = clone(est).set_params(**p).fit(X, y)
        except ValueError:  # diverged: fit_grid records inf for it too
            fit_seconds += time.perf_counter() - start
            continue
        fit_seconds += time.perf_counter() - start
        val_mse[i] = _val_mse(fitted, X_val, y_val)
        fitted.score(X_val, y_val)  # the same scoring work as fit_grid
    return {"val_mse": val_mse, "best_index": int(np.argmin(val_mse)), "params": params,
            "fit_seconds": fit_seconds, "engine_runs": len(params)}


WAYS = {"stacked": run_stacked, "loop": run_loop}


def _rel(a, b):
    """Per-candidate ``|a - b| / |b|`` (0 where both diverged, inf where only one did)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = np.where(np.isfinite(a) == np.isfinite(b), 0.0, np.inf)
    fin = np.isfinite(a) & np.isfinite(b)
    out[fin] = np.abs(a[fin] - b[fin]) / np.abs(b[fin])
    return out


def _best(run):
    return run["params"][run["best_index"]]


def _fmt_params(p, m):
    lr = p["learning_rate_init"] * m
    return f"lr {lr:g}/m, alpha {p['alpha']:g}, seed {p['random_state']}"


# ---------------------------------------------------------------------------- benchmark
def run_benchmark(args) -> int:
    wall_start = time.perf_counter()
    info = machine_info(args.threads)
    X, y, X_val, y_val = make_data()
    var_val = float(np.var(y_val.astype(np.float64)))

    def make_cell(name, way):
        grid = make_grid(name)

        def run():
            t = timed(lambda: WAYS[way](make_estimator(name, args.epochs), grid, X, y,
                                        X_val, y_val))
            return Measurement(t.seconds, t.payload, t.other_load, t.cpu_seconds)

        def warmup():
            WAYS[way](make_estimator(name, 1), grid, X, y, X_val, y_val)

        return Cell((name, way), run, warmup)

    cells = [make_cell(name, way) for name in args.estimators for way in WAYS]

    def describe(cell, meas):
        best = meas.payload["val_mse"].min()
        return (f"{meas.seconds:.2f} s (CPU {meas.cpu_seconds:.2f}, fit "
                f"{meas.payload['fit_seconds']:.2f}), best val MSE/Var {best / var_val:.3f}")

    results = round_robin(cells, args.repeats, log=stderr_log, describe=describe,
                          wait_idle=args.wait_idle)

    references, ref_seconds = {}, 0.0
    if args.float64:
        start = time.perf_counter()
        for name in args.estimators:
            grid = make_grid(name)
            est = make_estimator(name, args.epochs).set_params(dtype="float64")
            references[name] = (run_stacked(est, grid, X, y, X_val, y_val),
                                run_loop(est, grid, X, y, X_val, y_val))
            stderr_log(f"float64 reference runs of {name} done")
        ref_seconds = time.perf_counter() - start

    rows, agree_rows, cand_rows, checks, failures = [], [], [], [], []
    for name in args.estimators:
        cls_name, m, _ = ESTIMATORS[name]
        grid = make_grid(name)
        n_cand = len(grid["learning_rate_init"]) * len(grid["alpha"]) * len(grid["random_state"])
        med = {}
        for way in WAYS:
            key = (name, way)
            wall = median_spread(results.seconds(key))
            cpu = statistics.median(results.cpu_seconds(key))
            fit = statistics.median([p["fit_seconds"] for p in results.payloads(key)])
            med[way] = (wall[0], cpu, fit)
            load = statistics.median(results.other_loads(key))
            runs = results.payloads(key)[0]["engine_runs"]
            per_net = wall[0] / n_cand / args.epochs * 1e3
            rows.append([cls_name, m, way, n_cand, runs, fmt_num(wall[0]),
                         f"{fmt_num(wall[1])}–{fmt_num(wall[2])}", fmt_num(cpu), fmt_num(fit),
                         fmt_num(per_net), "", "", "", f"{load:.2f}"])
        speedup = [med["loop"][i] / med["stacked"][i] for i in range(3)]  # wall, CPU, fit
        rows[-1][10:13] = [fmt_ratio(v) for v in speedup]

        s32_runs = results.payloads((name, "stacked"))
        l32_runs = results.payloads((name, "loop"))
        s32, l32 = s32_runs[-1], l32_runs[-1]
        same_reps = all(np.array_equal(r["val_mse"], s32["val_mse"]) for r in s32_runs) and all(
            np.array_equal(r["val_mse"], l32["val_mse"]) for r in l32_runs)
        d32 = _rel(s32["val_mse"], l32["val_mse"])
        at = int(np.argmax(d32))
        best_same = _best(s32) == _best(l32)
        finite = l32["val_mse"][np.isfinite(l32["val_mse"])]
        row = [cls_name, _fmt_params(_best(s32), m), _fmt_params(_best(l32), m),
               f"{finite.min() / var_val:.4f}", f"{finite.max() / var_val:.4f}",
               len(l32["val_mse"]) - len(finite), "yes" if best_same else "**NO**",
               f"{d32[at]:.2e}", _fmt_params(s32["params"][at], m)]
        ok = same_reps and bool(np.isfinite(d32).all())
        verdict = [f"repeats identical {'yes' if same_reps else 'NO'}"]
        ref = references.get(name)
        if ref is None:
            ok = ok and best_same
            row += ["-", "-", "-", "-"]
        else:
            s64, l64 = ref
            exact = float(_rel(s64["val_mse"], l64["val_mse"]).max())
            exact_ok = exact <= EXACT_RTOL and _best(s64) == _best(l64)
            e_loop = _rel(l32["val_mse"], l64["val_mse"])
            e_stacked = _rel(s32["val_mse"], l64["val_mse"])
            tol32 = float(e_loop.max())
            med_l, med_s = float(np.median(e_loop)), float(np.median(e_stacked))
            err_ok = med_s <= max(ERR_FACTOR * med_l, ERR_FLOOR)
            picks = [s32["best_index"], l32["best_index"]]
            gap = float(_rel(l64["val_mse"][picks[0]], l64["val_mse"][picks[1]]))
            noise = float(max(e_loop[picks].max(), e_stacked[picks].max()))
            best_ok = best_same or gap < noise
            ok = ok and exact_ok and err_ok and best_ok
            row += [f"{exact:.1e}", f"{tol32:.2e} (median {med_l:.1e})",
                    f"{e_stacked.max():.2e} (median {med_s:.1e})",
                    "yes" if best_same else (f"tie: gap {gap:.1e} < {noise:.1e}" if best_ok
                                             else f"**NO**: gap {gap:.1e} >= {noise:.1e}")]
            verdict += [f"float64 exact {exact:.1e} <= {EXACT_RTOL:g} "
                        f"{'yes' if exact_ok else 'NO'}",
                        f"tol32 {tol32:.2e}",
                        f"median float32 error stacked {med_s:.1e} vs loop {med_l:.1e} "
                        f"(<= {ERR_FACTOR:g}x) {'yes' if err_ok else 'NO'}",
                        "same best " + ("yes" if best_same else
                                        (f"no, a tie float32 cannot resolve (reference gap "
                                         f"{gap:.1e} < float32 error {noise:.1e})"
                                         if best_ok else f"NO (gap {gap:.1e} >= {noise:.1e})"))]
            for i, p in enumerate(l32["params"]):
                cand_rows.append([
                    cls_name, _fmt_params(p, m), f"{s32['val_mse'][i] / var_val:.5f}",
                    f"{l32['val_mse'][i] / var_val:.5f}", f"{l64['val_mse'][i] / var_val:.5f}",
                    f"{d32[i]:.1e}", f"{_rel(l32['val_mse'], l64['val_mse'])[i]:.1e}",
                    f"{_rel(s32['val_mse'], l64['val_mse'])[i]:.1e}",
                    "".join(["S" if i == s32["best_index"] else "",
                             "L" if i == l32["best_index"] else "",
                             "R" if i == l64["best_index"] else ""]),
                ])
        row.append("PASS" if ok else "FAIL")
        agree_rows.append(row)
        if not ok:
            failures.append(name)
        checks.append(f"{name}: loop / stacked {speedup[0]:.2f}x wall ({speedup[1]:.2f}x CPU); "
                      f"max rel diff of val MSE stacked32 vs loop32 {d32[at]:.2e}; "
                      + ", ".join(verdict) + f": {'PASS' if ok else 'FAIL'}")

    out = [f"# Grid benchmark: fit_grid (one stacked engine run) vs one fit per candidate, "
           f"composite sine, N={N_TRAIN} (validation {N_VAL}), {args.epochs} epochs, "
           "float32", ""]
    out.extend(info)
    loads = [v for key in results.measurements for v in results.other_loads(key)]
    out.extend([
        "- load average at end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        f"- other load over all timed runs (cores of {os.cpu_count()}): median "
        f"{statistics.median(loads):.2f}, min {min(loads):.2f}, max {max(loads):.2f}",
        f"- repeats: {args.repeats} (round-robin; medians and min–max spread), 1 warm-up of "
        f"the grid at 1 epoch per way; wait for idle before each run: {args.wait_idle:g} s max",
        f"- grids: lr in {{5, 10, 20}}/m (two_layer) or {{0.5, 1, 2}}/m (three_layer) x alpha "
        f"in {{0, 1e-4}} x random_state in {{0, 1, 2}}; tol=None; Var(y_val) = {var_val:.3f}",
        "",
        markdown_table(
            ["estimator", "m", "way", "networks", "engine runs", "s (median)",
             "spread (min–max)", "CPU s", "fit s", "ms/epoch/network", "loop / stacked",
             "loop / stacked, CPU", "loop / stacked, fit", "other load"],
            rows),
        "",
        "Times cover the whole grid: fit, predict and score on the validation data of every "
        "candidate ('fit s' the fitting alone). 'loop / stacked' = the loop's median / the "
        "stacked median (> 1: stacking is faster).",
        "",
        markdown_table(
            ["estimator", "best (stacked32)", "best (loop32)", "best val MSE/Var",
             "worst val MSE/Var", "diverged", "same best", "max rel diff 32 (s vs l)",
             "at candidate", "float64 s vs l", "tol32 = max rel err l32 vs ref",
             "max rel err s32 vs ref", "best agree (32)", "agree"],
            agree_rows),
        "",
        "Per-candidate validation MSEs in float32 (the timed runs, stacked 's32' and loop "
        "'l32'; identical in every repeat) against the float64 reference 'ref' (the "
        "float64 loop; the float64 stacked run matches it to the 'float64 s vs l' "
        "column). See the module docstring for the checks"
        + ("" if args.float64 else " (float64 reference skipped: --no-float64)")
        + (f"; the float64 reference runs took {ref_seconds:.0f} s." if args.float64
           else "."),
        "",
    ])
    if cand_rows:
        out.extend([markdown_table(
            ["estimator", "candidate", "s32 MSE/Var", "l32 MSE/Var", "ref MSE/Var",
             "rel diff s32 vs l32", "rel err l32", "rel err s32", "best of (S, L, R)"],
            cand_rows), ""])
    out.extend([
        "CHECKS: " + " | ".join(checks),
        f"wall time of the run: {time.perf_counter() - wall_start:.1f} s",
    ])
    print("\n".join(out), flush=True)
    return 1 if failures else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="fit_grid (a grid as one stacked engine run) against fitting the grid "
        "one network after another (round-robin over repeats, medians, ratios in one run).")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 5 epochs, 1 repeat (unless --epochs/--repeats given)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per network (default 200; 5 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="round-robin repeats (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for torch (intra-op) and every BLAS/OpenMP pool via "
                        "threadpoolctl (default 1)")
    parser.add_argument("--estimators", nargs="+", choices=list(ESTIMATORS),
                        default=list(ESTIMATORS), help="estimators to run (default: both)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each timed run, wait up to SECONDS for the other "
                        "processes to use < 0.5 cores (default 0: no wait)")
    parser.add_argument("--no-float64", dest="float64", action="store_false",
                        help="skip the float64 reference runs of both ways (the float32 "
                        "tolerance and the exactness check)")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 5 if args.quick else 200
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    pin_threads(args.threads, preload=["numpy", "scipy.linalg", "sklearn.linear_model",
                                       "torch", "sklearn_overparam"])
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
