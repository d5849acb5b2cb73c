"""Public API of the diagnostics: numpydoc, runnable examples, citations, layering."""

import ast
import doctest
import inspect
import pathlib

import numpydoc.validate as numpydoc_validate
import pytest

import sklearn_overparam.diagnostics as diagnostics

# the functions and classes of this package's own modules (min_width is documented apart)
OWN = [
    "DiagnosticsRecorder", "activation_pattern_change", "effective_rank", "kernel_alignment",
    "layerwise_activation_change", "linearization_error", "max_scaled_distance", "ntk_drift",
    "pseudo_network_gap", "relative_distance_from_init", "singular_value_gap",
    "top_singular_values", "group_norm", "norm_ratio",
]
CODES = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "GL03", "GL06",
         "GL07", "RT01", "RT03"}
PACKAGE = pathlib.Path(diagnostics.__file__).parent
ALLOWED = {"__future__", "math", "numbers", "time", "numpy", "torch"}
ALLOWED_PACKAGE = {"nn", "kernels", "training"}


def test_own_names_are_exported():
    assert set(OWN) <= set(diagnostics.__all__)


@pytest.mark.parametrize("name", OWN)
def test_docstring_is_valid_numpydoc_with_examples_and_references(name):
    """Parameters documented in order; Examples (functions); References cite the papers."""
    obj = getattr(diagnostics, name)
    targets = [f"{obj.__module__}.{obj.__qualname__}"]
    if inspect.isclass(obj):
        targets += [f"{obj.__module__}.{obj.__qualname__}.{m}"
                    for m in ("measure", "snapshot", "flush")]
    for target in targets:
        errors = [f"{c}: {m}" for c, m in numpydoc_validate.validate(target)["errors"]
                  if c in CODES]
        assert not errors, (target, errors)
    doc = inspect.getdoc(obj)
    assert "Examples" in doc
    if name not in ("group_norm", "norm_ratio"):
        assert "References" in doc and "Notes" in doc
    assert "SPEC" not in doc and "shared/" not in doc


@pytest.mark.parametrize("name", OWN)
def test_examples_run_with_empty_globals(name):
    """Each example runs pasted into a fresh session (its own imports only)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(getattr(diagnostics, name), name, globs={}):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.parametrize("path", sorted(p.name for p in PACKAGE.glob("_*.py")
                                        if p.name != "_min_width.py"))
def test_layering_imports_only_nn_kernels_training_numpy_torch(path):
    """No scikit-learn base classes or estimators below the estimator layer."""
    tree = ast.parse((PACKAGE / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] in ALLOWED, (path, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = node.module.split(".")
                assert top[0] in ALLOWED or (
                    top[0] == "sklearn_overparam" and top[1] in ALLOWED_PACKAGE), (path,
                                                                                  node.module)
            elif node.level == 2:
                assert node.module.split(".")[0] in ALLOWED_PACKAGE, (path, node.module)
            else:
                assert node.level == 1, (path, node.module)
