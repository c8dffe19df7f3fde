"""tqdm progress (verbose) for KPFlow snapshots, decompose and compare; silent otherwise."""

import pytest
from _helpers import seq_data

from kpflow_sk import RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_snapshot_and_decompose_progress_only_when_verbose(capsys):
    X, y = seq_data(n=8, T=4)
    est = RecurrentRegressor(hidden_size=4, max_iter=2, kp_track_every=1, kp_n_trials=4,
                             random_state=0, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "KPFlow snapshot (epoch 0)" in err and "KPFlow snapshot (epoch 2)" in err
    est.decompose(X, y)
    assert "decompose (8 trials)" in capsys.readouterr().err
    quiet = RecurrentRegressor(hidden_size=4, max_iter=2, kp_track_every=1, kp_n_trials=4,
                               random_state=0).fit(X, y)
    quiet.decompose(X, y)
    assert capsys.readouterr().err == ""
    # progress changes nothing in the numbers
    assert [r["collapse_dim"] for r in quiet.kp_history_] == [
        r["collapse_dim"] for r in est.kp_history_]


def test_compare_progress_over_folds(capsys):
    from kpflow_sk.compare import compare

    kw = dict(cv=2, n_samples=8, estimator_params=dict(hidden_size=3, max_iter=1,
                                                       kp_n_trials=2))
    task = {"memory_pro": dict(stimulus_steps=2, memory_steps=2, response_steps=2)}
    quiet = compare(["gru"], task, **kw)
    assert capsys.readouterr().err == ""
    loud = compare(["gru"], task, verbose=1, **kw)
    err = capsys.readouterr().err
    assert "compare" in err and "2/2" in err
    assert [r["score"] for r in loud] == [r["score"] for r in quiet]
