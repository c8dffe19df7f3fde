"""KPDecomposition's mean-compressed ranks of K use K's closed forms where the cell has one,
and agree with the generic reduction (every axis basis vector through J, float64)."""

import pytest
import torch
from kp_models import cell_cases, random_inputs

from kpflow_sk import linalg
from kpflow_sk.analysis import KPDecomposition

B, T, D, H = 4, 11, 3, 7
CASES = cell_cases(D, H)


@pytest.mark.parametrize("case", ["rnn", "leaky_rnn", "gru", "node_rk4"])
@pytest.mark.parametrize("convention", ["default", "reference"])
@pytest.mark.parametrize("axis", ["trial", "time", "hidden"])
def test_mean_rank_of_K_matches_generic(case, convention, axis):
    cell = CASES[case]()
    params, X = random_inputs(cell, B, T, D)
    Dk = KPDecomposition(cell, params, X)
    got = Dk.effective_rank("K", axis=axis, reduce="mean", convention=convention,
                            return_result=True)
    # generic: the axis basis through the convention's factor (J for K, K itself for K^2)
    red = linalg.reduce_to_axis(Dk.factor("K", convention), axis, "mean", gram=True)
    lam = torch.linalg.eigvalsh(red.matrix.double()).flip(0).numpy()
    assert got.value == pytest.approx(linalg.participation_ratio(lam), rel=1e-10)
    closed = case != "node_rk4" and (convention == "default" or axis == "hidden")
    # the closed form costs one K probe; the generic one an application per axis index
    assert (got.n_applications == 1) == closed
