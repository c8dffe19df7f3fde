"""``kp_precision``: the estimator's KPFlow analysis with bfloat16 GEMMs ("medium") against
its default ("highest"), on the same fitted weights."""

import pytest
import torch
from _helpers import seq_data
from sklearn.base import clone

from kpflow_sk import linalg
from kpflow_sk.estimators import RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_kp_precision_medium_runs_the_bfloat16_operators_within_tolerance():
    X, y = seq_data(n=24, T=8)
    high = RecurrentRegressor(hidden_size=12, max_iter=2, kp_n_trials=12, random_state=0)
    high.fit(X, y)
    med = clone(high).set_params(kp_precision="medium")
    med.fit(X, y)
    # same weights (precision touches the analysis only)
    for a, b in zip(high.module_.parameters(), med.module_.parameters()):
        assert torch.equal(a, b)
    dh, dm = high.kp_decompose_, med.kp_decompose_
    assert dh.precision == "highest" and dm.precision == "medium"
    Q = torch.randn(*dh.Z.shape, 16, generator=torch.Generator().manual_seed(0))
    ref = dh.operator("Theta") @ Q
    err = float((dm.operator("Theta") @ Q - ref).norm() / ref.norm())
    assert 1e-6 < err < 2e-2            # the bfloat16 path really ran, within its contract
    for name in ("Theta", "P"):
        e = linalg.effective_rank(dh.operator(name), axis="hidden", reduce="mean", gram=True)
        m = linalg.effective_rank(dm.operator(name), axis="hidden", reduce="mean", gram=True)
        assert abs(m.value - e.value) / e.value < 1e-2, name
    assert abs(med.collapse_dim_ - high.collapse_dim_) / high.collapse_dim_ < 0.05
