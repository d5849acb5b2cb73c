"""The stacked training engine: K independent networks (or any objective) in one pass.

The loop reads as the algorithm: sample a batch, ``loss_and_grads``, let the iterate
selector observe ``W_t``, update, post-update, step callbacks; per epoch: check for
divergence, score validation data, stop converged copies, record, epoch callbacks. What
changes between the papers' algorithms lives in the seams passed to :func:`train`. A step
never synchronises with the host; losses are read once per epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._callbacks import EpochInfo, History, as_callback, overrides
from ._context import RandomStreams, StepContext
from ._selectors import SELECTORS, BestValidationIterate
from ._updates import SGDUpdate, per_copy_view

SAMPLINGS = ("shuffle", "sequential", "replacement")
ITERATES = ("last", "uniform_random", "best_train_loss")
# An epoch loss this many times the first step's loss is divergence even while finite
# (ReLUs dying under a huge step keep the loss finite but the model is useless).
EXPLODE_FACTOR = 1e4


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

    def epoch(self):
        if self.full:
            return [None]
        K = len(self.gens)
        if self.sampling == "replacement":
            idx = torch.stack(
                [torch.randint(self.n, (self.steps * self.batch,), generator=g) for g in self.gens]
            )
        elif self.sampling == "shuffle":
            idx = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens])
        else:
            idx = torch.arange(self.n).expand(K, self.n)
        idx = idx.to(self.device)
        stop = idx.shape[1]
        return [idx[:, s : min(s + self.batch, stop)] for s in range(0, stop, self.batch)]


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


def _log(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


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
    base_lr = _per_copy(config.learning_rate, K, "learning_rate", device, dtype)
    plist = [params[n] for n in names]
    rule = SGDUpdate(
        plist,
        momentum=_per_copy(config.momentum, K, "momentum", device, dtype),
        weight_decay=_per_copy(config.weight_decay, K, "weight_decay", device, dtype),
    )
    rng = RandomStreams(seeds)
    sampler = _Sampler(X.shape[0], config.batch_size, config.sampling, rng("sampler"), device,
                       steps=config.steps_per_epoch)
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
    step = 0
    for epoch in epochs:
        decayed = config.lr_decay_epoch is not None and epoch >= config.lr_decay_epoch
        factor = config.lr_decay_factor if decayed else 1.0
        lr = base_lr * torch.as_tensor(active * factor, dtype=dtype, device=device)
        lr_list = [per_copy_view(lr, p) for p in plist]
        ctx.epoch, ctx.lr = epoch, lr
        epoch_loss = torch.zeros(K, dtype=dtype, device=device)
        seen = 0.0
        for idx in sampler.epoch():
            if step >= total_steps:
                break
            ctx.step = step
            if idx is None:
                xb, yb, frac = X, Y, 1.0
            else:
                xb, yb, frac = X[idx], Y[idx], idx.shape[1] / sampler.per_epoch
            value, grads = objective.loss_and_grads(params, xb, yb, ctx)
            if first_loss is None:
                first_loss = value.detach().clone()
            selector.observe(params, value, step)
            epoch_loss.add_(value, alpha=frac)
            seen += frac
            rule.step([grads[n] for n in names], lr_list)
            for post in post_updates:
                post.apply_(params, ctx)
            for cb in step_cbs:
                cb.on_step_end(params, value, ctx)
            step += 1
        n_steps[active] = step
        n_epochs[active] = epoch + 1
        lr_np = lr.cpu().numpy().astype(np.float64)
        loss_np = epoch_loss.cpu().numpy().astype(np.float64) / seen
        start_np = first_loss.cpu().numpy().astype(np.float64)
        exploded = (start_np > 0) & (loss_np > EXPLODE_FACTOR * start_np)
        bad = active & (~np.isfinite(loss_np) | ~_finite_copies(params) | exploded)
        if bad.any():
            what = ("became non-finite" if not np.isfinite(loss_np[bad]).all()
                    else f"exploded to over {EXPLODE_FACTOR:g}x its initial value")
            if on_divergence == "raise" or bad.sum() == active.sum():
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
            _log(msg + f", lr = {_fmt(lr_np)}, time = {elapsed:.2f}s")
        if any([bool(cb.on_epoch_end(info)) for cb in cbs]):
            stopped_by_callback = True
            break
        if not active.any() or step >= total_steps:
            break

    with torch.no_grad():
        selector.finalize(params, steps_done=step,
                          final_loss=lambda p: objective.data_loss(p, X, Y))
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


def _fmt(arr: np.ndarray) -> str:
    if arr.size == 1:
        return f"{float(arr[0]):.6g}"
    return "[" + ", ".join(f"{v:.4g}" for v in arr) + "]"
