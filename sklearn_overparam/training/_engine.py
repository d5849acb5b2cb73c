"""The stacked training engine: K independent networks trained in one pass.

Each copy ``k`` of the stack has its own shuffle generator, learning rate and weight decay;
the steps are batched matrix products over the stack, written by hand (forward, backward,
momentum update) and free of host synchronisation. Losses are read once per epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._torch import make_generator
from ..nn import ReLUNetSpec, backward, copy_params, forward
from ._losses import get_loss

SAMPLINGS = ("shuffle", "sequential", "replacement")
ITERATES = ("last", "uniform_random")


@dataclass
class SGDConfig:
    """Optimizer, schedule and stopping rule of one engine run.

    ``learning_rate`` and ``weight_decay`` are scalars or one value per copy. The update
    is PyTorch's ``torch.optim.SGD`` (dampening 0): ``g = grad + weight_decay * p`` (coupled
    decay on the full weight), ``buf = momentum * buf + g``, ``p -= lr * buf``.

    ``batch_size=None`` is full-batch gradient descent. ``sampling`` is ``"shuffle"``
    (a fresh permutation every epoch), ``"sequential"`` (fixed order) or ``"replacement"``
    (each step draws its batch uniformly with replacement: [AZLL] Algorithm 1). The
    learning rate is multiplied by ``lr_decay_factor`` from epoch ``lr_decay_epoch``
    (0-based) on. With ``tol`` set, a copy stops once its monitored quantity (training
    loss, or validation score when validation data are given) has not improved by ``tol``
    for ``n_iter_no_change`` epochs; ``tol=None`` runs every epoch. ``iterate`` picks the
    returned weights: the last ones, or a uniformly random iterate ``W_t``,
    ``t in {0, ..., T-1}`` (the iterate [AZLL] Algorithm 1 and [CCZG] Algorithm 2 analyse).
    """

    learning_rate: float | Sequence[float] = 0.01
    momentum: float = 0.0
    weight_decay: float | Sequence[float] = 0.0
    batch_size: int | None = 50
    max_epochs: int = 200
    lr_decay_epoch: int | None = None
    lr_decay_factor: float = 0.1
    sampling: str = "shuffle"
    tol: float | None = 1e-4
    n_iter_no_change: int = 10
    iterate: str = "last"


@dataclass
class History:
    """Per-epoch record of a run; arrays are ``(n_epochs, K)``."""

    loss: list = field(default_factory=list)
    validation_score: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    time: list = field(default_factory=list)

    def as_dict(self) -> dict[str, np.ndarray]:
        out = {
            "loss": np.asarray(self.loss),
            "learning_rate": np.asarray(self.learning_rate),
            "time": np.asarray(self.time),
        }
        if self.validation_score:
            out["validation_score"] = np.asarray(self.validation_score)
        return out


@dataclass
class TrainResult:
    """What :func:`train` returns: final (or selected) weights and the run's record."""

    params: dict[str, torch.Tensor]
    history: History
    n_epochs: np.ndarray
    converged: np.ndarray
    best_validation_score: np.ndarray | None
    stopped_by_callback: bool


class NetworkObjective:
    """Loss of a stacked ReLU network and its gradient w.r.t. the trainable tensors."""

    def __init__(self, spec: ReLUNetSpec, loss):
        self.spec = spec
        self.loss = get_loss(loss)
        self._workspace = {}  # activation buffers reused from step to step

    def loss_and_grads(self, params, xb, yb):
        ws = self._workspace
        out, hidden = forward(self.spec, params, xb, return_hidden=True, workspace=ws)
        value, grad_out = self.loss.value_and_grad(out, yb)
        return value, backward(self.spec, params, hidden, grad_out, workspace=ws)

    def outputs(self, params, X):
        return forward(self.spec, params, X)

    def value(self, params, X, Y):
        return self.loss.value(self.outputs(params, X), Y)


def _per_copy(value, K, name, device, dtype):
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (K,)) if np.ndim(value) else (
        np.full(K, float(value))
    )
    if arr.shape != (K,):
        raise ValueError(f"`{name}` must be a scalar or have one value per network ({K}).")
    return torch.as_tensor(np.array(arr), dtype=dtype, device=device)


def _view(vec: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return vec.view((-1,) + (1,) * (p.dim() - 1))


class _Sampler:
    """Batch indices per epoch, one torch.Generator per copy (drawn on CPU)."""

    def __init__(self, n, batch_size, sampling, generators, device):
        self.n, self.sampling, self.gens, self.device = n, sampling, generators, device
        self.full = batch_size is None or (batch_size >= n and sampling != "replacement")
        self.batch = n if self.full else int(batch_size)
        self.steps = 1 if self.full else math.ceil(n / self.batch)
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


def _check_finite(value: torch.Tensor, params, epoch: int, lr: np.ndarray, what: str) -> None:
    finite_params = all(bool(torch.isfinite(p).all()) for p in params.values())
    bad = ~np.isfinite(value)
    if bad.any() or not finite_params:
        copies = np.flatnonzero(bad).tolist() if bad.any() else "some"
        shown = value[bad][0] if bad.any() else "finite"
        raise ValueError(
            f"Training diverged: the {what} loss became non-finite ({shown}) at epoch "
            f"{epoch + 1} (network(s) {copies}); the weights are not usable. Use a smaller "
            f"learning rate (learning_rate_init={float(np.max(lr)):g}) or scale the inputs "
            "and targets (e.g. StandardScaler)."
        )


def _log(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def train(
    objective: NetworkObjective,
    params: dict[str, torch.Tensor],
    X: torch.Tensor,
    Y: torch.Tensor,
    config: SGDConfig,
    seeds: Sequence[int],
    *,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    validation_score: Callable | None = None,
    callbacks: Sequence[Callable] = (),
    verbose: int = 0,
    progress_bar: bool = False,
) -> TrainResult:
    """Train the K networks of ``params`` (updated in place) on shared data ``(X, Y)``.

    Parameters
    ----------
    objective : NetworkObjective
        The network and loss; its ``loss_and_grads`` gives per-copy values and gradients.
    params : dict of str to Tensor
        Stacked parameters ``(K, ...)``; trained in place.
    X, Y : Tensor
        Training inputs ``(n, d)`` and targets (``(n, k)`` for regression, ``(n,)`` labels).
    config : SGDConfig
        Optimizer, schedule and stopping rule.
    seeds : sequence of int
        One seed per copy, for its shuffle order and random-iterate draw.
    validation : (X_val, Y_val), optional
        Held-out data for early stopping: each copy stops when its validation score has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and its best weights are restored.
    validation_score : callable, optional
        ``score(outputs, Y_val) -> (K,)``, higher is better; default: minus the loss.
    callbacks : sequence of callable
        Each called after every epoch as ``cb(info)`` with a dict holding ``epoch``, ``loss``,
        ``validation_score``, ``learning_rate``, ``time`` and ``params``; a truthy return
        stops training.
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
        When the loss or the weights become non-finite (checked once per epoch), with advice.
    """
    if config.sampling not in SAMPLINGS:
        raise ValueError(f"`sampling` must be one of {SAMPLINGS}; got {config.sampling!r}.")
    if config.iterate not in ITERATES:
        raise ValueError(f"`iterate` must be one of {ITERATES}; got {config.iterate!r}.")
    K = len(seeds)
    device, dtype = X.device, next(iter(params.values())).dtype
    names = objective.spec.trainable_names
    base_lr = _per_copy(config.learning_rate, K, "learning_rate", device, dtype)
    wd = _per_copy(config.weight_decay, K, "weight_decay", device, dtype)
    use_wd = bool((wd != 0).any())
    # one fused (foreach) update over all trained tensors: 3 kernel launches per step
    # instead of 3 per tensor, which is most of the step of a small network
    plist = [params[n] for n in names]
    wd_list = [_view(wd, p) for p in plist]
    bufs = [torch.zeros_like(p) for p in plist] if config.momentum else None

    gens = [make_generator(s) for s in seeds]
    sampler = _Sampler(X.shape[0], config.batch_size, config.sampling, gens, device)
    total_steps = config.max_epochs * sampler.steps
    snap_step = None
    if config.iterate == "uniform_random":
        snap_step = np.array([int(torch.randint(total_steps, (1,), generator=g)) for g in gens])
        snapshot = copy_params(params)

    active = np.ones(K, dtype=bool)
    best = np.full(K, np.inf)  # best monitored quantity (loss, or minus the validation score)
    no_improve = np.zeros(K, dtype=int)
    n_epochs = np.zeros(K, dtype=int)
    converged = np.zeros(K, dtype=bool)
    best_params = copy_params(params) if validation is not None else None
    best_val = np.full(K, -np.inf) if validation is not None else None
    if validation is not None and validation_score is None:
        def validation_score(out, y):
            return -objective.loss.value(out, y)

    history = History()
    stopped_by_callback = False
    epochs = range(config.max_epochs)
    if progress_bar:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="epochs", leave=False)
    start = time.perf_counter()
    step = 0
    for epoch in epochs:
        decayed = config.lr_decay_epoch is not None and epoch >= config.lr_decay_epoch
        lr_np = base_lr.cpu().numpy() * (config.lr_decay_factor if decayed else 1.0) * active
        lr = torch.as_tensor(lr_np, dtype=dtype, device=device)
        lr_list = [_view(lr, p) for p in plist]
        epoch_loss = torch.zeros(K, dtype=dtype, device=device)
        for idx in sampler.epoch():
            if snap_step is not None:
                hit = np.flatnonzero(snap_step == step)
                for k in hit:
                    for n, p in params.items():
                        snapshot[n][k].copy_(p[k])
            if idx is None:
                xb, yb, frac = X, Y, 1.0
            else:
                xb, yb, frac = X[idx], Y[idx], idx.shape[1] / sampler.per_epoch
            value, grads = objective.loss_and_grads(params, xb, yb)
            epoch_loss.add_(value, alpha=frac)
            update = [grads[n] for n in names]
            if use_wd:
                torch._foreach_addcmul_(update, plist, wd_list)
            if bufs is not None:
                torch._foreach_mul_(bufs, config.momentum)
                torch._foreach_add_(bufs, update)
                update = bufs
            torch._foreach_addcmul_(plist, update, lr_list, value=-1.0)
            step += 1

        loss_np = epoch_loss.cpu().numpy().astype(np.float64)
        _check_finite(loss_np, params, epoch, lr_np, "training")
        val_np = None
        if validation is not None:
            with torch.no_grad():
                val_out = objective.outputs(params, validation[0])
                val_np = validation_score(val_out, validation[1]).cpu().numpy().astype(np.float64)
            _check_finite(np.where(np.isfinite(val_np), 0.0, val_np), params, epoch, lr_np,
                          "validation")
            better = (val_np > best_val) & active
            if better.any():
                mask = torch.as_tensor(better, device=device)
                for n, p in params.items():
                    best_params[n] = torch.where(_view(mask, p), p, best_params[n])
                best_val = np.where(better, val_np, best_val)
            monitored = -val_np
        else:
            monitored = loss_np
        n_epochs[active] = epoch + 1
        if config.tol is not None:
            improved = monitored < best - config.tol
            no_improve = np.where(improved, 0, no_improve + 1)
            best = np.minimum(best, monitored)
            done = active & (no_improve >= config.n_iter_no_change)
            converged |= done
            active &= ~done
        elapsed = time.perf_counter() - start
        history.loss.append(loss_np)
        history.learning_rate.append(lr_np)
        history.time.append(elapsed)
        if val_np is not None:
            history.validation_score.append(val_np)
        if verbose:
            msg = f"Epoch {epoch + 1}/{config.max_epochs}, loss = {_fmt(loss_np)}"
            if val_np is not None:
                msg += f", validation score = {_fmt(val_np)}"
            _log(msg + f", lr = {_fmt(lr_np)}, time = {elapsed:.2f}s")
        info = {"epoch": epoch, "loss": loss_np, "validation_score": val_np,
                "learning_rate": lr_np, "time": elapsed, "params": params}
        if any([bool(cb(info)) for cb in callbacks]):
            stopped_by_callback = True
            break
        if not active.any():
            break

    if validation is not None:
        for n in params:
            params[n].copy_(best_params[n])
    if snap_step is not None:
        reached = torch.as_tensor(snap_step < step, device=device)
        for n, p in params.items():
            p.copy_(torch.where(_view(reached, p), snapshot[n], p))
    return TrainResult(
        params=params,
        history=history,
        n_epochs=n_epochs,
        converged=converged,
        best_validation_score=best_val,
        stopped_by_callback=stopped_by_callback,
    )


def _fmt(arr: np.ndarray) -> str:
    if arr.size == 1:
        return f"{float(arr[0]):.6g}"
    return "[" + ", ".join(f"{v:.4g}" for v in arr) + "]"
