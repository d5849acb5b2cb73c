"""How the engine's steps draw their batches: per-copy shuffles, rows and sample weights.

``Sampler`` serves copies that all train on the shared inputs; ``RowSampler`` serves copies
with their own training rows (CV folds) or sample weights, each drawing exactly what a
K=1 run on its rows would. Both gather an epoch's rows in one indexing pass.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._losses import WeightedTargets

# With per-copy rows or weights, an epoch's batches are gathered in one go when they take
# at most this many bytes (else batch by batch).
EPOCH_GATHER_BYTES = 32 * 2**20


def epoch_steps(n_rows: int, batch_size: int | None, sampling: str,
                steps: int | None = None) -> int:
    """Steps per epoch over ``n_rows`` rows: 1 for full batches, ``steps`` when given
    (``sampling="replacement"``), else ``ceil(n_rows / batch_size)``."""
    if batch_size is None or (batch_size >= n_rows and sampling != "replacement"):
        return 1
    if steps is not None:
        return int(steps)
    return math.ceil(n_rows / int(batch_size))


class Sampler:
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
            return [(gather_rows(X, idx[:, a:b]), Y[idx[:, a:b]], (b - a) / self.per_epoch)
                    for a, b in bounds]
        # one split call for all the epoch's batch views (a slice each costs 1-2 us)
        xs = gather_rows(X, idx).split(self.batch, dim=1)
        ys = Y[idx].split(self.batch, dim=1)
        return [(xb, yb, (b - a) / self.per_epoch) for xb, yb, (a, b) in zip(xs, ys, bounds)]


class RowSampler:
    """Batches over each copy's own rows, with per-sample weights (``rows=``, ``sample_weight=``).

    Copy ``k`` draws exactly what a K=1 :class:`Sampler` over its ``n_k`` rows draws (the
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
        if rows is not None:  # each copy's rows, padded to the longest (numpy, for _layout)
            self._rows = np.zeros((len(rows), int(self.counts.max())), dtype=np.int64)
            for k, r in enumerate(rows):
                self._rows[k, :r.shape[0]] = r.cpu().numpy()
        self.device, self.dtype, self.weights = device, dtype, weights
        self.full = np.array([batch_size is None or (batch_size >= n and sampling != "replacement")
                              for n in self.counts])
        self.width = int(self.counts.max()) if batch_size is None else int(batch_size)
        self.steps_k = np.array([epoch_steps(int(n), batch_size, sampling, steps)
                                 for n in self.counts])
        self.steps = int(self.steps_k.max())
        self.aligned = bool((self.steps_k == self.steps).all())
        # draws per epoch: every step a full batch with replacement, else each row once
        self.lengths = (self.steps_k * self.width if sampling == "replacement"
                        else self.counts.copy())
        starts = np.arange(self.steps) * self.width
        sizes = np.clip(self.lengths[:, None] - starts[None, :], 0, self.width)
        self.widths = sizes.max(axis=0)
        self.idle = sizes == 0  # (K, steps)

    def _local(self, k):
        n = int(self.counts[k])
        if self.sampling == "replacement":
            return torch.randint(n, (int(self.lengths[k]),), generator=self.gens[k])
        if self.sampling == "shuffle" and not self.full[k]:
            return torch.randperm(n, generator=self.gens[k])
        return torch.arange(n)

    def _layout(self, locals_, width):
        """The ``(K, width)`` row indices and weights of ``locals_`` (each copy's local
        draws), padded with weight-0 copies of a copy's first draw.

        In numpy (a few calls for the whole stack; per-copy torch indexing cost 1 ms an
        epoch at K=27, 4 us a network step of the [AZLL] search).
        """
        K = len(self.counts)
        local = np.empty((K, width), dtype=np.int64)
        lengths = np.empty(K, dtype=np.int64)
        for k, draws in enumerate(locals_):
            draws = draws.numpy()
            lengths[k] = L = draws.shape[0]
            local[k, :L] = draws
            local[k, L:] = draws[0]
        index = local if self.rows is None else np.take_along_axis(self._rows, local, axis=1)
        weight = (np.arange(width)[None, :] < lengths[:, None]).astype(np.float64)
        if self.weights is not None:
            w = self.weights.numpy()
            weight *= w[index] if w.ndim == 1 else np.take_along_axis(w, index, axis=1)
        return (torch.from_numpy(index).to(self.device),
                torch.from_numpy(weight).to(device=self.device, dtype=self.dtype))

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


class Inputs:
    """Gathers batches from shared inputs ``(n, d)`` or per-copy ones ``(S, n, d)``."""

    def __init__(self, X, slot):
        self.X, self.slot = X, slot  # slot: (K, 1) long on device, or None (shared)

    def __call__(self, index):
        if self.slot is None:
            return gather_rows(self.X, index)
        return self.X[self.slot, index]


def gather_rows(X, index):
    """``X[index]`` for shared rows ``X`` ``(n, ...)`` and an index ``(K, r)``: one
    ``index_select`` (4x faster than advanced indexing at ``(27, 700)``)."""
    return X.index_select(0, index.reshape(-1)).view(*index.shape, *X.shape[1:])


def check_rows(rows, K, n):
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


