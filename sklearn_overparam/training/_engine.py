"""The stacked training engine: K independent networks (or any objective) in one pass.

The loop reads as the algorithm: sample a batch, ``loss_and_grads``, let the iterate
selector observe ``W_t``, update, post-update, step callbacks; per epoch: check for
divergence, score validation data, stop converged copies, record, epoch callbacks. What
changes between the papers' algorithms lives in the seams passed to :func:`train`. A step
never synchronises with the host; losses are read once per epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._log import log
from ._callbacks import EpochInfo, History, as_callback, overrides
from ._context import RandomStreams, StepContext
from ._losses import WeightedTargets
from ._selectors import (
    SELECTORS,
    BestTrainingLossIterate,
    BestValidationIterate,
    LastIterate,
    PerturbedCandidateIterate,
)
from ._updates import SGDUpdate, per_copy_view

SAMPLINGS = ("shuffle", "sequential", "replacement")
ITERATES = ("last", "uniform_random", "best_train_loss")
# An epoch loss this many times the first step's loss is divergence even while finite
# (ReLUs dying under a huge step keep the loss finite but the model is useless).
EXPLODE_FACTOR = 1e4
# With per-copy rows or weights, an epoch's batches are gathered in one go when they take
# at most this many bytes (else batch by batch).
EPOCH_GATHER_BYTES = 32 * 2**20
# Gradients with fewer entries than this update the weights as strided views (no copy).
STRIDED_UPDATE_MAX = 2**15


@dataclass
class SGDConfig:
    """Optimizer, schedule and stopping rule of one engine run.

    ``learning_rate``, ``momentum`` and ``weight_decay`` are scalars or one value per
    copy. The update is PyTorch's ``torch.optim.SGD`` (dampening 0), see
    :class:`~sklearn_overparam.training.SGDUpdate`.

    ``batch_size=None`` is full-batch gradient descent. ``sampling`` is ``"shuffle"``
    (a fresh permutation every epoch), ``"sequential"`` (fixed order) or ``"replacement"``
    (each step draws its batch uniformly with replacement: [AZLL] Algorithm 1). The
    learning rate is multiplied by ``lr_decay_factor`` from epoch ``lr_decay_epoch``
    (0-based) on. With ``tol`` set, a copy stops once its monitored quantity (training
    loss, or validation score when validation data are given) has not improved by ``tol``
    for ``n_iter_no_change`` epochs; ``tol=None`` runs every epoch. ``iterate`` names the
    returned weights when no selector is passed: ``"last"``, ``"uniform_random"`` (``W_t``,
    ``t in {0, ..., T-1}``: [AZLL] Algorithm 1, [CCZG] Algorithm 2) or
    ``"best_train_loss"`` ([CCZG] Algorithm 1's ``argmin_t L_S(W_t)``).
    ``steps_per_epoch`` (``sampling="replacement"`` only; default ``ceil(n / batch)``)
    makes an "epoch" a round of that many steps (the ``T_w`` of [AZLL] Algorithm 2).
    ``max_steps`` stops the run after that many steps (inside an epoch if need be: the
    ``T`` of [LL] Sec. 7).
    """

    learning_rate: float | Sequence[float] = 0.01
    momentum: float | Sequence[float] = 0.0
    weight_decay: float | Sequence[float] = 0.0
    batch_size: int | None = 50
    max_epochs: int = 200
    lr_decay_epoch: int | None = None
    lr_decay_factor: float = 0.1
    sampling: str = "shuffle"
    tol: float | None = 1e-4
    n_iter_no_change: int = 10
    iterate: str = "last"
    steps_per_epoch: int | None = None
    max_steps: int | None = None


@dataclass
class TrainResult:
    """What :func:`train` returns: final (or selected) weights and the run's record.

    ``diverged`` marks copies stopped by divergence (only with ``on_divergence="mark"``);
    ``selector`` is the iterate selector used (its fitted attributes, e.g. ``index_``).
    """

    params: dict[str, torch.Tensor]
    history: History
    n_epochs: np.ndarray
    n_steps: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    best_validation_score: np.ndarray | None
    stopped_by_callback: bool
    selector: object


def _per_copy(value, K, name, device, dtype):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(K, float(arr))
    if arr.shape != (K,):
        raise ValueError(f"`{name}` must be a scalar or have one value per network ({K}).")
    return torch.as_tensor(arr, dtype=dtype, device=device)


class _Sampler:
    """Batch indices per epoch, one generator per copy (the ``"sampler"`` stream, on CPU)."""

    def __init__(self, n, batch_size, sampling, generators, device, steps=None):
        self.n, self.sampling, self.gens, self.device = n, sampling, generators, device
        self.full = batch_size is None or (batch_size >= n and sampling != "replacement")
        self.batch = n if self.full else int(batch_size)
        self.steps = 1 if self.full else math.ceil(n / self.batch)
        if steps is not None:
            if sampling != "replacement":
                raise ValueError("`steps_per_epoch` needs sampling='replacement'; got "
                                 f"sampling={sampling!r}.")
            self.steps = int(steps)
        # samples visited per epoch (the weights of the per-batch losses in the epoch loss)
        self.per_epoch = self.steps * self.batch if sampling == "replacement" else n

    def _epoch_index(self):
        """The epoch's row indices ``(K, rows per epoch)`` (None: full batch)."""
        if self.full:
            return None
        K = len(self.gens)
        if self.sampling == "replacement":
            idx = torch.stack(
                [torch.randint(self.n, (self.steps * self.batch,), generator=g) for g in self.gens]
            )
        elif self.sampling == "shuffle":
            idx = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens])
        else:
            idx = torch.arange(self.n).expand(K, self.n)
        return idx.to(self.device)

    def batches(self, X, Y):
        """``[(X_batch, Y_batch, fraction of the epoch), ...]``, one per step of an epoch.

        The epoch's rows are gathered in one indexing kernel each for X and Y (when they
        take at most ``EPOCH_GATHER_BYTES``) and every step reads a slice of them.
        """
        idx = self._epoch_index()
        if idx is None:
            return [(X, Y, 1.0)]
        stop = idx.shape[1]
        bounds = [(s, min(s + self.batch, stop)) for s in range(0, stop, self.batch)]
        if idx.numel() * X.shape[-1] * X.element_size() > EPOCH_GATHER_BYTES:
            return [(X[idx[:, a:b]], Y[idx[:, a:b]], (b - a) / self.per_epoch)
                    for a, b in bounds]
        xe, ye = X[idx], Y[idx]
        return [(xe[:, a:b], ye[:, a:b], (b - a) / self.per_epoch) for a, b in bounds]


def steps_per_epoch(n_rows: int, config: SGDConfig) -> int:
    """The number of steps an epoch of :func:`train` makes over ``n_rows`` training rows."""
    batch = config.batch_size
    if batch is None or (batch >= n_rows and config.sampling != "replacement"):
        return 1
    if config.steps_per_epoch is not None:
        return int(config.steps_per_epoch)
    return math.ceil(n_rows / int(batch))


class _RowSampler:
    """Batches over each copy's own rows, with per-sample weights (``rows=``, ``sample_weight=``).

    Copy ``k`` draws exactly what a K=1 :class:`_Sampler` over its ``n_k`` rows draws (the
    same generator calls, the same batch boundaries, the same number of steps); local
    indices are mapped to the copy's rows of the shared inputs. Step ``j`` of the stack
    holds batch ``j`` of every copy, padded to the widest with weight-0 samples (the copy's
    first row), so the weighted batch mean of a copy is its own batch mean. A copy whose
    epoch has fewer steps is ``idle`` on the extra steps (all weights 0; the engine leaves
    its weights and momentum untouched there).
    """

    def __init__(self, counts, rows, batch_size, sampling, generators, device, dtype,
                 weights=None, steps=None):
        if steps is not None and sampling != "replacement":
            raise ValueError("`steps_per_epoch` needs sampling='replacement'; got "
                             f"sampling={sampling!r}.")
        self.counts = np.asarray(counts, dtype=np.int64)
        self.rows, self.sampling, self.gens = rows, sampling, generators
        self.device, self.dtype, self.weights = device, dtype, weights
        cfg = SGDConfig(batch_size=batch_size, sampling=sampling, steps_per_epoch=steps)
        self.full = np.array([batch_size is None or (batch_size >= n and sampling != "replacement")
                              for n in self.counts])
        self.width = int(self.counts.max()) if batch_size is None else int(batch_size)
        self.steps_k = np.array([steps_per_epoch(int(n), cfg) for n in self.counts])
        self.steps = int(self.steps_k.max())
        self.aligned = bool((self.steps_k == self.steps).all())
        # draws per epoch: every step a full batch with replacement, else each row once
        self.lengths = (self.steps_k * self.width if sampling == "replacement"
                        else self.counts.copy())
        starts = np.arange(self.steps) * self.width
        sizes = np.clip(self.lengths[:, None] - starts[None, :], 0, self.width)
        self.widths = sizes.max(axis=0)
        self.idle = sizes == 0  # (K, steps)

    def _weights_of(self, k, index):
        if self.weights is None:
            return torch.ones(index.shape[0], dtype=torch.float64)
        w = self.weights if self.weights.dim() == 1 else self.weights[k]
        return w[index]

    def _local(self, k):
        n = int(self.counts[k])
        if self.sampling == "replacement":
            return torch.randint(n, (int(self.lengths[k]),), generator=self.gens[k])
        if self.sampling == "shuffle" and not self.full[k]:
            return torch.randperm(n, generator=self.gens[k])
        return torch.arange(n)

    def _layout(self, locals_, width):
        K = len(self.counts)
        index = torch.empty((K, width), dtype=torch.long)
        weight = torch.zeros((K, width), dtype=torch.float64)
        for k, local in enumerate(locals_):
            glob = local if self.rows is None else self.rows[k][local]
            L = glob.shape[0]
            index[k, :L] = glob
            index[k, L:] = glob[0]
            weight[k, :L] = self._weights_of(k, glob)
        return index.to(self.device), weight.to(device=self.device, dtype=self.dtype)

    def batches(self, inputs, Y):
        """``[(X_batch, WeightedTargets, idle (K,) bool), ...]``, one per step of an epoch.

        The whole epoch is gathered at once (one indexing kernel per epoch instead of
        several per step) when its inputs fit in ``EPOCH_GATHER_BYTES``; else per step.
        """
        index, weight = self._layout([self._local(k) for k in range(len(self.counts))],
                                     self.steps * self.width)
        K, B = index.shape[0], self.width
        wb = weight.view(K, self.steps, B)
        total = wb.sum(dim=2)
        denom = torch.where(total > 0, total, torch.ones_like(total))
        scale = (wb / denom.unsqueeze(2)).view(K, -1)
        X = inputs.X
        whole = index.numel() * X.shape[-1] * X.element_size() <= EPOCH_GATHER_BYTES
        xe, ye = (inputs(index), Y[index]) if whole else (None, None)
        out = []
        for j in range(self.steps):
            s, w = j * B, int(self.widths[j])
            cols = slice(s, s + w)
            xb = xe[:, cols] if whole else inputs(index[:, cols])
            yb = ye[:, cols] if whole else Y[index[:, cols]]
            out.append((xb, WeightedTargets.from_parts(yb, weight[:, cols], total[:, j],
                                                       scale[:, cols]), self.idle[:, j]))
        return out

    def all_rows(self):
        """Every copy's rows in order (padded) and their weights: the training set."""
        return self._layout([torch.arange(int(n)) for n in self.counts], int(self.counts.max()))


class _Inputs:
    """Gathers batches from shared inputs ``(n, d)`` or per-copy ones ``(S, n, d)``."""

    def __init__(self, X, slot):
        self.X, self.slot = X, slot  # slot: (K, 1) long on device, or None (shared)

    def __call__(self, index):
        if self.slot is None:
            return self.X[index]
        return self.X[self.slot, index]


def _check_rows(rows, K, n):
    if isinstance(rows, (np.ndarray, torch.Tensor)) and rows.ndim == 1:
        raise ValueError("`rows` must be a list of one index array per network; got a "
                         "single array (wrap it in a list for one network).")
    rows = list(rows)
    if len(rows) != K:
        raise ValueError(f"`rows` must hold one index array per network ({K}); got "
                         f"{len(rows)}.")
    out = []
    for k, r in enumerate(rows):
        a = r.detach().cpu().numpy() if isinstance(r, torch.Tensor) else np.asarray(r)
        if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
            raise ValueError(f"`rows[{k}]` must be a 1-D array of integer row indices; got "
                             f"an array of shape {a.shape} and dtype {a.dtype}.")
        if a.size == 0:
            raise ValueError(f"`rows[{k}]` is empty: every network needs at least one "
                             "training row.")
        if a.min() < 0 or a.max() >= n:
            raise ValueError(f"`rows[{k}]` holds row indices outside [0, {n}) (the inputs have "
                             f"{n} rows); got indices from {a.min()} to {a.max()}.")
        out.append(torch.as_tensor(a.astype(np.int64)))
    return out


def check_sample_weight(sample_weight, n_samples, n_copies=None, rows=None):
    """Validated per-sample loss weights as a float64 array ``(n,)`` or ``(K, n)``.

    Raises the ValueErrors scikit-learn raises for a bad ``sample_weight`` (wrong shape,
    NaN or infinite, negative, all zero), per copy where there are several (a copy whose
    weights are zero on all its ``rows`` has nothing to fit).
    """
    w = (sample_weight.detach().cpu().numpy() if isinstance(sample_weight, torch.Tensor)
         else np.asarray(sample_weight))
    if w.dtype.kind not in "biuf":
        raise ValueError(f"`sample_weight` must be numeric; got an array of dtype {w.dtype}.")
    w = w.astype(np.float64)
    shapes = [(n_samples,)] + ([(n_copies, n_samples)] if n_copies is not None else [])
    if w.shape not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"sample_weight.shape == {w.shape}, expected {expected}!")
    if not np.all(np.isfinite(w)):
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (w < 0).any():
        raise ValueError("Negative values in data passed to `sample_weight`.")
    copies = range(w.shape[0]) if w.ndim == 2 else (
        range(len(rows)) if rows is not None else [None])
    for k in copies:
        wk = w if k is None or w.ndim == 1 else w[k]
        if rows is not None:
            r = rows[k]
            wk = wk[r.numpy() if isinstance(r, torch.Tensor) else np.asarray(r)]
        if not (wk > 0).any():
            where = "" if k is None or len(copies) == 1 else (
                f" (network {k}{' on its rows' if rows is not None else ''})")
            raise ValueError(f"Sample weights must contain at least one non-zero number{where}.")
    return w


# selectors that never read the step index: copies may step out of phase under them
_STEP_FREE_SELECTORS = (LastIterate, BestValidationIterate, BestTrainingLossIterate,
                        PerturbedCandidateIterate)


class _Plateau:
    """The ``tol`` / ``n_iter_no_change`` stopping rule, per copy."""

    def __init__(self, tol, patience, K):
        self.tol, self.patience = tol, patience
        self.best = np.full(K, np.inf)
        self.waiting = np.zeros(K, dtype=int)

    def update(self, monitored, active):
        """Copies that stop now."""
        if self.tol is None:
            return np.zeros_like(active)
        improved = monitored < self.best - self.tol
        self.waiting = np.where(improved, 0, self.waiting + 1)
        self.best = np.minimum(self.best, monitored)
        return active & (self.waiting >= self.patience)


def _finite_copies(params) -> np.ndarray:
    ok = None
    for p in params.values():
        fin = torch.isfinite(p).flatten(1).all(dim=1)
        ok = fin if ok is None else ok & fin
    return ok.cpu().numpy()


def _divergence_message(what, shown, epoch, copies, lr):
    return (
        f"Training diverged: the {what}{' ' + shown if shown else ''} at epoch {epoch + 1} "
        f"(network(s) {copies}); the weights are not usable. Use a smaller learning rate "
        f"(learning_rate_init={float(np.max(lr)):g}) or scale the inputs and targets "
        "(e.g. StandardScaler)."
    )


def train(
    objective,
    params: dict[str, torch.Tensor],
    X: torch.Tensor,
    Y: torch.Tensor,
    config: SGDConfig,
    seeds: Sequence[int],
    *,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    validation_score: Callable | None = None,
    selector=None,
    post_updates: Sequence = (),
    callbacks: Sequence = (),
    on_divergence: str = "raise",
    verbose: int = 0,
    progress_bar: bool = False,
    sample_weight=None,
    rows: Sequence | None = None,
    x_index: Sequence[int] | None = None,
) -> TrainResult:
    """Train the K copies of ``params`` (updated in place) on shared data ``(X, Y)``.

    Parameters
    ----------
    objective : Objective
        Model and loss (:class:`NetworkObjective`, :class:`LinearizedObjective`,
        :class:`KernelObjective`, or a wrapper of one); its ``loss_and_grads`` gives
        per-copy values and gradients of ``objective.trainable_names``.
    params : dict of str to Tensor
        Stacked parameters ``(K, ...)``; trained in place.
    X, Y : Tensor
        Training inputs ``(n, d)`` and targets (``(n, k)`` for regression, ``(n,)`` labels).
        ``X`` may also be per copy, ``(K, n, d)`` (e.g. inputs preprocessed per CV fold),
        or ``(S, n, d)`` with ``x_index``; the targets stay shared.
    config : SGDConfig
        Optimizer, schedule and stopping rule.
    seeds : sequence of int
        One seed per copy; each purpose (shuffling, iterate draw, perturbations, ...)
        draws from its own stream derived from it (:func:`stream_seed`).
    validation : (X_val, Y_val), optional
        Held-out data, scored after every epoch: it drives the ``tol`` rule, and by
        default the best-scoring weights are returned.
    validation_score : callable, optional
        ``score(outputs, Y_val) -> (K,)``, higher is better; default: minus the loss.
    selector : IterateSelector, optional
        Which iterate is returned; default: best validation epoch with validation data,
        else ``config.iterate``.
    post_updates : sequence of PostUpdate
        Applied in order after every update (projections, decays, noise).
    callbacks : sequence of Callback or callable
        Step and epoch observers; a plain callable is called after every epoch with an
        :class:`EpochInfo`, and a truthy return from an epoch hook stops training.
    on_divergence : {"raise", "mark"}
        ``"raise"``: a non-finite or exploding loss raises. ``"mark"``: the copy stops
        (``result.diverged``) and the others go on; raises only when all diverge.
    verbose : int
        ``>= 1`` prints one line per epoch to stdout.
    progress_bar : bool
        Show a tqdm bar over epochs (tqdm is imported only then).
    sample_weight : array-like of shape (n,) or (K, n), optional
        Per-sample loss weights, shared or per copy: every batch loss becomes the weighted
        mean ``sum_i w_i l_i / sum_i w_i`` (integer weights equal repeating samples), and
        the epoch loss the weighted mean over the epoch. Non-negative, finite, and not all
        zero on any copy's rows. ``None`` runs the unweighted code (bit for bit).
    rows : list of K integer arrays, optional
        The training rows of each copy in ``X``/``Y`` (e.g. its CV fold's training rows):
        copy ``k`` trains exactly as a K=1 run on ``X[rows[k]]`` would (same permutations,
        batch boundaries and number of steps; shorter batches are padded with weight-0
        samples; the epoch loss is the mean over the copy's own rows). Copies whose row
        counts give different numbers of steps per epoch step out of phase (a copy idles,
        weights and momentum untouched, on the steps it does not have); that needs
        step-free seams (no ``post_updates``, step callbacks, ``max_steps`` or
        uniformly random iterate).
    x_index : sequence of K int, optional
        With ``X`` of shape ``(S, n, d)``: copy ``k`` reads ``X[x_index[k]]`` (copies of
        one CV fold share its preprocessed inputs without a copy each).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        When the loss or the weights become non-finite, or the loss exceeds
        ``EXPLODE_FACTOR`` times its first value (checked once per epoch), with advice.
    """
    if config.sampling not in SAMPLINGS:
        raise ValueError(f"`sampling` must be one of {SAMPLINGS}; got {config.sampling!r}.")
    if config.iterate not in ITERATES:
        raise ValueError(f"`iterate` must be one of {ITERATES}; got {config.iterate!r}.")
    if on_divergence not in ("raise", "mark"):
        raise ValueError(f"`on_divergence` must be 'raise' or 'mark'; got {on_divergence!r}.")
    K = len(seeds)
    device, dtype = X.device, next(iter(params.values())).dtype
    names = tuple(objective.trainable_names)
    general = sample_weight is not None or rows is not None or X.dim() == 3
    if x_index is not None and X.dim() != 3:
        raise ValueError("`x_index` needs per-copy inputs X of shape (S, n, d); got X of "
                         f"shape {tuple(X.shape)}.")
    n_rows = X.shape[-2]
    if general:
        if Y.shape[0] != n_rows:
            raise ValueError(f"`Y` must have one row per row of X ({n_rows}) with `rows`, "
                             f"`sample_weight` or per-copy X; got {Y.shape[0]}.")
        slot = _check_x_slots(X, K, x_index, device)
        rows = None if rows is None else _check_rows(rows, K, n_rows)
        weights = None
        if sample_weight is not None:
            weights = torch.as_tensor(check_sample_weight(sample_weight, n_rows, K, rows))
        loss = getattr(objective, "loss", None)
        if (sample_weight is not None or rows is not None) and loss is not None and not getattr(
                loss, "weighted", False):
            raise ValueError(f"The loss {type(loss).__name__} does not take sample weights "
                             "(WeightedTargets); `sample_weight` and `rows` need one that does.")
    base_lr = _per_copy(config.learning_rate, K, "learning_rate", device, dtype)
    plist = [params[n] for n in names]
    rule = SGDUpdate(
        plist,
        momentum=_per_copy(config.momentum, K, "momentum", device, dtype),
        weight_decay=_per_copy(config.weight_decay, K, "weight_decay", device, dtype),
    )
    rng = RandomStreams(seeds)
    if general:
        counts = [n_rows] * K if rows is None else [r.shape[0] for r in rows]
        sampler = _RowSampler(counts, rows, config.batch_size, config.sampling, rng("sampler"),
                              device, dtype, weights=weights, steps=config.steps_per_epoch)
        inputs = _Inputs(X, slot)
    else:
        sampler = _Sampler(X.shape[0], config.batch_size, config.sampling, rng("sampler"),
                           device, steps=config.steps_per_epoch)
    if selector is None:
        selector = (BestValidationIterate() if validation is not None
                    else SELECTORS[config.iterate]())
    total_steps = config.max_epochs * sampler.steps
    if config.max_steps is not None:
        total_steps = min(total_steps, int(config.max_steps))
    selector.start(params, total_steps=total_steps, rng=rng)
    if validation is not None and validation_score is None:
        def validation_score(out, y):
            return -objective.loss.value(out, y)

    cbs = [as_callback(c) for c in callbacks]
    step_cbs = [c for c in cbs if overrides(c, "on_step_end")]
    if general and not sampler.aligned:
        _check_out_of_phase(sampler, selector, post_updates, step_cbs, config)
    own_steps = np.zeros(K, dtype=int)
    active = np.ones(K, dtype=bool)
    diverged = np.zeros(K, dtype=bool)
    converged = np.zeros(K, dtype=bool)
    n_epochs = np.zeros(K, dtype=int)
    n_steps = np.zeros(K, dtype=int)
    plateau = _Plateau(config.tol, config.n_iter_no_change, K)
    history = History()
    stopped_by_callback = False
    first_loss = None
    ctx = StepContext(epoch=0, step=0, rng=rng, lr=base_lr)
    for cb in cbs:
        cb.on_train_begin(params, ctx)
    epochs = range(config.max_epochs)
    if progress_bar:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="epochs", leave=False)
    start = time.perf_counter()
    step = in_phase = 0
    for epoch in epochs:
        decayed = config.lr_decay_epoch is not None and epoch >= config.lr_decay_epoch
        factor = config.lr_decay_factor if decayed else 1.0
        lr = base_lr * torch.as_tensor(active * factor, dtype=dtype, device=device)
        lr_np = lr.cpu().numpy().astype(np.float64)
        # one float when every copy steps alike (always at K=1): a cheaper update kernel
        lr_step = (float(lr_np[0]) if (lr_np == lr_np[0]).all()
                   else [per_copy_view(lr, p) for p in plist])
        ctx.epoch, ctx.lr = epoch, lr
        epoch_loss = torch.zeros(K, dtype=dtype, device=device)
        seen = torch.zeros(K, dtype=dtype, device=device) if general else 0.0
        for batch in (sampler.batches(inputs, Y) if general else sampler.batches(X, Y)):
            if step >= total_steps:
                break
            ctx.step = step
            idle = None
            if general:
                xb, yb, idle = batch
                idle = idle if idle.any() else None
            else:
                xb, yb, frac = batch
            value, grads = objective.loss_and_grads(params, xb, yb, ctx)
            if first_loss is None:
                first_loss = value.detach().clone()
            if idle is None:
                selector.observe(params, value, step)
            else:  # an idle copy has no iterate to offer at this step
                idle_t = torch.as_tensor(idle, device=device)
                selector.observe(params, value.masked_fill(idle_t, math.inf), step)
            if general:
                epoch_loss.addcmul_(value, yb.total)
                seen.add_(yb.total)
            else:
                epoch_loss.add_(value, alpha=frac)
                seen += frac
            # a large transposed gradient view (the thin-input layout of the backward pass)
            # makes the update's kernels strided, about 2x slower than a copy first; below
            # STRIDED_UPDATE_MAX entries the copy costs more than it saves
            update = [g if g.is_contiguous() or g.numel() < STRIDED_UPDATE_MAX
                      else g.contiguous() for g in (grads[n] for n in names)]
            if idle is None:
                rule.step(update, lr_step)
            else:
                _step_skipping(rule, update, lr, idle, plist)
            for post in post_updates:
                post.apply_(params, ctx)
            for cb in step_cbs:
                cb.on_step_end(params, value, ctx)
            if idle is None:
                in_phase += 1
            else:
                own_steps += ~idle
            step += 1
        own_steps += in_phase  # the steps every copy took (counted in Python, per epoch)
        in_phase = 0
        n_steps[active] = own_steps[active]
        n_epochs[active] = epoch + 1
        if general:
            loss_np = (epoch_loss / seen.clamp_min(torch.finfo(dtype).tiny)).cpu().numpy()
            loss_np = loss_np.astype(np.float64)
        else:
            loss_np = epoch_loss.cpu().numpy().astype(np.float64) / seen
        start_np = first_loss.cpu().numpy().astype(np.float64)
        exploded = (start_np > 0) & (loss_np > EXPLODE_FACTOR * start_np)
        bad = active & (~np.isfinite(loss_np) | ~_finite_copies(params) | exploded)
        if bad.any():
            what = ("became non-finite" if not np.isfinite(loss_np[bad]).all()
                    else f"exploded to over {EXPLODE_FACTOR:g}x its initial value")
            if on_divergence == "raise" or (diverged | bad).all():
                raise ValueError(_divergence_message(
                    f"training loss {what}", f"({loss_np[bad][0]:.3g})", epoch,
                    np.flatnonzero(bad).tolist(), lr_np))
            diverged |= bad
            active &= ~bad
        val_np = None
        if validation is not None:
            with torch.no_grad():
                val_out = objective.outputs(params, validation[0])
                val_np = validation_score(val_out, validation[1]).cpu().numpy()
            val_np = val_np.astype(np.float64)
            if (active & ~np.isfinite(val_np)).any():
                bad_val = np.flatnonzero(active & ~np.isfinite(val_np)).tolist()
                raise ValueError(_divergence_message("validation loss became non-finite",
                                                     "", epoch, bad_val, lr_np))
        elapsed = time.perf_counter() - start
        history.loss.append(loss_np)
        history.learning_rate.append(lr_np)
        history.time.append(elapsed)
        if val_np is not None:
            history.validation_score.append(val_np)
        info = EpochInfo(epoch=epoch, loss=loss_np, validation_score=val_np,
                         learning_rate=lr_np, time=elapsed, active=active.copy(),
                         params=params, history=history)
        selector.on_epoch_end(params, info)
        done = plateau.update(-val_np if val_np is not None else loss_np, active)
        converged |= done
        active &= ~done
        if verbose:
            msg = f"Epoch {epoch + 1}/{config.max_epochs}, loss = {_fmt(loss_np)}"
            if val_np is not None:
                msg += f", validation score = {_fmt(val_np)}"
            log(msg + f", lr = {_fmt(lr_np)}, time = {elapsed:.2f}s")
        if any([bool(cb.on_epoch_end(info)) for cb in cbs]):
            stopped_by_callback = True
            break
        if not active.any() or step >= total_steps:
            break

    if general:
        def final_loss(p):
            idx, weight = sampler.all_rows()
            return objective.data_loss(p, inputs(idx), WeightedTargets(Y[idx], weight))
    else:
        def final_loss(p):
            return objective.data_loss(p, X, Y)
    with torch.no_grad():
        selector.finalize(params, steps_done=step, final_loss=final_loss)
    best_val = getattr(selector, "best_score_", None)
    return TrainResult(
        params=params,
        history=history,
        n_epochs=n_epochs,
        n_steps=n_steps,
        converged=converged,
        diverged=diverged,
        best_validation_score=best_val,
        stopped_by_callback=stopped_by_callback,
        selector=selector,
    )


def _check_x_slots(X, K, x_index, device):
    """The per-copy input slots ``(K, 1)`` (None for shared inputs), validated."""
    if X.dim() == 2:
        return None
    if X.dim() != 3:
        raise ValueError(f"`X` must be (n, d) or per copy (K, n, d); got shape {tuple(X.shape)}.")
    if x_index is None:
        if X.shape[0] != K:
            raise ValueError(f"Per-copy inputs X of shape {tuple(X.shape)} need one slice per "
                             f"network ({K}), or `x_index` naming each network's slice.")
        index = np.arange(K)
    else:
        index = np.asarray(x_index)
        if index.shape != (K,) or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"`x_index` must hold one integer per network ({K}); got "
                             f"{index.tolist()!r}.")
        if index.min() < 0 or index.max() >= X.shape[0]:
            raise ValueError(f"`x_index` must index the {X.shape[0]} input slices of X; got "
                             f"{index.tolist()!r}.")
    return torch.as_tensor(index.astype(np.int64), device=device).unsqueeze(1)


def _check_out_of_phase(sampler, selector, post_updates, step_cbs, config):
    """Copies with different steps per epoch need seams that never read the step index."""
    needs = []
    if not isinstance(selector, _STEP_FREE_SELECTORS) or isinstance(
            selector, SELECTORS["uniform_random"]):
        needs.append(f"the iterate selector {type(selector).__name__}")
    if post_updates:
        needs.append("post-updates")
    if step_cbs:
        needs.append("step callbacks")
    if config.max_steps is not None:
        needs.append("max_steps")
    if needs:
        counts = sorted(set(sampler.steps_k.tolist()))
        raise ValueError(
            f"The networks' training rows give them different numbers of steps per epoch "
            f"({counts}), so they step out of phase, which {', '.join(needs)} cannot follow "
            "(they count the stack's steps). Give every network rows that make the same "
            "number of batches, or train those groups in separate runs.")


def _step_skipping(rule, grads, lr, idle, plist):
    """One update in which the ``idle`` copies keep their weights and momentum exactly."""
    keep = torch.as_tensor(~idle, dtype=lr.dtype, device=lr.device)
    lr_step = [per_copy_view(lr * keep, p) for p in plist]
    index = torch.as_tensor(np.flatnonzero(idle), device=lr.device)
    saved = None if rule.buffers is None else [b.index_select(0, index) for b in rule.buffers]
    rule.step(grads, lr_step)
    if saved is not None:
        for b, s in zip(rule.buffers, saved):
            b.index_copy_(0, index, s)


def _fmt(arr: np.ndarray) -> str:
    if arr.size == 1:
        return f"{float(arr[0]):.6g}"
    return "[" + ", ".join(f"{v:.4g}" for v in arr) + "]"
