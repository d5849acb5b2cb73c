"""Training speed of DeepReLUClassifier against MLPClassifier and skorch ([CCZG] networks).

Protocol (the README's "Performance" section): binary ``make_cczg_clusters`` data (d=10,
unit-norm rows), N=2000, a 5-layer ReLU network of width 256 (``depth=5`` weight matrices:
``MLPClassifier(hidden_layer_sizes=(256,) * 4)``), minibatch SGD with batch 64, no momentum,
``--epochs`` epochs, float32, one thread. ``DeepReLUClassifier(solver="sgd")`` trains all
layers of ``sqrt(m) W_L relu(...)`` (no biases); sklearn's MLP has biases and a logistic
output; skorch trains ``Sequential(Linear, ReLU, ...)`` with ``BCEWithLogitsLoss``. Timed
round-robin (``--repeats``), medians and min-max spread per epoch, the fit's CPU time
beside its wall time. The last line checks DeepReLUClassifier >= 2x faster per epoch than
both.

Two more rows time only the matrix products of an epoch's steps (the 14 of a step: 5
forward, 5 weight gradients, 4 backpropagated deltas, at sklearn's shapes; 9 of them
``(64 x 256) @ (256 x 256)``-sized) with each side's GEMM: numpy's BLAS (what
``MLPClassifier`` calls) and the faster of torch's two CPU GEMMs, MKL (``torch.bmm``) and
oneDNN (what this library's router picks between). The ``CEILING`` line divides
``MLPClassifier``'s epoch by the torch products alone: the ratio this library's step would
reach if everything besides its products cost nothing.

Usage: ``python benchmarks/bench_classifier.py [--quick] [--epochs 20] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import (
    Cell,
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=5)
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 20)
    repeats = args.repeats or (1 if args.quick else 3)
    pin_threads(1)

    import torch
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from skorch import NeuralNetBinaryClassifier

    from sklearn_overparam import DeepReLUClassifier
    from sklearn_overparam.datasets import make_cczg_clusters

    X, y = make_cczg_clusters(2000, random_state=0)
    X = X.astype(np.float32)
    y01 = (y > 0).astype(np.int64)
    m, L = args.width, args.depth
    lr = 8.0 / (L * m)

    def ours():
        return DeepReLUClassifier(width=m, depth=L, solver="sgd", batch_size=64, max_iter=epochs,
                                  tol=None, random_state=0).fit(X, y01)

    def sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return MLPClassifier(hidden_layer_sizes=(m,) * (L - 1), solver="sgd",
                                 batch_size=64, learning_rate_init=0.01, momentum=0.0,
                                 max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
                                 random_state=0).fit(X, y01)

    def skorch():
        layers = []
        fan_in = X.shape[1]
        for _ in range(L - 1):
            layers += [torch.nn.Linear(fan_in, m), torch.nn.ReLU()]
            fan_in = m
        layers.append(torch.nn.Linear(fan_in, 1))
        module = torch.nn.Sequential(*layers, torch.nn.Flatten(0))
        net = NeuralNetBinaryClassifier(module, optimizer=torch.optim.SGD, lr=0.01,
                                        batch_size=64, max_epochs=epochs, train_split=None,
                                        iterator_train__shuffle=True, verbose=0)
        return net.fit(X, y01.astype(np.float32))

    methods = {"DeepReLUClassifier (sgd)": ours, "sklearn MLPClassifier": sklearn,
               "skorch NeuralNetBinaryClassifier": skorch}
    steps = epochs * -(-X.shape[0] // 64)
    shapes = step_products(64, X.shape[1], m, L)
    floors = {"products only: numpy (sklearn's GEMM)":
              lambda: numpy_products(shapes, steps, 64),
              "products only: torch MKL": lambda: torch_products(shapes, steps, "blas"),
              "products only: torch oneDNN": lambda: torch_products(shapes, steps, "onednn")}
    cells = [Cell((name,), lambda f=f: timed(f), warmup=f)
             for name, f in {**methods, **floors}.items()]
    res = round_robin(cells, repeats, log=stderr_log)
    med = {}
    rows = []
    for name in methods:
        secs = [s / epochs * 1e3 for s in res.seconds((name,))]
        cpu = [s / epochs * 1e3 for s in res.cpu_seconds((name,))]
        mid, lo, hi = median_spread(secs)
        med[name] = (mid, float(np.median(cpu)))
        est = res.payloads((name,))[-1]
        acc = float(np.mean(np.asarray(est.predict(X)).astype(int).ravel() == y01))
        rows.append([name, fmt_num(mid), f"{fmt_num(lo)}-{fmt_num(hi)}",
                     fmt_num(med[name][1]), fmt_num(acc),
                     fmt_num(float(np.median(res.other_loads((name,)))))])
    for name in floors:
        secs = [s / epochs * 1e3 for s in res.seconds((name,))]
        mid, lo, hi = median_spread(secs)
        med[name] = (mid, mid)
        rows.append([name, fmt_num(mid), f"{fmt_num(lo)}-{fmt_num(hi)}", "-", "-",
                     fmt_num(float(np.median(res.other_loads((name,)))))])
    ref = med["DeepReLUClassifier (sgd)"]
    for row, name in zip(rows, [*methods, *floors]):
        row.insert(4, fmt_ratio(med[name][0] / ref[0]))
    print("\n".join(machine_info(1)))
    print(f"\nL={L}, m={m}, N=2000, batch 64, {epochs} epochs, {repeats} repeats (lr of ours "
          f"{lr:.3g} = 8/(L m))\n")
    print(markdown_table(["method", "ms/epoch", "spread", "CPU ms/epoch",
                          "its time / ours", "train acc", "other load"], rows))
    vs_sk = med["sklearn MLPClassifier"][0] / ref[0]
    vs_skorch = med["skorch NeuralNetBinaryClassifier"][0] / ref[0]
    ok = vs_sk >= 2 and vs_skorch >= 2
    print(f"\nCHECK: DeepReLUClassifier >= 2x sklearn [{vs_sk:.2f}x] and >= 2x skorch "
          f"[{vs_skorch:.2f}x] per epoch: {'PASS' if ok else 'FAIL'}")
    numpy_floor = med["products only: numpy (sklearn's GEMM)"][0]
    torch_floor = min(med["products only: torch MKL"][0], med["products only: torch oneDNN"][0])
    print(f"CEILING: MLPClassifier's epoch / the torch products alone = "
          f"{med['sklearn MLPClassifier'][0] / torch_floor:.2f}x (the products are "
          f"{torch_floor / ref[0]:.0%} of our epoch; numpy's are "
          f"{numpy_floor / med['sklearn MLPClassifier'][0]:.0%} of sklearn's)")


def step_products(batch, d, m, L):
    """The ``(p, q, r)`` of the 14 products of one SGD step of a depth-``L`` MLP (one
    output), as ``MLPClassifier`` computes them: forward ``h W``, weight gradients
    ``h^T delta``, and the deltas ``delta W^T`` of every layer above the first."""
    widths = [d, *([m] * (L - 1)), 1]
    fwd = [(batch, a, b) for a, b in zip(widths, widths[1:])]
    grads = [(a, batch, b) for a, b in zip(widths, widths[1:])]
    deltas = [(batch, b, a) for a, b in zip(widths[1:-1], widths[2:])]
    return fwd + grads + deltas


def numpy_products(shapes, steps, batch):
    """``steps`` steps of the products with numpy (float32), the weight gradients (the
    products over the ``batch`` samples) from transposed views as sklearn's
    ``safe_sparse_dot(X.T, delta)``."""
    rng = np.random.default_rng(0)
    pairs = []
    for p, q, r in shapes:
        a = rng.standard_normal((q, p) if q == batch else (p, q)).astype(np.float32)
        pairs.append((a.T if q == batch else a, rng.standard_normal((q, r)).astype(np.float32)))
    for _ in range(steps):
        for a, b in pairs:
            a @ b


def torch_products(shapes, steps, gemm):
    """``steps`` steps of the products with one of torch's CPU GEMMs, as this library's
    router calls them (``(1, p, q) @ (1, q, r)``, float32, no autograd)."""
    import torch

    from sklearn_overparam.nn import cpu_matmul
    from sklearn_overparam.nn._matmul import bmm

    gen = torch.Generator().manual_seed(0)
    pairs = [(torch.randn(1, p, q, generator=gen), torch.randn(1, q, r, generator=gen))
             for p, q, r in shapes]
    with torch.no_grad(), cpu_matmul(gemm):
        for _ in range(steps):
            for a, b in pairs:
                bmm(a, b)


if __name__ == "__main__":
    main()
