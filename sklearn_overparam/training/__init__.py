"""The stacked training engine: SGD/GD over K copies at once, and its seams.

The seams ([AZLL], [LL] and [CCZG] algorithms differ only there): an :class:`Objective`
(the network, its linearization, a kernel model) and its wrappers
(:class:`RegularizedObjective`, :class:`PerturbedObjective`), the update rule
(:class:`SGDUpdate`), post-updates (:class:`BallProjection`), iterate selectors, typed
callbacks, and one random stream per purpose and copy (:class:`StepContext`).
"""

from ._callbacks import Callback, EpochInfo, History
from ._context import RandomStreams, StepContext, stream_seed
from ._engine import SGDConfig, TrainResult, train
from ._linearized import LinearizedObjective, linearized_forward
from ._losses import LOSSES, LogisticLoss, SoftmaxCrossEntropyLoss, SquaredLoss, get_loss
from ._objectives import (
    GaussianSmoothing,
    KernelObjective,
    NetworkObjective,
    Objective,
    PerturbedObjective,
    RegularizedObjective,
    RowNormPenalty,
)
from ._selectors import (
    BestTrainingLossIterate,
    BestValidationIterate,
    IterateSelector,
    LastIterate,
    UniformRandomIterate,
)
from ._updates import BallProjection, PostUpdate, SGDUpdate

__all__ = [
    "LOSSES",
    "BallProjection",
    "BestTrainingLossIterate",
    "BestValidationIterate",
    "Callback",
    "EpochInfo",
    "GaussianSmoothing",
    "History",
    "IterateSelector",
    "KernelObjective",
    "LastIterate",
    "LinearizedObjective",
    "LogisticLoss",
    "NetworkObjective",
    "Objective",
    "PerturbedObjective",
    "PostUpdate",
    "RandomStreams",
    "RegularizedObjective",
    "RowNormPenalty",
    "SGDConfig",
    "SGDUpdate",
    "SoftmaxCrossEntropyLoss",
    "SquaredLoss",
    "StepContext",
    "TrainResult",
    "UniformRandomIterate",
    "get_loss",
    "linearized_forward",
    "stream_seed",
    "train",
]
