"""[LL] Figure 1 (structured mixture) and an offline analogue of Figure 2 (digits).

The [LL] two-layer learner (``f_i(x) = sum_r a_ir relu(<w_r, x>)``, ``w ~ N(0, I/m)``,
``a ~ N(0, 1)`` fixed, only ``w`` trained by plain minibatch SGD on the softmax
cross-entropy, [LL] Sec. 3 and 7) for several widths ``m``, with the step size
``eta = c / m``. Panels, one curve per ``m`` ([LL] Sec. 7, Figures 1 and 2):

(a) test accuracy against the SGD steps;
(b) "coupling": the fraction of (test point, hidden unit) pairs whose ReLU pattern
    ``1[<w_r, x> > 0]`` differs from the one at initialization;
(c) the relative distance ``||W_t - W_0||_F / ||W_0||_F``;
(d) the top singular values of the accumulated update ``W_T - W_0`` (solid) against those
    of ``W_T`` (dotted), log scale.

Row 1 is the synthetic data of [LL] Sec. 7: ``d = 1000``, ``k = 10`` classes, each a
mixture of ``l = 2`` Gaussians (``sigma = 1``, ``sigma0 = 5``), 1000 training / 1000 test
points (not normalised, as in Sec. 7), ``T = 400`` steps of batch 16, ``eta = 10 / m``.
[LL] find test accuracy "quickly converges to 100%", activation-pattern difference and
relative distance below 0.1, both shrinking with ``m``, and "the top 20 singular values of
the accumulated updates are much larger than the rest" (``k l = 20``), unlike the spectrum
of ``W_T``. These curves are recorded after chosen steps by an engine callback passed
through ``callbacks=`` (the whole story happens within the first epoch of 63 steps).

Row 2 replaces MNIST (Figure 2: ``T = 2 10^4``, ``B = 64``, ``eta = 4000 / m``) by the
offline ``sklearn.datasets.load_digits`` (8x8 digits, 10 classes, inputs scaled to unit
norm, 1000 training / 797 test points, batch 64): the constant ``c`` of ``eta = c / m`` is
chosen by a short sweep at the middle width (the smallest ``c`` within one point of the
best test accuracy), and the curves are the estimator's own ``record_every`` diagnostics on
``diagnostics_X`` (the test set), with the test accuracy recorded per epoch by a callback
into ``history_``. [LL] report MNIST results "similar to those on the synthetic data
(though less significant)", the trend "more evident with more overparameterization".

Prints one table per data set (final test accuracy, activation change, relative distance,
``s20/s21`` and effective ranks of ``W_T - W_0`` and ``W_T``) and writes a PNG.

Run ``python examples/plot_ll_figure1.py [--quick] [--output PATH]`` (default mode: 1-2
minutes on 2 cores with OMP_NUM_THREADS=1, 5 seeds per width as in [LL] Sec. 7, the curves
of the first; ``--quick``: small data and widths, one seed).
"""

import argparse
import math
import pathlib
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sklearn_overparam import TwoLayerReLUClassifier  # noqa: E402
from sklearn_overparam.datasets import make_structured_mixture  # noqa: E402
from sklearn_overparam.diagnostics import (  # noqa: E402
    DiagnosticsRecorder,
    effective_rank,
    singular_value_gap,
)
from sklearn_overparam.nn import forward, ll_two_layer  # noqa: E402
from sklearn_overparam.plotting import DiagnosticsDisplay, SpectrumDisplay  # noqa: E402
from sklearn_overparam.training import Callback  # noqa: E402

TITLE = "[LL] Figure 1 (mixture) and an offline Figure 2 (digits): SGD stays near its init"
# measured on 2 loaded CPU cores: about 50 s (mixture) + 30 s (digits), 5 seeds each
FULL = {
    "widths": (500, 1000, 2000), "n_seeds": 5,
    "mixture": {"n_features": 1000, "n_train": 1000, "n_test": 1000, "steps": 400,
                "batch_size": 16, "lr_scale": 10.0,
                "record": (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300,
                           400)},
    "digits": {"n_train": 1000, "steps": 2000, "batch_size": 64, "record_every": 2,
               "lr_scales": (1.0, 10.0, 100.0, 1000.0)},
}
QUICK = {
    "widths": (64, 128), "n_seeds": 1,
    "mixture": {"n_features": 100, "n_train": 200, "n_test": 200, "steps": 60,
                "batch_size": 16, "lr_scale": 10.0, "record": (0, 1, 3, 10, 30, 60)},
    "digits": {"n_train": 500, "steps": 160, "batch_size": 64, "record_every": 2,
               "lr_scales": (10.0, 100.0)},
}
GAP_INDEX = 20  # s_20 / s_21: k l = 20 components in the mixture
COLUMNS = ("test_accuracy", "activation_change_0", "relative_distance_0")
Y_LABELS = {"test_accuracy": "(a) test accuracy",
            "activation_change_0": "(b) activation-pattern change",
            "relative_distance_0": "(c) ||W_t - W_0||_F / ||W_0||_F"}


class StepDiagnostics(Callback):
    """Engine callback: test accuracy and the [LL] diagnostics after chosen SGD steps.

    At ``on_train_begin`` it builds a :class:`DiagnosticsRecorder` on the test inputs from
    the initial weights; after each step in ``steps`` it snapshots the weights there (the
    recorder measures its snapshots in one batch later) and computes the test accuracy.
    """

    def __init__(self, steps, X, y):
        self.steps = sorted({int(s) for s in steps})
        self.X, self.y = X, y

    def on_train_begin(self, params, ctx):
        W0, W1 = params["W0"], params["W1"]  # (1, m, d) trained, (1, k, m) fixed
        self.spec = ll_two_layer(W0.shape[2], W0.shape[1], W1.shape[1])
        self._X = torch.as_tensor(self.X, dtype=W0.dtype, device=W0.device)
        self._y = torch.as_tensor(self.y, device=W0.device)
        self.recorder = DiagnosticsRecorder(self.spec, params, self._X, rows="all",
                                            layers=[], ntk_every=10**9, record_init=False)
        self._accuracy = []
        self._wanted = set(self.steps) - {0}
        if 0 in self.steps:
            self._snapshot(params, 0)

    def _snapshot(self, params, step):
        self.recorder.snapshot(params, step)
        with torch.no_grad():
            out = forward(self.spec, params, self._X)
            self._accuracy.append((out.argmax(dim=-1) == self._y).double().mean(dim=-1))

    def on_step_end(self, params, value, ctx):
        if ctx.step + 1 in self._wanted:
            self._snapshot(params, ctx.step + 1)

    @property
    def records(self):
        """``diagnostics_``-like dict with a ``"step"`` and a ``"test_accuracy"`` column."""
        rec = {k: np.asarray(v) for k, v in self.recorder.records.items() if k != "copy"}
        rec["step"] = rec.pop("epoch")
        rec["test_accuracy"] = torch.cat(self._accuracy).cpu().numpy()
        return rec


class TestAccuracy(Callback):
    """Epoch callback: records the test accuracy into the run's history (``history_``)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_epoch_end(self, info):
        W0, W1 = info.params["W0"], info.params["W1"]
        X = torch.as_tensor(self.X, dtype=W0.dtype, device=W0.device)
        with torch.no_grad():
            out = forward(ll_two_layer(W0.shape[2], W0.shape[1], W1.shape[1]), info.params, X)
            right = out.argmax(dim=-1) == torch.as_tensor(self.y, device=W0.device)
        info.history.record("test_accuracy", right.double().mean(dim=-1).cpu().numpy())


def _measures(est, accuracy, change, distance):
    """One row's numbers: accuracy, change, distance, gaps and effective ranks."""
    W, W0 = est.coefs_[0], est.initial_coefs_[0]
    return (accuracy, change, distance, singular_value_gap(W, GAP_INDEX, W0=W0),
            singular_value_gap(W, GAP_INDEX), effective_rank(W, W0=W0), effective_rank(W))


COLUMN_NAMES = ("test_acc", "act_change", "rel_distance", "s20/s21(W-W0)", "s20/s21(W)",
                "erank(W-W0)", "erank(W)")
DIGITS = (4, 4, 4, 3, 3, 2, 2)


def _table(rows, n_seeds):
    """The table: one line per width, ``mean+-std`` over the seeds when there are several."""
    cell = 16 if n_seeds > 1 else 14
    lines = [f"{'m':>6s} " + " ".join(f"{c:>{cell}s}" for c in COLUMN_NAMES)
             + f" {'time_s':>7s}"]
    for m, (values, seconds) in rows.items():
        values = np.asarray(values, dtype=np.float64)  # (n_seeds, n_columns)
        cells = []
        for j, digits in enumerate(DIGITS):
            mean = values[:, j].mean()
            text = f"{mean:.{digits}f}"
            if n_seeds > 1:
                text += f"+-{values[:, j].std():.{digits}f}"
            cells.append(f"{text:>{cell}s}")
        lines.append(f"{m:>6d} " + " ".join(cells) + f" {seconds:7.1f}")
    return "\n".join(lines)


def mixture_row(args, mode, axes):
    """Row 1: the [LL] Sec. 7 mixture, curves recorded after chosen steps."""
    cfg = mode["mixture"]
    X, y = make_structured_mixture(cfg["n_train"], n_features=cfg["n_features"],
                                   centers_random_state=args.seed, random_state=args.seed + 1)
    X_test, y_test = make_structured_mixture(cfg["n_test"], n_features=cfg["n_features"],
                                             centers_random_state=args.seed,
                                             random_state=args.seed + 2)
    runs, fitted, rows = {}, {}, {}
    for m in mode["widths"]:
        start, values = time.perf_counter(), []
        for rep in range(mode["n_seeds"]):
            recorder = StepDiagnostics(cfg["record"], X_test, y_test)
            est = TwoLayerReLUClassifier(
                n_hidden=m, lr_scale=cfg["lr_scale"], batch_size=cfg["batch_size"],
                max_steps=cfg["steps"], max_iter=10**6, tol=None, normalize_inputs=False,
                callbacks=[recorder], random_state=args.seed + rep).fit(X, y)
            rec = recorder.records
            values.append(_measures(est, est.score(X_test, y_test),
                                    rec["activation_change_0"][-1],
                                    rec["relative_distance_0"][-1]))
            if rep == 0:  # the curves of the first seed are drawn
                runs[f"m={m}"], fitted[f"m={m}"] = rec, est
        rows[m] = (values, time.perf_counter() - start)
        if args.verbose:
            print(f"  mixture m={m}: {rows[m][1]:.1f}s", flush=True)
    title = (f"mixture d={cfg['n_features']}, B={cfg['batch_size']}, "
             f"eta={cfg['lr_scale']:g}/m")
    DiagnosticsDisplay.from_diagnostics(runs, list(COLUMNS), x="step", x_label="SGD steps",
                                        y_labels=Y_LABELS, title=title, ax=axes[:3],
                                        xscale="symlog")
    spectra = SpectrumDisplay.from_estimator(fitted, n_values=40, ax=axes[3],
                                             title="(d) spectra: W_T - W_0 (-), W_T (:)",
                                             legend=False)
    print(f"\n(mixture) d={cfg['n_features']}, k=10, l=2, {cfg['n_train']} train / "
          f"{cfg['n_test']} test, T={cfg['steps']}, B={cfg['batch_size']}, "
          f"eta={cfg['lr_scale']:g}/m: test-set diagnostics at step {cfg['steps']}, "
          f"{_seeds(mode)}")
    print(_table(rows, mode["n_seeds"]))
    return runs, spectra


def _seeds(mode):
    n = mode["n_seeds"]
    return "1 seed" if n == 1 else f"mean+-std over {n} seeds"


def digits_row(args, mode, axes):
    """Row 2: load_digits (unit-norm inputs), the estimator's record_every diagnostics."""
    cfg = mode["digits"]
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=cfg["n_train"], stratify=y,
                                              random_state=args.seed)
    Z_te = X_te / np.linalg.norm(X_te, axis=1, keepdims=True)  # what the network sees
    steps_per_epoch = math.ceil(cfg["n_train"] / cfg["batch_size"])

    def fit(m, c, seed, record=True):
        kwargs = {}
        if record:
            kwargs = {"record_every": cfg["record_every"], "diagnostics_X": X_te,
                      "callbacks": [TestAccuracy(Z_te, y_te)]}
        return TwoLayerReLUClassifier(
            n_hidden=m, lr_scale=c, batch_size=cfg["batch_size"], max_steps=cfg["steps"],
            max_iter=10**6, tol=None, normalize_inputs=True, random_state=seed,
            **kwargs).fit(X_tr, y_tr)

    # the step-size constant: the smallest c within one point of the best test accuracy
    middle = mode["widths"][len(mode["widths"]) // 2]
    sweep = {c: fit(middle, c, args.seed, record=False).score(X_te, y_te)
             for c in cfg["lr_scales"]}
    best = max(sweep.values())
    c = min(c for c, acc in sweep.items() if acc >= best - 0.01)
    print(f"\n(digits) step-size sweep at m={middle}, T={cfg['steps']}: test accuracy "
          + ", ".join(f"c={k:g}: {v:.4f}" for k, v in sweep.items()) + f" -> c={c:g}")

    fitted, rows = {}, {}
    for m in mode["widths"]:
        start, values = time.perf_counter(), []
        for rep in range(mode["n_seeds"]):
            est = fit(m, c, args.seed + rep)
            d = est.diagnostics_
            values.append(_measures(est, est.score(X_te, y_te),
                                    d["X_activation_change_0"][-1],
                                    d["X_relative_distance_0"][-1]))
            if rep == 0:
                fitted[f"m={m}"] = est
        rows[m] = (values, time.perf_counter() - start)
        if args.verbose:
            print(f"  digits m={m}: {rows[m][1]:.1f}s", flush=True)
    title = f"digits (unit norm), B={cfg['batch_size']}, eta={c:g}/m"
    disp = DiagnosticsDisplay.from_estimator(
        fitted, ["test_accuracy", "X_activation_change_0", "X_relative_distance_0"],
        steps_per_epoch=steps_per_epoch, ax=axes[:3], title=title,
        y_labels={"test_accuracy": Y_LABELS["test_accuracy"],
                  "X_activation_change_0": Y_LABELS["activation_change_0"],
                  "X_relative_distance_0": Y_LABELS["relative_distance_0"]})
    spectra = SpectrumDisplay.from_estimator(fitted, n_values=40, ax=axes[3],
                                             title="(d) spectra: W_T - W_0 (-), W_T (:)",
                                             legend=False)
    print(f"\n(digits) load_digits, 10 classes, {cfg['n_train']} train / {len(y_te)} test, "
          f"unit-norm inputs, T={cfg['steps']}, B={cfg['batch_size']}, eta={c:g}/m: "
          f"test-set diagnostics at step {cfg['steps']}, {_seeds(mode)}")
    print(_table(rows, mode["n_seeds"]))
    return disp, spectra


def main(argv=None):
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="small data, widths and T")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("ll_figure1.png"),
                        help="PNG path (default: ll_figure1.png in the current directory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per fitted width")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    print(f"{TITLE} ({'quick' if args.quick else 'full'} mode), widths {mode['widths']}, "
          f"seed {args.seed}")

    start = time.perf_counter()
    fig, axes = plt.subplots(2, 4, figsize=(18, 8), constrained_layout=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # log axes of zero-valued points
        mixture = mixture_row(args, mode, axes[0])
        digits = digits_row(args, mode, axes[1])
    fig.suptitle(TITLE)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    plt.close(fig)
    print(f"\n{time.perf_counter() - start:.1f}s; figure written to {args.output}")
    return mixture, digits


if __name__ == "__main__":
    main()
