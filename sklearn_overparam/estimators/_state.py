"""The state a fit passes between the template's steps (settings, network, engine run)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..nn import ReLUNetSpec
from ..training import SGDConfig


@dataclass
class FitSettings:
    """The effective settings of one fit, resolved in one place (``_settings``)."""

    solver: str
    config: SGDConfig | None = None
    early_stopping: bool = False


@dataclass
class InitialNetwork:
    """What every solver starts from: network inputs, architecture, parameters, seeds."""

    Z: np.ndarray
    spec: ReLUNetSpec
    params: dict
    initial: dict  # numpy, stacked (K, ...)
    train_seeds: list
    device: torch.device
    dtype: torch.dtype
    # per-row loss weights of the rows of Z (positive; None: unweighted)
    sample_weight: np.ndarray | None = None

    def initial_copy(self, k=0) -> dict:
        """The numpy initial parameters of copy ``k``."""
        return {n: p[k] for n, p in self.initial.items()}


@dataclass
class _EngineRun:
    result: object
    final: dict
    dead: np.ndarray
    has_validation: bool
    config: SGDConfig
    objective: object
    recorders: dict
    n_train: int = 0  # training rows the engine saw (validation rows excluded)
    observer: object = None
    selects_last: bool = True  # the returned weights are the last iterate
