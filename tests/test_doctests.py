"""Every docstring example of the public API runs as pasted into a fresh Python session."""

import doctest
import importlib
import inspect

import pytest

PACKAGES = (
    "sklearn_overparam",
    "sklearn_overparam.kernels",
    "sklearn_overparam.datasets",
    "sklearn_overparam.nn",
    "sklearn_overparam.training",
)


def _public_objects():
    """``{name: object}`` for the classes and functions in each package's ``__all__``."""
    objects = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                objects.setdefault(f"{package}.{name}", obj)
    return objects


def _doctests(name, obj):
    """Doctests of ``obj`` and, for a class, of its methods, inherited ones included.

    ``globs={}``: an example sees only what it imports itself, not its module's globals.
    """
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(obj, name, globs={})
    if inspect.isclass(obj):
        for base in obj.__mro__[1:]:
            if base.__module__.split(".")[0] == "sklearn_overparam":
                tests += finder.find(base, f"{name}<{base.__qualname__}>", globs={})
    return [t for t in tests if t.examples]


PUBLIC = _public_objects()


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_examples_run_with_empty_globals(name):
    """The object's examples (and its methods') pass with only their own imports."""
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in _doctests(name, PUBLIC[name]):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_kernels_public_api_has_examples():
    """Every public function and class of ``sklearn_overparam.kernels`` has an example."""
    kernels = importlib.import_module("sklearn_overparam.kernels")
    missing = [
        name for name in kernels.__all__
        if not _doctests(f"sklearn_overparam.kernels.{name}", getattr(kernels, name))
    ]
    assert not missing, f"no Examples section: {missing}"
