"""Shared fixtures: float64 small models for the dense comparisons; test state out of the tree."""

import os
import tempfile
import zlib
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import configuration as _hypothesis_configuration
from hypothesis import settings as _hypothesis_settings

from kpflow_sk.estimators import torch_threads

matplotlib.use("Agg")

# Test state stays out of the repository: Hypothesis keeps its example database and caches
# in ``<cwd>/.hypothesis`` by default. They go under the system temp dir instead (or
# HYPOTHESIS_STORAGE_DIRECTORY), and the example database is off (every run is fresh).
HYPOTHESIS_HOME = Path(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                       or Path(tempfile.gettempdir()) / "kpflow_sk-hypothesis")
_hypothesis_configuration.set_hypothesis_home_dir(HYPOTHESIS_HOME)
_hypothesis_settings.register_profile("kpflow_sk", database=None)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kpflow_sk"))

# One torch thread by default: on small shared machines two spinning OpenMP threads slow
# small GEMMs and LAPACK calls down by orders of magnitude, and the test sizes gain nothing
# from threads. KPFLOW_TEST_THREADS overrides it.
TEST_THREADS = int(os.environ.get("KPFLOW_TEST_THREADS", "1"))


@pytest.fixture(autouse=True)
def _seeded_global_rngs(request):
    """torch's and NumPy's global generators seeded per test from the test's node id: a draw
    a test leaves unseeded no longer depends on which tests ran before it (such a draw made a
    dopri5 tolerance test fail once in an order-dependent run), and a failure reproduces
    when the test runs alone."""
    seed = zlib.crc32(request.node.nodeid.encode())
    torch.manual_seed(seed)
    np.random.seed(seed)
    yield


@pytest.fixture(autouse=True)
def _torch_threads():
    """Every test runs with ``TEST_THREADS`` torch threads (the suite's one thread fixture);
    the previous setting is restored after the test."""
    with torch_threads(TEST_THREADS):
        yield
