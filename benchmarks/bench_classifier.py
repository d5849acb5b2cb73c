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
    cells = [Cell((name,), lambda f=f: timed(f), warmup=f) for name, f in methods.items()]
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
    ref = med["DeepReLUClassifier (sgd)"]
    for row, name in zip(rows, methods):
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


if __name__ == "__main__":
    main()
