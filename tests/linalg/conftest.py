"""Shared fixtures of the linalg tests."""

import math

import pytest
import torch
from linalg_helpers import psd_matrix


@pytest.fixture(scope="session")
def decaying_1000():
    """1000-dim PSD matrix with eigenvalues 1/i^2 and random eigenvectors."""
    lam = 1.0 / torch.arange(1, 1001, dtype=torch.float64) ** 2
    return psd_matrix(lam, seed=1), lam


@pytest.fixture(scope="session")
def trajectory_psd():
    """A PSD operator on a (B, T, H) = (3, 5, 4) space, as a ShapedOperator factory."""
    shape = (3, 5, 4)
    n = math.prod(shape)
    g = torch.Generator().manual_seed(7)
    X = torch.randn(n, 12, generator=g, dtype=torch.float64)
    G = X @ X.T + 0.1 * torch.eye(n, dtype=torch.float64)
    return G, shape
