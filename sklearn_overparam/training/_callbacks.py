"""Observers of a run: typed step/epoch callbacks and the history they may extend."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class History:
    """Per-epoch record of a run; arrays are ``(n_epochs, K)``.

    ``extra`` holds records added by callbacks with :meth:`record` (any name, one value
    per call); :meth:`as_dict` returns them beside the built-in ones.
    """

    loss: list = field(default_factory=list)
    validation_score: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    time: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def record(self, name: str, value) -> None:
        """Append ``value`` to the extra record ``name``."""
        if name in ("loss", "validation_score", "learning_rate", "time"):
            raise ValueError(f"`name` {name!r} is a built-in record; choose another name.")
        self.extra.setdefault(name, []).append(value)

    def as_dict(self) -> dict[str, np.ndarray]:
        """All records as arrays."""
        out = {
            "loss": np.asarray(self.loss),
            "learning_rate": np.asarray(self.learning_rate),
            "time": np.asarray(self.time),
        }
        if self.validation_score:
            out["validation_score"] = np.asarray(self.validation_score)
        out.update({k: np.asarray(v) for k, v in self.extra.items()})
        return out


@dataclass
class EpochInfo:
    """What an epoch callback sees (numpy arrays are ``(K,)``; ``params`` are live)."""

    epoch: int
    loss: np.ndarray
    validation_score: np.ndarray | None
    learning_rate: np.ndarray
    time: float
    active: np.ndarray
    params: dict[str, torch.Tensor]
    history: History


class Callback:
    """Base class of engine callbacks; override the hooks you need.

    ``on_step_end`` runs after every update (only when overridden: it costs nothing
    otherwise; never synchronise with the host there). ``on_epoch_end`` returns a truthy
    value to stop training. A plain callable passed as a callback is an epoch callback.
    """

    def on_train_begin(self, params, ctx) -> None:
        """Called once before the first step."""

    def on_step_end(self, params, value, ctx) -> None:
        """Called after each update with the batch losses ``(K,)`` of the step."""

    def on_epoch_end(self, info: EpochInfo):
        """Called after each epoch; a truthy return stops training."""


class _EpochFunction(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, info):
        return self.fn(info)


def as_callback(obj) -> Callback:
    """A :class:`Callback` from a callback object or a plain epoch function."""
    if isinstance(obj, Callback):
        return obj
    if callable(obj):
        return _EpochFunction(obj)
    raise TypeError(f"A callback must be a Callback or a callable; got {obj!r}.")


def overrides(cb: Callback, hook: str) -> bool:
    """Whether ``cb`` implements ``hook`` itself."""
    return getattr(type(cb), hook) is not getattr(Callback, hook)
