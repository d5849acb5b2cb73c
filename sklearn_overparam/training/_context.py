"""One random stream per purpose and copy, and the context every seam receives per step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._torch import make_generator

# Fixed purpose keys: a stream's seed depends only on (copy seed, purpose), so adding a
# perturbation (a new consumer) never shifts the shuffle order or the iterate draw.
PURPOSES = ("sampler", "selector", "objective", "post_update", "callback")


def stream_seed(seed: int, purpose: str) -> int:
    """The 63-bit seed of the ``purpose`` stream of a copy whose seed is ``seed``.

    Derived with :class:`numpy.random.SeedSequence` (``spawn_key`` = the purpose's index),
    so streams are statistically independent of each other and of ``seed`` itself.
    """
    try:
        key = PURPOSES.index(purpose)
    except ValueError as exc:
        raise ValueError(f"`purpose` must be one of {PURPOSES}; got {purpose!r}.") from exc
    state = np.random.SeedSequence(int(seed), spawn_key=(key,)).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


class RandomStreams:
    """Per-copy CPU generators, one independent stream per purpose, created on first use."""

    def __init__(self, seeds):
        self.seeds = [int(s) for s in seeds]
        self._gens: dict[str, list[torch.Generator]] = {}

    def __len__(self) -> int:
        return len(self.seeds)

    def __call__(self, purpose: str) -> list[torch.Generator]:
        """The K generators of ``purpose`` (the same objects on every call)."""
        gens = self._gens.get(purpose)
        if gens is None:
            gens = self._gens[purpose] = [make_generator(stream_seed(s, purpose))
                                          for s in self.seeds]
        return gens

    def randn(self, purpose: str, shape, *, dtype, device) -> torch.Tensor:
        """``(K, *shape)`` standard normal draws, copy ``k`` from its own stream."""
        draws = [torch.randn(tuple(shape), generator=g, dtype=torch.float64)
                 for g in self(purpose)]
        return torch.stack(draws).to(device=device, dtype=dtype)

    def signs(self, purpose: str, size: int, *, dtype, device) -> torch.Tensor:
        """``(K, size)`` i.i.d. uniform signs ``+-1``, copy ``k`` from its own stream."""
        draws = [torch.randint(2, (size,), generator=g) for g in self(purpose)]
        return (torch.stack(draws) * 2 - 1).to(device=device, dtype=dtype)


@dataclass
class StepContext:
    """What a seam knows about the current step.

    ``epoch`` and ``step`` are 0-based (``step`` counts SGD steps over the whole run),
    ``rng`` the run's :class:`RandomStreams`, ``lr`` the ``(K,)`` step sizes in use
    (0 for copies that have stopped). ``momentum_into`` (set by the engine for objectives
    whose class declares ``accumulates_momentum = True``) maps trained tensors to
    ``(buffer, momentum)``: the objective may compute such a gradient straight into the
    momentum buffer, ``buffer <- momentum * buffer + gradient``, and return the buffer
    itself as the gradient (one matmul instead of a matmul and a pass over the buffer).
    """

    epoch: int
    step: int
    rng: RandomStreams
    lr: torch.Tensor
    momentum_into: dict | None = None
