"""Public API docstrings follow numpydoc and document exactly the signature's parameters."""

import inspect

import numpydoc.validate as numpydoc_validate  # a test dependency: fail, never skip, without it
import pytest

import sklearn_overparam
from sklearn_overparam import datasets, kernels, nn, training

# numpydoc codes checked: missing docstring, undocumented / unknown / misordered
# parameters, parameters without type or description, bad section order.
CODES = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "GL03", "GL06", "GL07"}


def _public():
    for module in (sklearn_overparam, kernels, datasets):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Warning):
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{obj.__module__}.{obj.__qualname__}"
                if inspect.isclass(obj):
                    for meth in ("fit", "predict", "score", "hidden_features", "__call__"):
                        if meth in vars(obj) or (meth in ("fit", "predict")
                                                 and hasattr(obj, meth)):
                            yield f"{obj.__module__}.{obj.__qualname__}.{meth}"


PUBLIC = sorted(set(_public()))


@pytest.mark.parametrize("name", PUBLIC)
def test_public_docstring_is_valid_numpydoc(name):
    """The docstring parses as numpydoc and documents every parameter in order."""
    result = numpydoc_validate.validate(name)
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code in CODES]
    assert not errors, "\n".join(errors)


def test_engine_and_networks_are_documented():
    """The lower layers' public callables have docstrings."""
    for module in (nn, training):
        for name in module.__all__:
            assert inspect.getdoc(getattr(module, name)), f"{module.__name__}.{name}"
