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
    IncrementObjective,
    KernelObjective,
    NetworkObjective,
    Objective,
    PerturbedObjective,
    RandomSignFlips,
    RegularizedObjective,
    RowNormPenalty,
)
from ._selectors import (
    BestTrainingLossIterate,
    BestValidationIterate,
    IterateSelector,
    LastIterate,
    PerturbedCandidateIterate,
    UniformRandomIterate,
)
from ._updates import (
    BallProjection,
    DualBallProjection,
    GaussianNoise,
    MultiplierDecay,
    PostUpdate,
    SGDUpdate,
)

__all__ = [
    "LOSSES",
    "BallProjection",
    "BestTrainingLossIterate",
    "BestValidationIterate",
    "Callback",
    "DualBallProjection",
    "EpochInfo",
    "GaussianNoise",
    "GaussianSmoothing",
    "History",
    "IterateSelector",
    "IncrementObjective",
    "KernelObjective",
    "LastIterate",
    "LinearizedObjective",
    "LogisticLoss",
    "MultiplierDecay",
    "NetworkObjective",
    "Objective",
    "PerturbedCandidateIterate",
    "PerturbedObjective",
    "PostUpdate",
    "RandomSignFlips",
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
