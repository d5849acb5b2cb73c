"""Which iterate a run returns: the ``IterateSelector`` seam and its four implementations.

A selector sees the parameters before every update (``observe``: ``W_t`` and its batch loss)
and after every epoch (``on_epoch_end``), and writes its choice into the parameters at the
end (``finalize``). Random choices use the ``"selector"`` stream of each copy, so the
trajectory does not depend on which selector is used.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ._context import RandomStreams
from ._updates import per_copy_view


@runtime_checkable
class IterateSelector(Protocol):
    """Chooses, per copy, the parameters a run returns."""

    def start(self, params, *, total_steps: int, rng: RandomStreams) -> None: ...

    def observe(self, params, value: torch.Tensor, step: int) -> None: ...

    def on_epoch_end(self, params, info) -> None: ...

    def finalize(self, params, *, steps_done: int, final_loss) -> None: ...


class LastIterate:
    """The parameters after the last step."""

    def start(self, params, *, total_steps, rng):
        pass

    def observe(self, params, value, step):
        pass

    def on_epoch_end(self, params, info):
        pass

    def finalize(self, params, *, steps_done, final_loss):
        pass


def _copy_rows(dst, src, mask_or_index):
    for name, p in src.items():
        if isinstance(mask_or_index, torch.Tensor):
            dst[name].copy_(torch.where(per_copy_view(mask_or_index, p), p, dst[name]))
        else:
            dst[name][mask_or_index].copy_(p[mask_or_index])


class UniformRandomIterate(LastIterate):
    """A uniformly random iterate ``W_t``, ``t in {0, ..., T-1}``, drawn before training.

    The iterate [AZLL] Algorithm 1 (Theorem 1) and [CCZG] Algorithm 2 (Theorem 3.5)
    bound. Only that iterate is stored; ``index_`` holds the drawn ``t`` per copy. A copy
    that stops before step ``t`` returns its last iterate.
    """

    def start(self, params, *, total_steps, rng):
        self.index_ = np.array([int(torch.randint(total_steps, (1,), generator=g))
                                for g in rng("selector")])
        self._snapshot = {n: p.clone() for n, p in params.items()}

    def observe(self, params, value, step):
        for k in np.flatnonzero(self.index_ == step):
            _copy_rows(self._snapshot, params, int(k))

    def finalize(self, params, *, steps_done, final_loss):
        reached = torch.as_tensor(self.index_ < steps_done,
                                  device=next(iter(params.values())).device)
        _copy_rows(params, self._snapshot, reached)


class BestValidationIterate(LastIterate):
    """The parameters of the epoch with the best validation score (early stopping)."""

    def start(self, params, *, total_steps, rng):
        self._best = {n: p.clone() for n, p in params.items()}
        self.best_score_ = np.full(len(rng), -np.inf)

    def on_epoch_end(self, params, info):
        better = (info.validation_score > self.best_score_) & info.active
        if better.any():
            device = next(iter(params.values())).device
            _copy_rows(self._best, params, torch.as_tensor(better, device=device))
            self.best_score_ = np.where(better, info.validation_score, self.best_score_)

    def finalize(self, params, *, steps_done, final_loss):
        for name, p in params.items():
            p.copy_(self._best[name])


class BestTrainingLossIterate(LastIterate):
    """The iterate with the smallest training loss seen, ``argmin_t L_S(W_t)``.

    With full-batch steps (gradient descent, [CCZG] Algorithm 1) every step's loss is the
    training loss of ``W_t``, and the final ``W_T`` is evaluated at the end; with
    minibatches the batch loss is a noisy proxy. ``best_loss_`` holds the loss per copy.
    """

    def start(self, params, *, total_steps, rng):
        self._best = {n: p.clone() for n, p in params.items()}
        self._best_loss = None

    def observe(self, params, value, step):
        if self._best_loss is None:
            self._best_loss = value.detach().clone()
            return
        better = value < self._best_loss
        _copy_rows(self._best, params, better)
        torch.minimum(self._best_loss, value, out=self._best_loss)

    def finalize(self, params, *, steps_done, final_loss):
        final = final_loss(params)
        if self._best_loss is not None:
            keep_final = final <= self._best_loss
            _copy_rows(self._best, params, keep_final)
            for name, p in params.items():
                p.copy_(self._best[name])
            final = torch.minimum(final, self._best_loss)
        self.best_loss_ = final.detach().cpu().numpy().astype(np.float64)


class PerturbedCandidateIterate(LastIterate):
    """The best of ``n_candidates`` random perturbations of the final iterate.

    [AZLL] Algorithm 2, lines 6-8: draw ``n_candidates`` perturbations of ``W_T`` (each a
    ``perturbation.sample`` from the ``"selector"`` stream: fresh Gaussian smoothing, and
    for Algorithm 2 one sign draw ``Sigma-hat`` shared by all candidates), evaluate the
    training loss of each and keep the argmin. ``index_`` (per copy) and ``losses_``
    (``(n_candidates, K)``) are recorded.

    Parameters
    ----------
    n_candidates : int
        Number of perturbation draws.
    perturbation : callable
        ``perturbation(params, rng, j) -> params`` giving candidate ``j``.
    """

    def __init__(self, n_candidates: int, perturbation):
        if int(n_candidates) < 1:
            raise ValueError(f"`n_candidates` must be >= 1; got {n_candidates!r}.")
        self.n_candidates, self.perturbation = int(n_candidates), perturbation

    def start(self, params, *, total_steps, rng):
        self._rng = rng

    def finalize(self, params, *, steps_done, final_loss):
        final = {n: p.clone() for n, p in params.items()}
        losses, best = [], None
        for j in range(self.n_candidates):
            cand = self.perturbation(final, self._rng, j)
            loss = final_loss(cand)
            if best is None:
                best, best_loss = {n: p.clone() for n, p in cand.items()}, loss.clone()
            else:
                better = loss < best_loss
                _copy_rows(best, cand, better)
                best_loss = torch.minimum(best_loss, loss)
            losses.append(loss.detach().cpu().numpy().astype(np.float64))
        self.losses_ = np.stack(losses)
        self.index_ = self.losses_.argmin(axis=0)
        for name, p in params.items():
            p.copy_(best[name])


SELECTORS = {
    "last": LastIterate,
    "uniform_random": UniformRandomIterate,
    "best_validation": BestValidationIterate,
    "best_train_loss": BestTrainingLossIterate,
}
