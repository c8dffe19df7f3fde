"""Shared fixtures of the estimator tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # tiny networks: thread start-up and contention on a shared machine cost far more than
    # they save, and one thread keeps timings stable
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
