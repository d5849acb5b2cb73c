"""scikit-learn estimators: thin glue over nn/, training/ and kernels/."""

from ._base import InconsistentVersionWarning
from ._conjugate_kernel import ConjugateKernelRegressor
from ._input_map import HalfSpherePadding
from ._ntk import NTKRegressor
from ._regressors import TwoLayerReLURegressor
from ._three_layer import ThreeLayerReLURegressor

__all__ = [
    "ConjugateKernelRegressor",
    "HalfSpherePadding",
    "InconsistentVersionWarning",
    "NTKRegressor",
    "ThreeLayerReLURegressor",
    "TwoLayerReLURegressor",
]
