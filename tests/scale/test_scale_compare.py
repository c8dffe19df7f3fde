"""compare() records and summarize(), serial (the parallel paths are in the other files)."""

import numpy as np
import pytest
from _scale_helpers import TINY_PARAMS, TINY_TASK
from sklearn.model_selection import KFold

from kpflow_sk.estimators import RecurrentRegressor
from kpflow_sk.model_selection import RECORD_FIELDS, compare, summarize

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

KW = dict(cv=2, n_samples=8, estimator_params=TINY_PARAMS)


def test_records_one_per_cell_task_fold():
    tasks = {**TINY_TASK, "delay_pro": dict(stimulus_steps=2, memory_steps=2,
                                            response_steps=2)}
    recs = compare(["rnn", "leaky_rnn"], tasks, **KW)
    assert [(r["cell"], r["task"], r["fold"]) for r in recs] == [
        (c, t, k) for c in ("rnn", "leaky_rnn") for t in ("memory_pro", "delay_pro")
        for k in (0, 1)]
    for r in recs:
        assert set(r) == set(RECORD_FIELDS)
        assert np.isfinite(r["score"]) and r["collapse_dim"] > 0 and r["fit_time"] > 0
        assert r["n_train"] + r["n_test"] == 8 and r["n_iter"] == 3 and r["device"] == "cpu"


def test_same_seed_same_records_other_seed_differs():
    a = compare("gru", TINY_TASK, random_state=1, **KW)
    b = compare("gru", TINY_TASK, random_state=1, **KW)
    c = compare("gru", TINY_TASK, random_state=2, **KW)
    assert [r["score"] for r in a] == [r["score"] for r in b]
    assert [r["score"] for r in a] != [r["score"] for r in c]


def test_score_is_the_estimators_masked_r2_on_the_held_out_fold():
    """mask goes to fit and to score (metadata routing inside each fold)."""
    from kpflow_sk.datasets import make_task

    task = dict(dt=100.0, response_ms=100.0)  # 16 steps, loss on the last one only
    rec = compare("rnn", {"context_integration": task}, cv=KFold(2), n_samples=8,
                  random_state=0, estimator_params=TINY_PARAMS)[0]
    b = make_task("context_integration", 8, random_state=0, **task)
    assert 0 < b.mask.mean() < 1
    train, test = next(KFold(2).split(b.X))
    est = RecurrentRegressor(cell="rnn", random_state=0, **TINY_PARAMS)
    est.fit(b.X[train], b.y[train], mask=b.mask[train])
    assert rec["score"] == est.score(b.X[test], b.y[test], mask=b.mask[test])
    assert rec["score"] != est.score(b.X[test], b.y[test])
    assert rec["collapse_dim"] == pytest.approx(est.collapse_dim_, rel=1e-6)


def test_multitask_tuple_is_stratified_and_routes_task_ids():
    pair = ("memory_pro", "memory_anti")
    steps = dict(stimulus_steps=2, memory_steps=2, response_steps=2)
    recs = compare("rnn", {pair: dict(rule_inputs="onehot", **{n: steps for n in pair})},
                   cv=2, n_samples=8, estimator_params=TINY_PARAMS)
    assert [r["task"] for r in recs] == ["memory_pro+memory_anti"] * 2
    assert all(r["n_test"] == 4 for r in recs)


def test_summarize_mean_and_sd():
    recs = [{"cell": c, "task": "t", "fold": k, "score": s, "collapse_dim": d,
             "fit_time": 1.0}
            for c, vals in (("rnn", [(0.2, 3.0), (0.4, 5.0)]), ("gru", [(0.9, 2.0)]))
            for k, (s, d) in enumerate(vals)]
    out = summarize(recs)
    assert [(s["cell"], s["task"], s["n_folds"]) for s in out] == [("rnn", "t", 2),
                                                                  ("gru", "t", 1)]
    assert out[0]["score_mean"] == pytest.approx(0.3)
    assert out[0]["score_sd"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert out[0]["collapse_dim_mean"] == pytest.approx(4.0)
    assert out[1]["score_sd"] == 0.0 and out[0]["fit_time_sd"] == 0.0
    assert "analysis_time_mean" not in out[0]


def test_summarize_real_records():
    out = summarize(compare(["rnn", "gru"], TINY_TASK, **KW))
    assert [s["cell"] for s in out] == ["rnn", "gru"]
    assert all(s["n_folds"] == 2 and np.isfinite(s["score_mean"]) for s in out)


@pytest.mark.parametrize("kwargs, match", [
    (dict(cells=["lstm"]), "unknown cell"),
    (dict(cells=[]), "cells is empty"),
    (dict(tasks=[]), "tasks is empty"),
    (dict(tasks=["nope"]), "unknown task"),
    (dict(tasks=[3]), "registered task name"),
    (dict(tasks={"memory_pro": 3}), "must be a dict"),
    (dict(cv=1), "at least 2"),
    (dict(cv=20), "only n_samples"),
    (dict(n_samples=1), "n_samples"),
    (dict(random_state=None), "random_state"),
    (dict(estimator_params={"cell": "gru"}), "must not set 'cell'"),
    (dict(connect_timeout=0), "connect_timeout"),
    (dict(n_jobs=0), "n_jobs must be None or a nonzero int"),
    (dict(estimator_params={"hiden_size": 3}), "unknown RecurrentRegressor parameter"),
    (dict(estimator_params={"grad_clip": -1.0}), "grad_clip"),
    (dict(tasks={"memory_pro": {"bogus": 1}}), "task 'memory_pro': unknown parameter"),
    (dict(scheduler="not an address"), "not a Dask scheduler address"),
])
def test_bad_arguments(kwargs, match, monkeypatch):
    from sklearn.utils._param_validation import InvalidParameterError

    import kpflow_sk.model_selection._compare as compare_module

    # every argument is checked before the first fold runs (and before any Dask connection)
    monkeypatch.setattr(compare_module, "_run_fold", lambda *a, **k: pytest.fail("a fold ran"))
    args = dict(cells=["rnn"], tasks=TINY_TASK, cv=2, n_samples=8, random_state=0,
                estimator_params=TINY_PARAMS)
    args.update(kwargs)
    with pytest.raises(InvalidParameterError, match=match):
        compare(args.pop("cells"), args.pop("tasks"), **args)


def test_kpflow_sk_compare_is_model_selection():
    """The README's ``kpflow_sk.compare`` names are model_selection's own objects."""
    import kpflow_sk.compare as old
    from kpflow_sk import model_selection

    for name in old.__all__:
        assert getattr(old, name) is getattr(model_selection, name)


def test_summarize_needs_cell_and_task():
    with pytest.raises(ValueError, match="'cell' and 'task'"):
        summarize([{"score": 1.0}])
