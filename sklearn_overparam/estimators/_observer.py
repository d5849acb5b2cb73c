"""The engine observer of ``partial_fit`` and ``warm_start``: it carries the momentum
buffers across calls and opens the per-epoch tasks of scikit-learn's callback API."""

from __future__ import annotations

import numpy as np
import torch

from .._torch import to_numpy
from ..training import Callback


def _continued_seed(seed, offset):
    """The training seed of a fit continued after ``offset`` epochs (its own streams)."""
    if not offset:
        return int(seed)
    state = np.random.SeedSequence([int(seed), int(offset)]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


class _ObservedObjective:
    """An objective whose steps a :class:`_RunObserver` sees first (everything delegated)."""

    def __init__(self, base, observer):
        self.base, self.observer = base, observer

    def loss_and_grads(self, params, X, Y, ctx=None, *args, **kwargs):
        value, grads = self.base.loss_and_grads(params, X, Y, ctx, *args, **kwargs)
        return value, self.observer.before_step(params, grads, ctx)

    def __getattr__(self, name):
        return getattr(self.base, name)


class _RunObserver(Callback):
    """What an estimator follows of one single-network engine run, beside the engine.

    - Momentum buffers: a continued fit's first gradient gets ``momentum * v0`` added, so
      PyTorch's buffer (``buf = g`` at the first step) continues from ``v0``; with
      ``capture`` the buffers are tracked exactly as :class:`~sklearn_overparam.training.
      SGDUpdate` forms them (``buf = momentum buf + g + weight_decay p``), for the next call.
    - The last iterate: a copy of the trained tensors after every epoch (``snapshot``),
      when the engine returns another iterate (early stopping, a random or best iterate).
    - scikit-learn callbacks: one ``"epoch"`` sub-task of the fit's root context per epoch,
      begun before its first step and ended after it with the reconstruction attributes of
      the model at that point (a truthy ``on_fit_task_end`` stops training).
    """

    def __init__(self, est, net, objective, trained, names, *, momentum, weight_decay,
                 velocity0, capture, snapshot, tasks):
        self.est, self.net, self.objective, self.names = est, net, objective, names
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity0 = velocity0
        self.buffers = [torch.zeros_like(trained[n]) for n in names] if capture else None
        self.snapshot, self.tasks = snapshot, tasks
        self.last = None
        self._first, self._epoch, self._task = True, -1, None

    def before_step(self, params, grads, ctx):
        if self.tasks is not None and ctx is not None and ctx.epoch != self._epoch:
            self._epoch = ctx.epoch
            root, X, y, metadata = self.tasks
            self._task = root.subcontext(task_name="epoch")
            self._task.call_on_fit_task_begin(estimator=self.est, X=X, y=y, metadata=metadata)
        if self._first:
            self._first = False
            if self.velocity0 is not None:
                grads = dict(grads)
                for n in self.names:
                    grads[n] = grads[n] + self.momentum * self.velocity0[n]
        if self.buffers is not None:
            g = [grads[n] for n in self.names]
            if self.weight_decay:
                g = torch._foreach_add(g, [params[n] for n in self.names],
                                       alpha=self.weight_decay)
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, g)
        return grads

    def on_epoch_end(self, info):
        if self.snapshot:
            self.last = {n: info.params[n].detach().clone() for n in self.names}
        if self._task is None:
            return False
        task, self._task = self._task, None
        _, X, y, metadata = self.tasks
        params = info.params
        return bool(task.call_on_fit_task_end(
            estimator=self.est, X=X, y=y, metadata=metadata,
            reconstruction_attributes=lambda: self.est._snapshot_attributes(
                self.net, self.objective, params)))

    def velocity(self):
        """The momentum buffers of the run (numpy, copy 0), or None."""
        if self.buffers is None:
            return None
        return {n: to_numpy(b[0]).copy() for n, b in zip(self.names, self.buffers)}


def _partial_fit_available(est):
    """``available_if`` check of ``partial_fit``: iterative solvers only (as MLP's)."""
    if not est._iterative():
        raise AttributeError(
            f"partial_fit is only available for iterative solvers; {type(est).__name__} has "
            f"solver={getattr(est, 'solver', None)!r}, a closed-form solve."
        )
    return True
