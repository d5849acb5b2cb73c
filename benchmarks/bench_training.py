"""Training speed of the stacked engine against what a user would pick instead.

Protocol (the README's "Performance" section, "Training")
------------------------------------------------------
Data: ``make_composite_sine`` ([AZLL] Figure 1: x uniform on S^3, d=4), N=1000 training
points and 2000 test points, float32. Network: two-layer ReLU net d=4 -> m -> 1 with a bias
in the hidden layer, m in ``--widths`` (default 500 and 2000). Optimizer: minibatch SGD,
batch 50, momentum 0.9 (heavy ball, no Nesterov, no dampening), lr 0.01, no weight decay,
a fresh shuffle every epoch, ``--epochs`` epochs (default 50, no early stopping), MSE.

Methods (all in this process; torch and every BLAS/OpenMP pool pinned to ``--threads``):

``sklearn``   ``MLPRegressor(solver="sgd")`` on float32 X and y, all epochs forced
              (``tol=0``, ``n_iter_no_change=epochs+1``). sklearn minimises *half* the MSE,
              so at the same lr its steps are half as long; its init is Glorot-uniform.
``skorch``    ``NeuralNetRegressor`` on ``Sequential(Linear, ReLU, Linear)``,
              ``torch.optim.SGD``, ``MSELoss``, ``train_split=None``,
              ``iterator_train__shuffle=True`` (skorch's DataLoader does not shuffle
              unless told), PyTorch's default init.
``torch``     a plain loop: the same ``nn.Sequential``, autograd, ``torch.optim.SGD``,
              manual shuffled minibatches (``randperm`` + indexing, no DataLoader).
``engine``    this library's ``training.train`` with K=1 on the very network of the torch
              loop: ``ReLUNetSpec`` with biases in both layers, all tensors trained,
              initialised from ``Sequential(Linear, ReLU, Linear)`` under the same seed
              (PyTorch's default init), so the two differ only in how a step is computed.
``engine16``  the same with K=16 stacked networks (16 seeds) in one call; its time is
              reported *per network* (total / 16).
``regressor`` ``TwoLayerReLURegressor`` in its own mode: only W trains (b, A frozen at
              init), inputs padded to (sqrt(3)/2 x, 0, 1/2), its default lr 0.005 divided
              by 10 at half the epochs; ``max_iter=epochs, tol=None``. A different task
              set-up, shown for the estimator's overhead over the bare engine.

Every method gets one warm-up fit of one epoch per width, then the timed fits run
round-robin: ``for rep in repeats: for method in methods: for width in widths``. A fit's
time covers everything the method does inside ``fit`` (model construction, init, data
conversion, training) but not the data generation or the test evaluation.

Reading the table
-----------------
``ms/epoch`` is the median over the repeats of (fit time / epochs), per network;
``spread`` the min-max over the repeats. ``vs sklearn`` and ``vs skorch`` are the other
method's median divided by this one's, at the same width: > 1 means this method is faster.
Absolute times drift by up to 1.5x on a shared machine; the ratios, measured in one
round-robin run, are what to compare. ``test MSE`` is measured on the 2000 test points
(median over the repeats; for engine16 over all networks of all repeats) and ``/Var`` is it
divided by the variance of the test targets; a method "learns" when this is < 0.7 (a
full run exits with status 2 if one does not). ``other load`` is the median number of cores
that *other* processes kept busy during the timed fits (/proc/stat minus this process): on
the 2-core machine, anything near 1 or above means the cell was contended and its absolute
time inflated; ``--wait-idle S`` waits up to S seconds for a quieter machine before each fit.

Three-layer rows
----------------
Network d -> m -> m -> 1 on the same data, batch, momentum, epochs and threads, m in
``--widths3`` (default 500 and 1000); their cells join the same round-robin (one warm-up fit
of one epoch each, then ``for rep: for method: for width``), so their ratios are measured in
the same run as the two-layer ones.

``sklearn3``    ``MLPRegressor(hidden_layer_sizes=(m, m), solver="sgd")``, otherwise the
                sklearn row's settings (float32 X and y, lr 0.01, momentum 0.9 without
                Nesterov, batch 50, all epochs forced, alpha 0): every layer and bias trains.
``three_layer`` ``ThreeLayerReLURegressor`` in its own mode: W and V train (biases and A
                frozen at init), inputs padded to (sqrt(3)/2 x, 0, 1/2) (d = 6), its
                default lr 0.002 divided by 10 at half the epochs, momentum 0.9, batch 50,
                ``max_iter=epochs, tol=None``, float32.

Their table adds ``CPU ms/epoch``: this process's CPU time per epoch (``time.process_time``
over the fit). With one thread it is the wall time less the time the scheduler gave the
core to other processes, so on a contended machine its ratio is the cleaner comparison;
the check uses the wall-time ratio, as every other row.

FLOP share: a square float32 ``torch.mm`` rate (GFLOP/s, best of 5 calls at 1536, 2048
and 2560, the measurement of ``bench_kernels.py``, via ``_common.matmul_rate``) is measured
at the start and at the end of the run; the higher is the run's matmul rate. The
three-layer SGD step is counted as ``2 B (d m + m m + m)`` FLOPs forward (the
``x W^T``, ``h V^T`` and output products, B = 50, d = 6) and twice that backward (the
gradients of W and V and the error back-propagated through V), ``ceil(N / B) = 20`` steps
an epoch; FLOPs per epoch over the median epoch time is the fit's FLOP rate, printed as a
share of the matmul rate (wall and CPU time), beside the rate of a lone
``(B x m) @ (m x m)`` product, the step's own matmul shape.
The matmul rate is MKL's (``torch.mm``); the step's large products go to oneDNN where it
is faster (``sklearn_overparam.nn.cpu_matmul``), so the share can exceed 100%.

The ``CHECKS`` line checks the targets: engine (K=1) >= 2.5x faster per epoch than sklearn
and >= 3x faster than skorch at every width, engine16 >= 5x faster per network than
sklearn at every width, and three_layer >= 1.5x faster per epoch than sklearn3 at every
width of ``--widths3``. ``--profile`` instead runs the engine and ThreeLayerReLURegressor
under ``torch.profiler`` (operators grouped by input shape) and prints where their time
goes.

``--runs N`` runs the whole benchmark N times in a row and ends with a ``RUNS`` line: the
engine's ratio to sklearn at every width in each run, and whether all reach 2.5x.

Usage: ``python benchmarks/bench_training.py [--quick] [--widths 500 2000]
[--widths3 500 1000] [--epochs 50] [--repeats 3] [--runs 1] [--threads 1] [--wait-idle 0]
[--methods sklearn skorch torch engine engine16 regressor] [--methods3 sklearn3 three_layer]
[--profile]``.
"""

from __future__ import annotations

import argparse
import math
import os
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
    matmul_rate,
    median_spread,
    pin_threads,
    round_robin,
    stderr_log,
    timed,
)

N_TRAIN = 1000
N_TEST = 2000
N_FEATURES = 4
BATCH = 50
LR = 0.01
MOMENTUM = 0.9
K_STACK = 16
DATA_SEED = 0
LEARN_THRESHOLD = 0.7  # test MSE / Var(y_test) below this counts as learning

METHODS = {
    "sklearn": "sklearn MLPRegressor (float32 X)",
    "skorch": "skorch NeuralNetRegressor",
    "torch": "plain torch loop (autograd + torch.optim)",
    "engine": "engine, K=1, all layers",
    "engine16": f"engine, K={K_STACK} stacked, per network",
    "regressor": "TwoLayerReLURegressor (W only, padded, lr 0.005)",
}
METHODS3 = {
    "sklearn3": "sklearn MLPRegressor (m, m) (float32 X)",
    "three_layer": "ThreeLayerReLURegressor (W, V; padded, lr 0.002)",
}
ENGINE_SPEEDUP = 2.5  # target: engine (K=1) >= this x faster per epoch than sklearn
THREE_LAYER_SPEEDUP = 1.5  # target: three_layer >= this x faster per epoch than sklearn3
SQUARE_SIZES, SQUARE_SIZES_QUICK = (1536, 2048, 2560), (512, 1024)


def three_layer_step_flops(m, d, batch=BATCH):
    """FLOPs of one SGD step of the d -> m -> m -> 1 net training W and V (module docstring):
    ``2 B (d m + m m + m)`` forward, twice that backward."""
    forward = 2 * batch * (d * m + m * m + m)
    return 3 * forward


# --------------------------------------------------------------------------- data
def make_data():
    from sklearn_overparam.datasets import make_composite_sine

    X, y = make_composite_sine(N_TRAIN + N_TEST, n_features=N_FEATURES, random_state=DATA_SEED)
    X, y = X.astype(np.float32), y.astype(np.float32)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


# ------------------------------------------------------------------------ methods
# Each fit_* trains on (X, y) and returns (timing Measurement, test predictions (K, n_test)).


def _fit_mlp(X, y, Xte, hidden, epochs, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    def fit():
        reg = MLPRegressor(
            hidden_layer_sizes=hidden, activation="relu", solver="sgd", learning_rate="constant",
            learning_rate_init=LR, momentum=MOMENTUM, nesterovs_momentum=False,
            batch_size=BATCH, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
            shuffle=True, alpha=0.0, early_stopping=False, random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return reg.fit(X, y)

    t = timed(fit)
    assert t.payload.n_iter_ == epochs, t.payload.n_iter_
    assert t.payload.coefs_[0].dtype == np.float32  # sklearn kept float32
    return t, t.payload.predict(Xte)[None, :]


def fit_sklearn(X, y, Xte, m, epochs, seed):
    return _fit_mlp(X, y, Xte, (m,), epochs, seed)


def fit_sklearn3(X, y, Xte, m, epochs, seed):
    return _fit_mlp(X, y, Xte, (m, m), epochs, seed)


def _sequential(m):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, m), torch.nn.ReLU(), torch.nn.Linear(m, 1)
    )


def fit_skorch(X, y, Xte, m, epochs, seed):
    import torch
    from skorch import NeuralNetRegressor

    y2 = y.reshape(-1, 1)

    def fit():
        torch.manual_seed(seed)  # module init and the DataLoader shuffle use torch's RNG
        net = NeuralNetRegressor(
            module=_sequential(m), criterion=torch.nn.MSELoss, optimizer=torch.optim.SGD,
            lr=LR, optimizer__momentum=MOMENTUM, batch_size=BATCH, max_epochs=epochs,
            train_split=None, iterator_train__shuffle=True, verbose=0, device="cpu",
        )
        return net.fit(X, y2)

    t = timed(fit)
    assert len(t.payload.history) == epochs
    return t, t.payload.predict(Xte)[:, 0][None, :]


def fit_torch(X, y, Xte, m, epochs, seed):
    import torch

    def fit():
        torch.manual_seed(seed)
        model = _sequential(m)
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        loss_fn = torch.nn.MSELoss()
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
        gen = torch.Generator().manual_seed(seed)
        n = Xt.shape[0]
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, BATCH):
                idx = perm[s : s + BATCH]
                opt.zero_grad()
                loss = loss_fn(model(Xt[idx]), Yt[idx])
                loss.backward()
                opt.step()
        return model

    t = timed(fit)
    with torch.no_grad():
        pred = t.payload(torch.from_numpy(Xte))[:, 0].numpy()
    return t, pred[None, :]


def _torch_default_params(m, seeds):
    """The stacked parameters of ``_sequential(m)`` built under each seed (PyTorch init)."""
    import torch

    nets = []
    for seed in seeds:
        torch.manual_seed(seed)  # the same module init as the torch loop and skorch
        nets.append(_sequential(m))
    layers = {"W0": 0, "b0": 0, "W1": 2, "b1": 2}
    return {
        name: torch.stack([(net[i].weight if name[0] == "W" else net[i].bias).detach()
                           for net in nets])
        for name, i in layers.items()
    }


def _fit_engine(X, y, Xte, m, epochs, seeds):
    import torch

    from sklearn_overparam.nn import LayerSpec, ReLUNetSpec, forward
    from sklearn_overparam.training import NetworkObjective, SGDConfig, train

    # the very network of the torch loop: biases in both layers, PyTorch's default init
    spec = ReLUNetSpec((LayerSpec(N_FEATURES, m, 0.0, bias=True),
                        LayerSpec(m, 1, 0.0, bias=True))).with_trainable("all")

    def fit():
        params = _torch_default_params(m, seeds)
        config = SGDConfig(learning_rate=LR, momentum=MOMENTUM, batch_size=BATCH,
                           max_epochs=epochs, sampling="shuffle", tol=None)
        with torch.no_grad():
            train(NetworkObjective(spec, "squared"), params, torch.from_numpy(X),
                  torch.from_numpy(y).unsqueeze(1), config, seeds)
        return params

    t = timed(fit)
    with torch.no_grad():
        pred = forward(spec, t.payload, torch.from_numpy(Xte))[:, :, 0].numpy()
    return t, pred


def fit_engine(X, y, Xte, m, epochs, seed):
    return _fit_engine(X, y, Xte, m, epochs, [seed])


def fit_engine16(X, y, Xte, m, epochs, seed):
    t, pred = _fit_engine(X, y, Xte, m, epochs, [seed * K_STACK + k for k in range(K_STACK)])
    t.seconds /= K_STACK  # per network
    t.cpu_seconds /= K_STACK
    return t, pred


def fit_regressor(X, y, Xte, m, epochs, seed):
    from sklearn_overparam import TwoLayerReLURegressor

    def fit():
        return TwoLayerReLURegressor(n_hidden=m, max_iter=epochs, tol=None,
                                     random_state=seed).fit(X, y)

    t = timed(fit)
    assert t.payload.n_iter_ == epochs
    return t, t.payload.predict(Xte)[None, :]


def _three_layer(m, epochs, seed):
    from sklearn_overparam import ThreeLayerReLURegressor

    return ThreeLayerReLURegressor(n_hidden=m, momentum=MOMENTUM, batch_size=BATCH,
                                   max_iter=epochs, tol=None, random_state=seed,
                                   dtype="float32")


def fit_three_layer(X, y, Xte, m, epochs, seed):
    t = timed(lambda: _three_layer(m, epochs, seed).fit(X, y))
    reg = t.payload
    assert reg.n_iter_ == epochs and tuple(reg.trainable_) == ("W0", "W1")
    assert reg.coefs_[0].shape == (m, N_FEATURES + 2)  # padded inputs, d = 6
    return t, reg.predict(Xte)[None, :]


FITS = {
    "sklearn": fit_sklearn,
    "skorch": fit_skorch,
    "torch": fit_torch,
    "engine": fit_engine,
    "engine16": fit_engine16,
    "regressor": fit_regressor,
    "sklearn3": fit_sklearn3,
    "three_layer": fit_three_layer,
}


# ----------------------------------------------------------------------- benchmark
def _square_sizes(args):
    return SQUARE_SIZES_QUICK if args.quick else SQUARE_SIZES


def _rates(args):
    """Square matmul rate and the step-shaped ``(B x m) @ (m x m)`` rate per width."""
    square = matmul_rate(_square_sizes(args))
    thin = {m: matmul_rate([(BATCH, m, m)], repeats=20) for m in args.widths3}
    return square, thin


def run_benchmark(args) -> int:
    wall_start = time.perf_counter()
    info = machine_info(args.threads)
    X, y, Xte, yte = make_data()
    var_y = float(np.var(yte.astype(np.float64)))
    rates_start = _rates(args) if "three_layer" in args.methods3 else None

    def make_cell(method, m):
        reps = iter(range(1, args.repeats + 1))  # seed of the fit = repeat number (1-based)

        def run():
            t, pred = FITS[method](X, y, Xte, m, args.epochs, next(reps))
            mse = np.mean((pred.astype(np.float64) - yte) ** 2, axis=1)
            return Measurement(t.seconds, mse, t.other_load, t.cpu_seconds)

        def warmup():
            FITS[method](X, y, Xte, m, 1, 0)

        return Cell((method, m), run, warmup)

    cells = [make_cell(method, m) for method in args.methods for m in args.widths]
    cells += [make_cell(method, m) for method in args.methods3 for m in args.widths3]

    def describe(cell, meas):
        ms = meas.seconds / args.epochs * 1e3
        cpu = meas.cpu_seconds / args.epochs * 1e3
        return (f"{ms:.2f} ms/epoch (CPU {cpu:.2f}), test MSE/Var "
                f"{np.median(meas.payload) / var_y:.3f}")

    results = round_robin(cells, args.repeats, log=stderr_log, describe=describe,
                          wait_idle=args.wait_idle)
    rates_end = _rates(args) if rates_start is not None else None

    ms, cpu_ms = {}, {}
    for key in results.measurements:
        ms[key] = median_spread([s / args.epochs * 1e3 for s in results.seconds(key)])
        cpu_ms[key] = median_spread([s / args.epochs * 1e3 for s in results.cpu_seconds(key)])

    def ratio(ref, key, table=ms):
        if (ref, key[1]) not in table:
            return float("nan")
        return table[(ref, key[1])][0] / table[key][0]

    not_learning = []

    def learning(key):
        mses = np.concatenate(results.payloads(key))
        mse = float(np.median(mses))
        learns = mse / var_y < LEARN_THRESHOLD
        if not learns:
            not_learning.append(f"{key[0]} m={key[1]}")
        return mses, mse, "yes" if learns else "**NO**"

    rows = []
    for method in args.methods:
        for m in args.widths:
            key = (method, m)
            med, lo, hi = ms[key]
            mses, mse, note = learning(key)
            if method == "engine16":
                worst = float(np.max(mses)) / var_y
                note += f" (worst net {worst:.2f})"
            load = statistics.median(results.other_loads(key))
            rows.append([
                METHODS[method], m, fmt_num(med), f"{fmt_num(lo)}–{fmt_num(hi)}",
                fmt_ratio(ratio("sklearn", key)), fmt_ratio(ratio("skorch", key)),
                fmt_num(mse), f"{mse / var_y:.3f}", note, f"{load:.2f}",
            ])
    rows3 = []
    for method in args.methods3:
        for m in args.widths3:
            key = (method, m)
            med, lo, hi = ms[key]
            _, mse, note = learning(key)
            load = statistics.median(results.other_loads(key))
            rows3.append([
                METHODS3[method], m, fmt_num(med), f"{fmt_num(lo)}–{fmt_num(hi)}",
                fmt_num(cpu_ms[key][0]), fmt_ratio(ratio("sklearn3", key)),
                fmt_ratio(ratio("sklearn3", key, cpu_ms)),
                fmt_num(mse), f"{mse / var_y:.3f}", note, f"{load:.2f}",
            ])

    out = []
    out.append(f"# Training benchmark: two-layer ReLU net d={N_FEATURES} -> m -> 1, "
               f"composite sine, N={N_TRAIN} (test {N_TEST}), batch {BATCH}, SGD momentum "
               f"{MOMENTUM}, lr {LR}, {args.epochs} epochs, float32, MSE")
    out.append("")
    out.extend(info)
    out.extend([
        "- load average at end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        f"- repeats: {args.repeats} (round-robin; medians and min–max spread), "
        f"1 warm-up fit of 1 epoch per method and width; wait for idle before each fit: "
        f"{args.wait_idle:g} s max",
        f"- Var(y_test) = {var_y:.3f}; 'learns' means test MSE / Var(y) < {LEARN_THRESHOLD}",
    ])
    all_loads = [v for key in results.measurements for v in results.other_loads(key)]
    if all_loads:
        out.append(f"- other load over all timed fits (cores of {os.cpu_count()}): median "
                   f"{statistics.median(all_loads):.2f}, min {min(all_loads):.2f}, max "
                   f"{max(all_loads):.2f}")
    if rows:
        out.append("")
        out.append(markdown_table(
            ["method", "m", "ms/epoch (median)", "spread (min–max)", "vs sklearn", "vs skorch",
             "test MSE", "MSE/Var(y)", "learns", "other load"],
            rows,
        ))
        out.append("")
        out.append("ms/epoch is per network (engine16: total / 16). 'vs X' = X's median / "
                   "this median (> 1: this method is faster). sklearn minimises half the MSE "
                   "(Glorot init); engine and engine16 train the torch loop's network from its "
                   "PyTorch init; regressor trains W only with its own defaults. 'other load' "
                   "= median cores kept busy by other processes during the timed fits (of "
                   f"{os.cpu_count()}; from /proc/stat, coarse).")
    if rows3:
        out.append("")
        out.append(f"## Three-layer ReLU net d -> m -> m -> 1 (same data, batch {BATCH}, "
                   f"momentum {MOMENTUM}, {args.epochs} epochs, float32, same round-robin)")
        out.append("")
        out.append(markdown_table(
            ["method", "m", "ms/epoch (median)", "spread (min–max)", "CPU ms/epoch",
             "vs sklearn (m, m)", "vs sklearn (m, m), CPU", "test MSE", "MSE/Var(y)",
             "learns", "other load"],
            rows3,
        ))
        out.append("")
        out.append("sklearn (m, m) trains every layer and bias at lr 0.01 (half MSE, Glorot "
                   "init, d = 4); ThreeLayerReLURegressor trains W and V only (d = 6 padded "
                   "inputs, lr 0.002, /10 at half the epochs). 'CPU ms/epoch' = this "
                   "process's CPU time per epoch (wall time less the time other processes "
                   "held the core); 'vs sklearn (m, m)' is the wall-time ratio of medians, "
                   "', CPU' the CPU-time one.")
        if rates_start is not None:
            out.append("")
            out.extend(_flop_share(args, ms, cpu_ms, rates_start, rates_end))
    out.append("")
    out.append(_checks(ms, args))
    if not_learning:
        out.append("NOT LEARNING (test MSE >= 0.7 Var(y)): " + ", ".join(not_learning)
                   + (" [--quick / few epochs: informational]" if args.epochs < 50 else ""))
    out.append(f"wall time of the run: {time.perf_counter() - wall_start:.1f} s")
    print("\n".join(out), flush=True)
    return (2 if not_learning and args.epochs >= 50 else 0), ms


def _flop_share(args, ms, cpu_ms, rates_start, rates_end) -> list[str]:
    """Lines: the three-layer fit's FLOP rate as a share of the run's matmul rate."""
    square = max(rates_start[0], rates_end[0])
    sizes = ", ".join(str(n) for n in _square_sizes(args))
    lines = [f"Matmul rate (torch.mm float32, {args.threads} thread(s), best of 5 at n = "
             f"{sizes}): {rates_start[0]:.1f} GFLOP/s at the start, {rates_end[0]:.1f} at "
             f"the end; the run's rate = {square:.1f} GFLOP/s."]
    steps = math.ceil(N_TRAIN / BATCH)
    d = N_FEATURES + 2
    for m in args.widths3:
        key = ("three_layer", m)
        if key not in ms:
            continue
        per_epoch = three_layer_step_flops(m, d) * steps
        wall = per_epoch / (ms[key][0] / 1e3) / 1e9
        cpu = per_epoch / (cpu_ms[key][0] / 1e3) / 1e9
        thin = max(rates_start[1][m], rates_end[1][m])
        lines.append(
            f"FLOP share, three_layer m={m}: {three_layer_step_flops(m, d):.3g} FLOP/step "
            f"(2B(dm+m^2+m) forward + twice that backward, B={BATCH}, d={d}) x {steps} "
            f"steps = {per_epoch:.3g} FLOP/epoch -> {wall:.1f} GFLOP/s on the wall-time "
            f"median = {100 * wall / square:.0f}% of the matmul rate ({cpu:.1f} GFLOP/s = "
            f"{100 * cpu / square:.0f}% on CPU time); a lone ({BATCH} x {m}) @ ({m} x {m}) "
            f"mm runs at {thin:.1f} GFLOP/s ({100 * thin / square:.0f}%)."
        )
    return lines


def _checks(ms, args) -> str:
    targets = [("engine", "sklearn", ENGINE_SPEEDUP, args.widths),
               ("engine", "skorch", 3.0, args.widths),
               ("engine16", "sklearn", 5.0, args.widths),
               ("three_layer", "sklearn3", THREE_LAYER_SPEEDUP, args.widths3)]
    parts = []
    for method, ref, target, widths in targets:
        label = f"{method} >= {target:g}x {ref}"
        values = []
        for m in widths:
            if (method, m) in ms and (ref, m) in ms:
                values.append((m, ms[(ref, m)][0] / ms[(method, m)][0]))
        if not widths or len(values) < len(widths):
            parts.append(f"{label}: n/a (method not run)")
            continue
        ok = all(v >= target for _, v in values)
        shown = ", ".join(f"m={m} {v:.2f}x" for m, v in values)
        parts.append(f"{label} [{shown}] {'PASS' if ok else 'FAIL'}")
    return "CHECKS: " + " | ".join(parts)


# ------------------------------------------------------------------------- profile
def run_profile(args) -> int:
    """Where the time goes: torch.profiler over the engine's ``train`` for each width (two
    layers, K=1 and K=16; when ``--methods`` is not empty) and over a
    ``ThreeLayerReLURegressor`` fit for each ``--widths3`` width (when ``three_layer`` is in
    ``--methods3``; operators grouped by input shape)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from sklearn_overparam.nn import azll_two_layer, init_params
    from sklearn_overparam.training import NetworkObjective, SGDConfig, train

    X, y, _, _ = make_data()
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(1)
    epochs = min(args.epochs, 5)
    steps = epochs * N_TRAIN // BATCH
    print("\n".join(machine_info(args.threads)))
    for k in (1, K_STACK) if args.methods else ():
        for m in args.widths:
            spec = azll_two_layer(N_FEATURES, m).with_trainable("all")
            seeds = list(range(k))
            config = SGDConfig(learning_rate=LR, momentum=MOMENTUM, batch_size=BATCH,
                               max_epochs=epochs, tol=None)

            def go(spec=spec, seeds=seeds, config=config):
                params = init_params(spec, seeds)
                with torch.no_grad():
                    train(NetworkObjective(spec, "squared"), params, Xt, Yt, config, seeds)

            go()  # warm-up
            plain = timed(go).seconds
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                go()
            print(f"\n## engine K={k} m={m}: {plain / steps * 1e3:.3f} ms/step unprofiled "
                  f"({plain / epochs * 1e3:.1f} ms/epoch), {steps} steps profiled")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
    if "three_layer" in args.methods3:
        _profile_three_layer(args, X, y, epochs, steps)
    return 0


def _profile_three_layer(args, X, y, epochs, steps):
    from torch.profiler import ProfilerActivity, profile

    square = matmul_rate(_square_sizes(args))
    print(f"\nsquare float32 matmul rate: {square:.1f} GFLOP/s")
    d = N_FEATURES + 2
    for m in args.widths3:
        def go(m=m):
            return _three_layer(m, epochs, 1).fit(X, y)

        _three_layer(m, 1, 0).fit(X, y)  # warm-up
        plain = timed(go)
        flops = three_layer_step_flops(m, d) * steps
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            go()
        print(f"\n## ThreeLayerReLURegressor m={m}: {plain.seconds / steps * 1e3:.3f} ms/step "
              f"unprofiled ({plain.seconds / epochs * 1e3:.1f} ms/epoch wall, "
              f"{plain.cpu_seconds / epochs * 1e3:.1f} CPU; "
              f"{flops / plain.seconds / 1e9:.1f} GFLOP/s = "
              f"{100 * flops / plain.seconds / 1e9 / square:.0f}% of the matmul rate; other "
              f"load {plain.other_load:.2f}), one fit of {epochs} epochs = {steps} steps "
              "profiled, by input shape")
        print(prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=22, max_name_column_width=28,
            max_shapes_column_width=80))
        _op_clock(go, m)


def _op_clock(fit, m, rows=14):
    """Thread CPU time per aten operator of one more fit (a ``TorchDispatchMode``).

    torch.profiler times operators on the wall clock, so on a shared machine an operator
    inherits whatever preemption hit it (and, seen here, the weight-gradient ``bmm`` of
    the transposed batch reads ~2.5x slower under the profiler than without it); this
    clock reads ``time.thread_time`` around each operator instead.
    """
    import collections

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    stats = collections.defaultdict(lambda: [0, 0.0])

    class Clock(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            start = time.thread_time()
            out = func(*args, **(kwargs or {}))
            seconds = time.thread_time() - start
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            if not tensors and args and isinstance(args[0], list | tuple):
                tensors = [a for a in args[0] if isinstance(a, torch.Tensor)][:1]
            key = (func.overloadpacket.__name__, tuple(tuple(a.shape) for a in tensors))
            stats[key][0] += 1
            stats[key][1] += seconds
            return out

    start = time.thread_time()
    with Clock():
        fit()
    total = time.thread_time() - start
    print(f"thread CPU time per operator, one more fit at m={m} ({total * 1e3:.0f} ms CPU in "
          "all, clock overhead included; operators exclude it):")
    table = []
    for (name, shapes), (calls, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        table.append([name, " ".join(str(list(sh)) for sh in shapes), calls,
                      f"{seconds * 1e3:.1f}", f"{seconds / calls * 1e6:.1f}",
                      f"{100 * seconds / total:.1f}%"])
    print(markdown_table(["op", "input shapes", "calls", "CPU ms", "us/call", "share"],
                         table[:rows]))


# ---------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Training speed per epoch of sklearn, skorch, a plain torch loop and "
        "this library's stacked engine on the [AZLL] composite-sine task, two- and "
        "three-layer (the README's protocol: round-robin over repeats, medians, ratios "
        "within one run).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 5 epochs, 1 repeat (unless --epochs/--repeats given)")
    parser.add_argument("--widths", type=int, nargs="+", default=[500, 2000],
                        help="hidden widths m (default: 500 2000)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per fit (default 50; 5 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="round-robin repeats (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for torch (intra-op) and every BLAS/OpenMP pool via "
                        "threadpoolctl (default 1)")
    parser.add_argument("--methods", nargs="*", choices=list(METHODS), default=list(METHODS),
                        help="two-layer methods to run, in this order (default: all; none "
                        "with an empty list)")
    parser.add_argument("--widths3", type=int, nargs="+", default=[500, 1000],
                        help="widths m of the three-layer rows d -> m -> m -> 1 (default: "
                        "500 1000)")
    parser.add_argument("--methods3", nargs="*", choices=list(METHODS3),
                        default=list(METHODS3),
                        help="three-layer methods to run, in this order (default: all; none "
                        "with an empty list)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each timed fit, wait up to SECONDS for the other "
                        "processes to use < 0.5 cores (default 0: no wait)")
    parser.add_argument("--runs", type=int, default=1,
                        help="whole benchmarks run one after another (default 1); with more "
                        "than one, a last line checks the engine (K=1) target in every run")
    parser.add_argument("--profile", action="store_true",
                        help="profile the engine (K=1 and K=16) and ThreeLayerReLURegressor "
                        "with torch.profiler instead of benchmarking (at most 5 epochs)")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 5 if args.quick else 50
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.epochs < 1 or args.repeats < 1 or args.runs < 1:
        parser.error("--epochs, --repeats and --runs must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # import every library with a native thread pool before limiting the pools
    pin_threads(args.threads, preload=["numpy", "scipy.linalg", "sklearn.neural_network",
                                       "torch", "skorch", "sklearn_overparam"])
    if args.profile:
        return run_profile(args)
    code, ratios = 0, {m: [] for m in args.widths}
    for run in range(args.runs):
        if args.runs > 1:
            print(f"\n# Run {run + 1} of {args.runs}\n", flush=True)
        status, ms = run_benchmark(args)
        code = max(code, status)
        for m in args.widths:
            if ("engine", m) in ms and ("sklearn", m) in ms:
                ratios[m].append(ms[("sklearn", m)][0] / ms[("engine", m)][0])
    if args.runs > 1 and all(ratios.values()):
        ok = all(r >= ENGINE_SPEEDUP for rs in ratios.values() for r in rs)
        shown = "; ".join(f"m={m}: " + ", ".join(f"{r:.2f}x" for r in rs)
                          for m, rs in ratios.items())
        print(f"\nRUNS: engine (K=1) vs sklearn per epoch in each of {args.runs} consecutive "
              f"runs [{shown}]: {'PASS' if ok else 'FAIL'} (target >= {ENGINE_SPEEDUP:g}x in "
              "every run)", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

