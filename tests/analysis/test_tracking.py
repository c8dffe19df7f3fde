"""Tracking during fit: one record schema, one collapse dimension for the same weights."""

import numpy as np
import pytest
import torch

from kpflow_sk import RecurrentRegressor
from kpflow_sk.analysis import HISTORY_FIELDS, collapse_dim, select_analysis_trials, snapshot
from kpflow_sk.datasets import make_task


def _fit(cell="gru", **kw):
    bunch = make_task("memory_pro", 24, random_state=0, stimulus_steps=3, memory_steps=3,
                      response_steps=3)
    # 16 trials x 9 steps x 48 units: whole-space ranks of Theta take the randomized path
    params = dict(cell=cell, hidden_size=48, max_iter=3, kp_track_every=3, kp_n_trials=16,
                  random_state=0, device="cpu", n_threads=1)
    params.update(kw)
    est = RecurrentRegressor(**params)
    with pytest.warns(Warning):  # max_iter reached
        est.fit(bunch.X, bunch.y, mask=bunch.mask)
    return est, bunch


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_one_collapse_dim_for_the_same_weights(cell):
    est, _ = _fit(cell)
    last = est.kp_history_[-1]
    assert last["iteration"] == est.n_iter_ == 3  # the last record is of the final weights
    D = est.kp_decompose_
    res = collapse_dim(D, return_result=True)
    if cell == "gru":
        assert not res.exact  # the randomized estimate, so the budget and seed matter
    assert est.collapse_dim_ == last["collapse_dim"] == D.summary()["collapse_dim"]
    assert est.collapse_dim_ == float(res.value) == last["rank_Theta"]
    # every rank of the last record is the end-of-fit table's
    summary = D.summary()
    for key in ("rank_K", "rank_P", "rank_Theta", "rank_K_time", "rank_P_time",
                "rank_Theta_time", "loss"):
        assert last[key] == summary[key], key


def test_record_schema_and_loss():
    est, bunch = _fit("gru", kp_track_every=1, max_iter=2)
    assert [r["iteration"] for r in est.kp_history_] == [0, 1, 2]
    for rec in est.kp_history_:
        assert list(rec) == list(HISTORY_FIELDS)
        assert rec["convention"] == "default"
    # the record's loss is the estimator's own loss on the analysis batch
    b = est._kp_batch
    with torch.no_grad():
        out, _ = est.infer(torch.as_tensor(b["X"]))
        loss = est.get_loss(out, torch.as_tensor(b["target"]),
                            None if b["weight"] is None else torch.as_tensor(b["weight"]))
    assert est.kp_history_[-1]["loss"] == pytest.approx(float(loss), rel=1e-5)
    assert est.kp_history_[0]["train_loss"] is None
    assert est.kp_history_[-1]["train_loss"] == est.loss_curve_[-1]
    # a snapshot built by hand from the same decomposition is the same record
    rec = snapshot(est.kp_decompose_, est.n_iter_, est.loss_curve_[-1])
    assert rec == est.kp_history_[-1]


def test_select_analysis_trials_stratified():
    rng = np.random.RandomState(0)
    tasks = np.repeat([0, 1, 2], [5, 10, 25])
    idx = select_analysis_trials(40, 8, tasks, rng)
    assert len(idx) == 8 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.bincount(tasks[idx]), [1, 2, 5])
    np.testing.assert_array_equal(select_analysis_trials(5, 8, None, rng), np.arange(5))
