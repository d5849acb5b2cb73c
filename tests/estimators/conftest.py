"""Small, fast instances of the discovered estimators for behaviour tests."""

import pytest

from tests.test_common import ESTIMATORS


@pytest.fixture(params=ESTIMATORS, ids=lambda e: type(e).__name__)
def small_estimator(request):
    """A check-sized instance of each public estimator (a fresh clone per test)."""
    from sklearn.base import clone

    return clone(request.param)
