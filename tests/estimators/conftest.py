"""Small, fast instances of the discovered estimators for behaviour tests."""

import pytest

from sklearn_overparam.estimators._base import BaseReLUNetwork
from tests.test_common import ESTIMATORS

NETWORK_ESTIMATORS = [e for e in ESTIMATORS if isinstance(e, BaseReLUNetwork)]


@pytest.fixture(params=NETWORK_ESTIMATORS, ids=lambda e: type(e).__name__)
def small_estimator(request):
    """A check-sized instance of each public network estimator (a fresh clone per test)."""
    from sklearn.base import clone

    return clone(request.param)
