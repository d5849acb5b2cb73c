"""scikit-learn estimators: thin glue over nn/, training/ and kernels/."""

from ._classifiers import DeepReLUClassifier, TwoLayerReLUClassifier
from ._conjugate_kernel import ConjugateKernelRegressor
from ._input_map import HalfSpherePadding, UnitSphereNormalizer
from ._ntk import NTKRegressor
from ._ntrf import NTRFClassifier
from ._pickle import InconsistentVersionWarning
from ._regressors import TwoLayerReLURegressor
from ._three_layer import ThreeLayerReLURegressor

__all__ = [
    "ConjugateKernelRegressor",
    "DeepReLUClassifier",
    "HalfSpherePadding",
    "InconsistentVersionWarning",
    "NTKRegressor",
    "NTRFClassifier",
    "ThreeLayerReLURegressor",
    "TwoLayerReLUClassifier",
    "TwoLayerReLURegressor",
    "UnitSphereNormalizer",
]
