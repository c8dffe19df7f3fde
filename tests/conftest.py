"""Shared fixtures: float64 small models for the dense comparisons."""

import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

# One torch thread by default: on small shared machines two spinning OpenMP threads slow
# small GEMMs down by orders of magnitude. KPFLOW_TEST_THREADS overrides it.
TEST_THREADS = int(os.environ.get("KPFLOW_TEST_THREADS", "1"))


@pytest.fixture(autouse=True)
def _torch_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    yield
    torch.set_num_threads(previous)
