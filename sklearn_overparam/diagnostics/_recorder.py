"""An engine callback that records every lazy-training diagnostic along a run."""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
import torch

from ..kernels import empirical_ntk, kernel_target_alignment
from ..nn._fused import fuses
from ..training import Callback
from ._activation import network_pass
from ._checks import (
    check_params,
    check_positive_int,
    check_spec,
    common_width,
    inputs_like,
)
from ._kernel import relative_frobenius

# Default row counts: the NTK probe, and the rows of the pattern / pseudo-network measures.
DEFAULT_PROBE = 100
DEFAULT_ROWS = 64
DEFAULT_NTK_EVERY = 20
# Hidden-buffer bytes of one batched pass over snapshots: large enough to amortize the
# per-operation overhead, small enough not to evict the training's working set from cache.
BATCH_BYTES = 4 * 2**20


def _row_indices(rows, n, name, default):
    """Row indices of X: ``None`` (``min(default, n)``), a count, "all" or indices."""
    if rows is None:
        rows = min(default, n)
    if isinstance(rows, str) and rows == "all":
        rows = n
    if isinstance(rows, numbers.Integral) and not isinstance(rows, bool):
        if not 1 <= rows <= n:
            raise ValueError(
                f"`{name}` must be a number of rows in [1, {n}], 'all' or an array of row "
                f"indices; got {rows!r}."
            )
        return np.unique(np.linspace(0, n - 1, int(rows)).round().astype(np.int64))
    idx = np.asarray(rows)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu" or (
        idx.min() < 0 or idx.max() >= n
    ):
        raise ValueError(
            f"`{name}` must be None, an int, 'all' or a 1-D array of row indices of X in "
            f"[0, {n}); got {rows!r}."
        )
    return idx.astype(np.int64)


def _layer_names(layers, spec):
    weights = [n for n in spec.trainable_names if n.startswith("W")]
    if layers is None:
        return weights[:1]
    if layers == "trainable":
        return weights
    if isinstance(layers, (str, numbers.Integral)):
        layers = [layers]
    names = []
    for layer in layers:
        name = f"W{int(layer)}" if isinstance(layer, numbers.Integral) else layer
        if name not in spec.param_names or not name.startswith("W"):
            raise ValueError(
                f"`layers` must name weight matrices of the network "
                f"({[n for n in spec.param_names if n.startswith('W')]}) or their indices, "
                f"None or 'trainable'; got {layer!r}."
            )
        names.append(name)
    return names


class DiagnosticsRecorder(Callback):
    """Engine callback recording the lazy-training diagnostics of every copy along a run.

    Pass it to :func:`sklearn_overparam.training.train` (``callbacks=[recorder]``); after
    every ``every`` epochs (and once before the first step) it records one row per copy in
    :attr:`records`, a dict of equal-length lists, so ``pandas.DataFrame(recorder.records)``
    is a tidy table with one column per diagnostic.

    Parameters
    ----------
    spec : ReLUNetSpec
        The architecture being trained.
    params0 : dict of str to Tensor
        The initialization ``W^(0)``, a stack ``{"W0": (K, fan_out, fan_in), ...}``; it is
        copied, so the dict being trained may be passed.
    X : array-like or tensor of shape (n, d)
        Reference inputs (e.g. the training or the test set, through the estimator's input
        map if any); ``rows`` and ``probe`` select from it.
    every : int, default=1
        Record after every ``every``-th epoch.
    ntk_every : int, default=20
        Compute the empirical-NTK measures (drift, alignment) at the recorded epochs that
        are multiples of ``ntk_every`` (and at epoch 0); their entries are ``nan`` in the
        other rows. Each NTK costs about as much as the other measures of 5-10 epochs
        together; ``ntk_every=1`` computes it at every record.
    probe : int, array-like of int or "all", default=None
        Rows of ``X`` on which the empirical NTK is computed: a count (evenly spaced rows)
        or row indices. ``None``: ``min(100, n)`` rows.
    rows : int, array-like of int or "all", default=None
        Rows of ``X`` of the activation-pattern and pseudo-network measures, as ``probe``.
        ``None``: ``min(64, n)`` rows (with ``m`` units the fraction of changed patterns
        averages over ``64 m`` pairs); ``"all"`` for exact values on the whole of ``X``
        (each row costs about as much as a training step on one sample).
    y : array-like of shape (n,) or (n, k), default=None
        Targets of ``X`` (numeric; one-hot or +-1 codes for classes). When given, the NTK's
        kernel-target alignment on the probe rows is recorded.
    layers : None, "trainable", or list of str or int, default=None
        Weight matrices whose spectra are recorded (names ``"W0"``, ... or indices);
        ``None``: the first trainable weight matrix; ``[]``: none.
    n_singular_values : int, default=5
        How many top singular values of ``W`` and of ``W - W^(0)`` to record per layer
        (at most ``min(fan_out, fan_in)``).
    width : int, default=None
        ``m`` of the max scaled distance; ``None``: the common fan-out of the hidden layers.
    record_init : bool, default=True
        Also record one row before the first step (epoch 0).
    max_pending_bytes : int, default=64 * 2**20
        Snapshots awaiting measurement are processed as soon as they hold more than this.

    Attributes
    ----------
    records : dict of str to list
        Equal-length lists, one entry per recorded (epoch, copy). Keys: ``"epoch"``
        (epochs done), ``"copy"``; ``"activation_change_{l}"`` per hidden layer ``l``;
        ``"pseudo_gap_mean"``, ``"pseudo_gap_max"``; ``"relative_distance_{l}"`` per
        trainable weight matrix ``W{l}``; ``"max_scaled_distance"``; per spectral layer
        ``name``: ``"sv_update_{name}_{i}"`` and ``"sv_{name}_{i}"`` (``i = 1, 2, ...``,
        of ``W - W^(0)`` and ``W``), ``"effective_rank_update_{name}"`` and
        ``"effective_rank_{name}"`` (entropy effective rank; nan for a zero update);
        ``"ntk_drift"``; with ``y``: ``"kernel_alignment"`` and
        ``"kernel_alignment_centered"``. Reading it measures the pending snapshots first.
    elapsed_ : float
        Wall-clock seconds spent snapshotting and measuring.
    cpu_time_ : float
        CPU seconds of this process spent snapshotting and measuring
        (``time.process_time``): the comparison with the training time that other load on
        the machine does not distort.

    See Also
    --------
    sklearn_overparam.integrations.skorch.DiagnosticsCallback : The same diagnostics for
        skorch networks.

    Notes
    -----
    The measures are those of :func:`layerwise_activation_change`,
    :func:`pseudo_network_gap`, :func:`relative_distance_from_init`,
    :func:`max_scaled_distance`, :func:`top_singular_values`, :func:`effective_rank`,
    :func:`ntk_drift` and :func:`kernel_alignment`, on the ``rows`` and ``probe`` subsets.
    At a recorded epoch the callback only copies the parameters (a few microseconds); the
    copies are measured together, as one stack of ``E K`` networks, when :attr:`records`
    is read or the copies exceed ``max_pending_bytes``: one pass of the stack over the rows
    gives the outputs, the changed patterns and (sharing the first layer) the pseudo
    network's output, and one batched ``torch.linalg.svdvals`` the spectra, so the
    per-operation overhead is paid once per batch instead of once per epoch. The initial
    patterns, gates, NTK and norms are computed once at construction (``2 K |rows| m``
    bytes per hidden layer).

    Cost, measured in CPU time on a two-layer ``m = 1000`` network on ``N = 1000``
    inputs (``d = 4``, float32, one thread) trained with batches of 50 (about 1.3 ms per
    epoch): recording every epoch with the defaults costs about 13% of the training time,
    a fifth of it the NTK every 20 epochs (16% with ``ntk_every=10``);
    ``ntk_every=1`` about 65%, ``rows=256`` about 25%, ``rows="all"`` about 120%.
    Spectra of ``m x m`` layers cost ``O(m^3)`` each. The output multiplier ``lambda_t``
    of [AZLL] Algorithm 2 is not applied (networks are measured at multiplier 1).

    References
    ----------
    [LL] Sec. 7, Figures 1-2 (coupling, distance, spectra); [AZLL] Sec. 6 and Appendix B
    (pseudo networks); [CCZG] Theorem 3.3 (distance from init).

    Examples
    --------
    >>> import torch
    >>> from sklearn_overparam.diagnostics import DiagnosticsRecorder
    >>> from sklearn_overparam.nn import azll_two_layer, init_params
    >>> from sklearn_overparam.training import NetworkObjective, SGDConfig, train
    >>> spec = azll_two_layer(n_features=4, n_hidden=32)
    >>> params = init_params(spec, [0])
    >>> X = torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    >>> Y = X[:, :1] ** 2
    >>> recorder = DiagnosticsRecorder(spec, params, X, y=Y)
    >>> config = SGDConfig(learning_rate=0.05, batch_size=10, max_epochs=3, tol=None)
    >>> _ = train(NetworkObjective(spec, "squared"), params, X, Y, config, [0],
    ...           callbacks=[recorder])
    >>> recorder.records["epoch"]
    [0, 1, 2, 3]
    >>> len({len(v) for v in recorder.records.values()})  # equal-length lists
    1
    """

    def __init__(self, spec, params0, X, *, every=1, ntk_every=DEFAULT_NTK_EVERY, probe=None,
                 rows=None, y=None, layers=None, n_singular_values=5, width=None,
                 record_init=True, max_pending_bytes=64 * 2**20):
        start, cpu_start = time.perf_counter(), time.process_time()
        self.spec = spec = check_spec(spec)
        params0 = check_params(spec, params0, "params0")
        self.params0 = {n: t.clone() for n, t in params0.items()}
        self.every = check_positive_int(every, "every")
        self.ntk_every = check_positive_int(ntk_every, "ntk_every")
        self.record_init = bool(record_init)
        self.max_pending_bytes = check_positive_int(max_pending_bytes, "max_pending_bytes")
        ref = self.params0[spec.param_names[0]]
        self.K = ref.shape[0]
        X = inputs_like(X, ref, spec.n_features)
        n = X.shape[0]
        self.rows = _row_indices(rows, n, "rows", DEFAULT_ROWS)
        self.probe = _row_indices(probe, n, "probe", DEFAULT_PROBE)
        self._X = X[torch.as_tensor(self.rows, device=ref.device)].contiguous()
        self._X_probe = X[torch.as_tensor(self.probe, device=ref.device)].cpu().numpy()
        self.y = None
        if y is not None:
            y_arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
            if y_arr.shape[:1] != (n,) or y_arr.ndim not in (1, 2):
                raise ValueError(
                    f"`y` must have one row per row of X ({n}), shape (n,) or (n, k); got "
                    f"shape {y_arr.shape}."
                )
            self.y = np.asarray(y_arr[self.probe], dtype=np.float64)
        self.weights = [n for n in spec.trainable_names if n.startswith("W")]
        self.layers = _layer_names(layers, spec)
        self.n_singular_values = check_positive_int(n_singular_values, "n_singular_values")
        if width is None:
            width = common_width([(la.fan_out, la.fan_in) for la in spec.layers],
                                 "spec.layers")
        self.width = check_positive_int(width, "width")
        self._ref = ref
        self._names = spec.param_names
        self._checked = None
        self._workspace = {}
        self._pending, self._pending_bytes = [], 0
        with torch.no_grad():
            _, self._patterns0, gates0, _ = network_pass(
                spec, self.params0, self._X, want_gates=True)
            # 0/1 in the compute dtype: a float-by-float product is 2-3x faster than by bool
            self._gates0 = [g.to(ref.dtype) for g in gates0]
            self._norm0 = np.stack([
                torch.linalg.vector_norm(self.params0[n].flatten(1).to(torch.float64), dim=1)
                .cpu().numpy() for n in self.weights
            ]) if self.weights else None
        self._ntk0 = [empirical_ntk((spec, self.params0, k), self._X_probe)
                      for k in range(self.K)]
        self._sv_counts = [min(self.n_singular_values, *self.params0[name].shape[1:])
                           for name in self.layers]
        self._records = {key: [] for key in self._keys()}
        self.elapsed_ = time.perf_counter() - start
        self.cpu_time_ = time.process_time() - cpu_start

    def _keys(self):
        keys = ["epoch", "copy"]
        keys += [f"activation_change_{l}" for l in range(self.spec.depth - 1)]
        keys += ["pseudo_gap_mean", "pseudo_gap_max"]
        keys += [f"relative_distance_{n[1:]}" for n in self.weights]
        keys.append("max_scaled_distance")
        for name, count in zip(self.layers, self._sv_counts):
            keys += [f"sv_update_{name}_{i}" for i in range(1, count + 1)]
            keys += [f"sv_{name}_{i}" for i in range(1, count + 1)]
            keys += [f"effective_rank_update_{name}", f"effective_rank_{name}"]
        keys.append("ntk_drift")
        if self.y is not None:
            keys += ["kernel_alignment", "kernel_alignment_centered"]
        return keys

    @property
    def records(self):
        """The recorded rows, a dict of equal-length lists (pending snapshots measured)."""
        self.flush()
        return self._records

    def measure(self, params, *, ntk=True):
        """All diagnostics of the given parameters now, one value per copy.

        Parameters
        ----------
        params : dict of str to Tensor
            A stack shaped like ``params0``.
        ntk : bool, default=True
            Compute the empirical-NTK measures (``nan`` otherwise).

        Returns
        -------
        values : dict of str to ndarray of shape (K,)
            Keyed like :attr:`records` (without ``"epoch"`` and ``"copy"``).
        """
        check_params(self.spec, params, "params")
        start, cpu_start = time.perf_counter(), time.process_time()
        snapshot = {n: params[n].detach().to(device=self._ref.device, dtype=self._ref.dtype)
                    for n in self._names}
        values = self._measure_stack([snapshot], [bool(ntk)])
        self.elapsed_ += time.perf_counter() - start
        self.cpu_time_ += time.process_time() - cpu_start
        K = self.K
        return {key: v[:K] for key, v in values.items()}

    def snapshot(self, params, epoch):
        """Queue a copy of ``params`` to be recorded as ``epoch`` (measured later, batched).

        Parameters
        ----------
        params : dict of str to Tensor
            The current stack, shaped like ``params0``.
        epoch : int
            The ``"epoch"`` entry of its rows (epochs done).
        """
        start, cpu_start = time.perf_counter(), time.process_time()
        if params is not self._checked:  # the engine passes the same live dict every epoch
            check_params(self.spec, params, "params")
            self._checked = params
        ref = self._ref
        copy = {n: params[n].detach().to(device=ref.device, dtype=ref.dtype, copy=True)
                for n in self._names}
        self._pending.append((int(epoch), copy))
        self._pending_bytes += sum(t.numel() * t.element_size() for t in copy.values())
        self.elapsed_ += time.perf_counter() - start
        self.cpu_time_ += time.process_time() - cpu_start
        if self._pending_bytes > self.max_pending_bytes:
            self.flush()

    def flush(self):
        """Measure the queued snapshots and append their rows to :attr:`records`."""
        if not self._pending:
            return
        start, cpu_start = time.perf_counter(), time.process_time()
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        # snapshots per batch: the hidden buffers of the pass stay under BATCH_BYTES (the
        # fused two-layer pass keeps none: then the snapshots' copies in the measures do)
        ref = self._ref
        if ref.is_cpu and fuses(self.spec, None, ref.dtype):
            per_snapshot = 4 * sum(t.numel() * t.element_size() for t in pending[0][1].values())
        else:
            per_snapshot = self.K * self._X.shape[0] * max(
                (la.fan_out for la in self.spec.layers[:-1]), default=1) * 13
        batch = max(1, BATCH_BYTES // max(per_snapshot, 1))
        K = self.K
        for s in range(0, len(pending), batch):
            chunk = pending[s:s + batch]
            epochs = [e for e, _ in chunk]
            values = self._measure_stack([p for _, p in chunk],
                                         [e % self.ntk_every == 0 for e in epochs])
            columns = {key: v.tolist() for key, v in values.items()}
            rec = self._records
            rec["epoch"] += [e for e in epochs for _ in range(K)]
            rec["copy"] += list(range(K)) * len(chunk)
            for key, col in columns.items():
                rec[key] += col
        self.elapsed_ += time.perf_counter() - start
        self.cpu_time_ += time.process_time() - cpu_start

    def _measure_stack(self, snapshots, ntk_flags):
        """Diagnostics of E snapshots of the K-stack: ``{key: (E K,) array}``, snapshot-major."""
        spec, K, E = self.spec, self.K, len(snapshots)
        params = {n: torch.cat([p[n] for p in snapshots]) if E > 1 else snapshots[0][n]
                  for n in self._names}
        values = {}
        with torch.no_grad():
            out, changed, _, pseudo = network_pass(spec, params, self._X, gates0=self._gates0,
                                                   patterns0=self._patterns0,
                                                   workspace=self._workspace)
            gap = (out - pseudo).abs_().flatten(1)
            on_device = [torch.stack(changed) if changed else None, gap.mean(dim=1),
                         gap.amax(dim=1)]
            diffs = {n: (params[n].reshape(E, *self.params0[n].shape) - self.params0[n])
                     .reshape(params[n].shape) for n in self.weights}
            on_device.append(torch.stack([torch.linalg.vector_norm(d.flatten(1), dim=1)
                                          for d in diffs.values()]) if diffs else None)
            for name in self.layers:  # one batched SVD per layer: [W - W0; W]
                D = diffs[name] if name in diffs else (
                    params[name].reshape(E, *self.params0[name].shape) - self.params0[name]
                ).reshape(params[name].shape)
                on_device.append(torch.linalg.svdvals(torch.cat([D, params[name]])))
            host = [None if t is None else np.asarray(t.cpu().numpy(), dtype=np.float64)
                    for t in on_device]
        changed, gap_mean, gap_max, fro, spectra = host[0], host[1], host[2], host[3], host[4:]
        for l in range(spec.depth - 1):
            values[f"activation_change_{l}"] = changed[l]
        values["pseudo_gap_mean"], values["pseudo_gap_max"] = gap_mean, gap_max
        if fro is not None:
            rel = fro / np.tile(self._norm0, E)
            for i, n in enumerate(self.weights):
                values[f"relative_distance_{n[1:]}"] = rel[i]
            values["max_scaled_distance"] = math.sqrt(self.width) * fro.max(axis=0)
        else:
            values["max_scaled_distance"] = np.zeros(E * K)
        EK = E * K
        for name, count, sv in zip(self.layers, self._sv_counts, spectra):
            ranks = _entropy_ranks(sv)
            for key, part in ((f"update_{name}", slice(0, EK)), (name, slice(EK, 2 * EK))):
                for i in range(count):
                    values[f"sv_{key}_{i + 1}"] = sv[part, i]
                values[f"effective_rank_{key}"] = ranks[part]
        drift, align, align_c = (np.full(EK, np.nan) for _ in range(3))
        for e, flag in enumerate(ntk_flags):
            for k in range(K if flag else 0):
                Kt = empirical_ntk((spec, params, e * K + k), self._X_probe)
                drift[e * K + k] = relative_frobenius(Kt, self._ntk0[k])
                if self.y is not None:
                    align[e * K + k] = _alignment(Kt, self.y, centered=False)
                    align_c[e * K + k] = _alignment(Kt, self.y, centered=True)
        values["ntk_drift"] = drift
        if self.y is not None:
            values["kernel_alignment"] = align
            values["kernel_alignment_centered"] = align_c
        return values

    def on_train_begin(self, params, ctx):
        """Snapshot the initial parameters (epoch 0) when ``record_init``."""
        if self.record_init:
            self.snapshot(params, 0)

    def on_epoch_end(self, info):
        """Snapshot after every ``every``-th epoch; never stops training."""
        done = info.epoch + 1
        if done % self.every == 0:
            self.snapshot(info.params, done)


def _entropy_ranks(s):
    """Entropy effective rank of each row of singular values ``(K, r)``; nan for zeros."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / s.sum(axis=1, keepdims=True)  # a zero row gives nan, as it should
        logp = np.log(p)
    logp[p == 0] = 0.0
    return np.exp(-(p * logp).sum(axis=1))


def _alignment(K, y, *, centered):
    """Kernel-target alignment, nan where it is undefined (constant targets)."""
    try:
        return kernel_target_alignment(K, y, centered=centered)
    except ValueError:
        return float("nan")
