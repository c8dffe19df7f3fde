"""Shared fixtures of the operator tests."""

import pytest


@pytest.fixture(params=["materialized", "matrix_free"])
def strategy(request):
    """Both linearization strategies of a ``Trajectory``."""
    return request.param
