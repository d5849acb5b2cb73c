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
from ._sampling import (
    Inputs,
    RowSampler,
    Sampler,
    check_rows,
    check_sample_weight,
    epoch_steps,
)
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
# Gradients with fewer entries than this update the weights as strided views (no copy).
STRIDED_UPDATE_MAX = 2**15
# Weights with at least this many entries per network get their momentum accumulated
# inside the gradient matmul (StepContext.momentum_into).
FUSE_MIN_ENTRIES = 2**15


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


def steps_per_epoch(n_rows: int, config: SGDConfig) -> int:
    """The number of steps an epoch of :func:`train` makes over ``n_rows`` training rows."""
    return epoch_steps(n_rows, config.batch_size, config.sampling, config.steps_per_epoch)


def _per_copy(value, K, name, device, dtype):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(K, float(arr))
    if arr.shape != (K,):
        raise ValueError(f"`{name}` must be a scalar or have one value per network ({K}).")
    return torch.as_tensor(arr, dtype=dtype, device=device)


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
    """Which copies have only finite weights: their float64 sums are finite (a NaN or an
    infinity makes the sum non-finite; float32 weights cannot overflow it). One reduction
    per tensor, a quarter of the time of ``isfinite(p).all()``."""
    total = sum(p.flatten(1).sum(dim=1, dtype=torch.float64) for p in params.values())
    return torch.isfinite(total).cpu().numpy()


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
        rows = None if rows is None else check_rows(rows, K, n_rows)
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
        sampler = RowSampler(counts, rows, config.batch_size, config.sampling, rng("sampler"),
                              device, dtype, weights=weights, steps=config.steps_per_epoch)
        inputs = Inputs(X, slot)
    else:
        sampler = Sampler(X.shape[0], config.batch_size, config.sampling, rng("sampler"),
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
    # objectives that declare it compute weight gradients into the momentum buffers (a
    # class attribute: wrappers, which change the gradient afterwards, never declare it)
    # Only for large weights: on a small one the saved pass is worth less than the request.
    fusable = (getattr(type(objective), "accumulates_momentum", False)
               and rule.buffers is not None and isinstance(rule.momentum, float))
    fused = [i for i, p in enumerate(plist) if fusable and p[0].numel() >= FUSE_MIN_ENTRIES]
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
            ctx.momentum_into = ({names[i]: (rule.buffers[i], rule.momentum) for i in fused}
                                 if fused and idle is None else None)
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
