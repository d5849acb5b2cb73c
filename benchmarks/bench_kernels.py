"""Benchmark: empirical NTK Gram (closed form vs torch.func) and analytic NTK float32 vs float64.

Protocol (README, "Performance"): torch intra-op threads pinned explicitly (default:
all cores) and stated; a square float32 matmul rate measured at the start of the run; every
cell runs in a fresh child process (``subprocess``) so that its peak RSS (``VmHWM`` on Linux,
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` elsewhere; see ``_peak_rss_kib``) minus that
of an idle child that imported torch and the library is the cell's peak memory; methods are
round-robined over the repeats, each cell waits for the machine to be idle first, a child
reports the best of a few calls (up to 5 within ~1.5 s, one call for slow cells), and the
table reports the median over repeats and its min-max spread. Speedups are ratios of
medians from the same run.

Empirical NTK network: ``Sequential(Linear(d, m), ReLU, ..., Linear(m, 1))`` without biases,
He init from a seeded ``torch.Generator``, every layer trainable, scalar output, float32.

Effective FLOP count of the structured Gram (full, unsymmetrized work, as if both triangles
were computed): for each layer ``l`` with fan-in ``a`` and fan-out ``b``,
``2 n^2 (a + b)`` for the two Gram products ``H H^T`` and ``B B^T``, ``n^2`` for the
Hadamard product, ``2 n a b`` for the forward pass and ``2 n a b`` for back-propagating the
output sensitivities (all layers but the first). With ``Y = None`` the implementation does
about half of the Gram work, which is how it can exceed the square-matmul rate.

Run ``python benchmarks/bench_kernels.py`` (several minutes) or ``--quick`` (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

D_IN, WIDTH = 64, 512
SEED = 0
BUSY = []  # CPU busy fraction measured just before each cell


def _set_threads(n_threads):
    import torch

    torch.set_num_threads(n_threads)
    return torch


def _make_net(torch, depth):
    gen = torch.Generator().manual_seed(SEED)
    sizes = [D_IN] + [WIDTH] * (depth - 1) + [1]
    layers = []
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = torch.nn.Linear(a, b, bias=False)
        std = (2.0 / a) ** 0.5 if l < depth - 1 else (1.0 / a) ** 0.5
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=gen) * std)
        layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _inputs(torch, n, seed=SEED + 1):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, D_IN, generator=gen)
    return X / X.norm(dim=1, keepdim=True)


def _jacrev_gram(torch, net, X):
    """What the torch.func NTK tutorial does: vmap(jacrev) per sample, then sum_p J_p J_p^T."""
    from torch.func import functional_call, jacrev, vmap

    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p, x):
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, X)
    n = X.shape[0]
    K = None
    for J in jac.values():
        J = J.reshape(n, -1)
        K = J @ J.T if K is None else K.add_(J @ J.T)
    return K


def _child(cell):
    """Run one cell in this (fresh) process; print ``{"time": s, "maxrss_kib": ...}``."""
    torch = _set_threads(cell["threads"])
    import numpy as np

    from sklearn_overparam.kernels._empirical import empirical_ntk

    result = {}
    kind = cell["kind"]
    if kind == "idle":
        pass
    elif kind in ("structured", "jacrev"):
        net = _make_net(torch, cell["depth"])
        X = _inputs(torch, cell["n"])
        if kind == "structured":
            Xn = X.numpy()

            def run():
                return empirical_ntk(net, Xn, method="structured")
        else:

            def run():
                return _jacrev_gram(torch, net, X)

        result["time"], K = _best_of(run, warm=lambda: _warm(kind, net, X[:32]))
        result["checksum"] = float(np.asarray(K, dtype=np.float64).trace())
    elif kind.startswith("analytic"):
        from sklearn_overparam.kernels._analytic import relu_ntk_kernel

        dtype = np.float32 if kind.endswith("32") else np.float64
        X = _inputs(torch, cell["n"]).double().numpy()
        result["time"], _ = _best_of(
            lambda: relu_ntk_kernel(X, depth=cell["depth"], dtype=dtype),
            warm=lambda: relu_ntk_kernel(X[:32], depth=cell["depth"], dtype=dtype),
        )
    result["maxrss_kib"] = _peak_rss_kib()
    print(json.dumps(result))


def _warm(kind, net, X):
    if kind == "structured":
        from sklearn_overparam.kernels._empirical import empirical_ntk

        empirical_ntk(net, X.numpy(), method="structured")
    else:
        import torch

        _jacrev_gram(torch, net, X)


def _best_of(run, warm, budget=1.5, max_runs=5):
    """Best time of up to ``max_runs`` calls within ~``budget`` s (one call if slower).

    On a shared machine other processes only ever add time, so the best of a few calls
    inside one child, then the median over round-robin children, is the robust statistic.
    """
    warm()
    best, out, spent = float("inf"), None, 0.0
    for _ in range(max_runs):
        out = None
        t0 = time.perf_counter()
        out = run()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
        if spent + dt > budget:
            break
    return best, out


def _peak_rss_kib():
    """Peak RSS of this process since its exec, in KiB.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child forked from a large parent
    reports at least the parent's RSS (the first run read 781 MiB for every analytic cell);
    ``VmHWM`` belongs to the exec'd image only. ``ru_maxrss`` is the fallback elsewhere.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_child(cell, timeout=900):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(cell["threads"])
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cell)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cell {cell} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu_busy_fraction(interval=0.5):
    def sample():
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return idle, sum(vals)

    i0, t0 = sample()
    time.sleep(interval)
    i1, t1 = sample()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def _wait_idle(max_wait, busy=0.15):
    """Wait (at most ``max_wait`` s) until the CPUs are less than ``busy`` utilised.

    Returns the last measured busy fraction (other processes' load when the cell starts).
    """
    if not os.path.exists("/proc/stat"):
        time.sleep(1.0)
        return float("nan")
    start = time.perf_counter()
    frac = _cpu_busy_fraction()
    while frac > busy and time.perf_counter() - start < max_wait:
        frac = _cpu_busy_fraction()
    BUSY.append(frac)
    return frac


def _matmul_rate(torch, sizes, repeats=5):
    best = 0.0
    for n in sizes:
        gen = torch.Generator().manual_seed(n)
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        c = torch.empty(n, n)
        torch.mm(a, b, out=c)
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def structured_flops(n, depth):
    """Full (unsymmetrized) FLOPs of the structured Gram; see the module docstring."""
    sizes = [D_IN] + [WIDTH] * (depth - 1) + [1]
    total = 0
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        total += 2 * n * n * (a + b) + n * n + 2 * n * a * b
        if l > 0:
            total += 2 * n * a * b
    return total


def _fmt_spread(times):
    return f"{min(times):.3g}-{max(times):.3g}" if len(times) > 1 else "(1 run)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 3, 5])
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch intra-op threads (default: all cores)")
    parser.add_argument("--jacrev-max-n", type=int, default=2000,
                        help="largest n for vmap(jacrev); n=5000 needs ~16 GB for J")
    parser.add_argument("--jacrev-once-above", type=float, default=30.0,
                        help="seconds after which a jacrev cell is not repeated")
    parser.add_argument("--analytic-sizes", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--idle-wait", type=float, default=15.0,
                        help="max seconds to wait for an idle CPU before each cell")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return
    if args.quick:
        args.sizes, args.depths, args.repeats = [300, 800], [2, 3], 1
        args.analytic_sizes = [500]
    torch = _set_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} intra-op threads "
          f"(of {os.cpu_count()} cores), repeats={args.repeats}, d={D_IN}, m={WIDTH}, float32")
    rate = _matmul_rate(torch, [512, 1024] if args.quick else [1536, 2048, 2560])
    print(f"square float32 matmul: {rate:.1f} GFLOP/s (best of sizes ~2048)", flush=True)

    idle = [_run_child({"kind": "idle", "threads": args.threads})["maxrss_kib"]
            for _ in range(3)]
    base_kib = statistics.median(idle)
    print(f"idle child baseline RSS: {base_kib / 1024:.0f} MiB", flush=True)

    cells = [(depth, n) for depth in args.depths for n in args.sizes]
    times, peaks = _round_robin(
        args, cells, lambda n: ["structured"] + (["jacrev"] if n <= args.jacrev_max_n else []),
        base_kib)

    analytic_rows = _analytic(args, base_kib)

    header = ("| kernel | L | n | method | median s | min-max s | peak MiB | eff. GFLOP/s | "
              "% of matmul | speedup vs jacrev | rel. err vs float64 |")
    print()
    print(f"Threads: {args.threads}; square float32 matmul rate: {rate:.1f} GFLOP/s; "
          f"peak MiB = child peak RSS - idle child ({base_kib / 1024:.0f} MiB).")
    if BUSY:
        print(f"CPU busy with other work just before a cell: median "
              f"{100 * statistics.median(BUSY):.0f}%, max {100 * max(BUSY):.0f}% "
              f"({len(BUSY)} cells).")
    print()
    print(header)
    print("|" + " --- |" * 11)
    for depth, n in cells:
        for kind in ("structured", "jacrev"):
            key = (kind, depth, n)
            if key not in times:
                continue
            med = statistics.median(times[key])
            flops = speed = share = ""
            if kind == "structured":
                gflops = structured_flops(n, depth) / med / 1e9
                flops, share = f"{gflops:.0f}", f"{100 * gflops / rate:.0f}%"
                jac = times.get(("jacrev", depth, n))
                if jac:
                    speed = f"{statistics.median(jac) / med:.0f}x"
            name = "structured (closed form)" if kind == "structured" else "vmap(jacrev)+JJ^T"
            print(f"| empirical NTK | {depth} | {n} | {name} | {med:.3g} | "
                  f"{_fmt_spread(times[key])} | {peaks[key]:.0f} | {flops} | {share} | "
                  f"{speed} | |")
    for row in analytic_rows:
        print(row)


def _round_robin(args, cells, kinds_of, base_kib):
    """Time every ``(kind, depth, n)`` cell in a fresh child, round-robin over the repeats.

    ``kinds_of(n)`` lists the methods of a cell; their order alternates between repeats.
    A cell slower than ``--jacrev-once-above`` seconds runs only once. Returns
    ``times[(kind, depth, n)]`` (list of seconds) and ``peaks[...]`` (max MiB over the idle
    child).
    """
    times, peaks, once = {}, {}, set()
    for rep in range(args.repeats):
        for depth, n in cells:
            kinds = [k for k in kinds_of(n) if (k, depth, n) not in once]
            if rep % 2:
                kinds.reverse()
            for kind in kinds:
                _wait_idle(args.idle_wait)
                res = _run_child({"kind": kind, "depth": depth, "n": n,
                                  "threads": args.threads})
                key = (kind, depth, n)
                times.setdefault(key, []).append(res["time"])
                peak = (res["maxrss_kib"] - base_kib) / 1024
                peaks[key] = max(peaks.get(key, 0.0), peak)
                if res["time"] > args.jacrev_once_above:
                    once.add(key)
                print(f"  rep {rep} {kind:10s} L={depth} n={n}: {res['time']:.3f} s, "
                      f"{peak:.0f} MiB", flush=True)
    return times, peaks


def _analytic(args, base_kib):
    """Rows for relu_ntk_kernel float32 vs float64 (time, peak, relative error)."""
    try:
        import numpy as np

        from sklearn_overparam.kernels._analytic import relu_ntk_kernel
    except ImportError as exc:
        print(f"NOTE: analytic section skipped ({exc}).")
        return []
    import torch

    errors = {}
    cells = [(depth, n) for depth in args.depths for n in args.analytic_sizes]
    for depth, n in cells:
        X = _inputs(torch, n).double().numpy()
        K64 = relu_ntk_kernel(X, depth=depth, dtype=np.float64)
        K32 = relu_ntk_kernel(X, depth=depth, dtype=np.float32)
        errors[(depth, n)] = float(np.abs(K32 - K64).max() / np.abs(K64).max())
        del K32, K64
    times, peaks = _round_robin(args, cells, lambda n: ["analytic32", "analytic64"], base_kib)
    rows = []
    for depth, n in cells:
        for kind, label in (("analytic32", "float32"), ("analytic64", "float64")):
            key = (kind, depth, n)
            med = statistics.median(times[key])
            err = f"{errors[(depth, n)]:.1e}" if kind == "analytic32" else "0 (reference)"
            rows.append(f"| analytic relu_ntk_kernel | {depth} | {n} | {label} | {med:.3g} | "
                        f"{_fmt_spread(times[key])} | {peaks[key]:.0f} | | | | {err} |")
    return rows


if __name__ == "__main__":
    main()
