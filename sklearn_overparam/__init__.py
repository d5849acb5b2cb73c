"""scikit-learn estimators for the learners of over-parameterized ReLU network theory.

[AZLL] Allen-Zhu, Li, Liang (NeurIPS 2019), [LL] Li, Liang (NeurIPS 2018) and [CCZG]
Chen, Cao, Zou, Gu (ICLR 2021), with analytic and empirical NTK/NNGP kernels.
"""

__version__ = "0.1.0"

from .estimators import (  # noqa: E402
    ConjugateKernelRegressor,
    DeepReLUClassifier,
    HalfSpherePadding,
    InconsistentVersionWarning,
    NTKRegressor,
    NTRFClassifier,
    ThreeLayerReLURegressor,
    TwoLayerReLUClassifier,
    TwoLayerReLURegressor,
    UnitSphereNormalizer,
)

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
    "__version__",
]
