"""Shared fixtures: float64 small models for the dense comparisons."""

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _torch_threads():
    # keep the suite predictable on 2-core CI machines
    torch.set_num_threads(2)
    yield
