"""The stacked training engine: SGD/GD over K networks at once, losses, schedules, history."""

from ._engine import History, NetworkObjective, SGDConfig, TrainResult, train
from ._linearized import LinearizedObjective, linearized_forward
from ._losses import LOSSES, LogisticLoss, SoftmaxCrossEntropyLoss, SquaredLoss, get_loss

__all__ = [
    "LOSSES",
    "History",
    "LinearizedObjective",
    "LogisticLoss",
    "NetworkObjective",
    "SGDConfig",
    "SoftmaxCrossEntropyLoss",
    "SquaredLoss",
    "TrainResult",
    "get_loss",
    "linearized_forward",
    "train",
]
