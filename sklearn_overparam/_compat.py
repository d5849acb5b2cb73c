"""The only module that imports private scikit-learn API (parameter validation machinery).

Everything here has been stable since scikit-learn 1.3; keeping it in one place means a
scikit-learn refactor is a one-file fix.
"""

from sklearn.base import _fit_context  # noqa: F401
from sklearn.utils._param_validation import (  # noqa: F401
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_fit_context",
]
