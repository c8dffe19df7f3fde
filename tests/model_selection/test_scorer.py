"""task_scorer: score_task on CV splits, in cross_validate and GridSearchCV with a Pipeline."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline

from kpflow_sk import RecurrentRegressor
from kpflow_sk.datasets import make_multitask, make_task, score_task
from kpflow_sk.model_selection import (
    compare,
    subset_task,
    summarize,
    task_scorer,
    task_scorers,
)
from kpflow_sk.preprocessing import TimeSeriesScaler

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SHORT = dict(stimulus_steps=3, memory_steps=3, response_steps=3)


@pytest.fixture(scope="module")
def four():
    return make_multitask(["memory_pro", "memory_anti", "delay_pro", "delay_anti"], 24,
                          rule_inputs="context", context_steps=3, random_state=0, **SHORT)


class _Oracle:
    """Predicts the target of the matching trial (a perfect model) or its negation."""

    def __init__(self, bunch, flip=False):
        self.rows = {x.tobytes(): y for x, y in zip(bunch.X, bunch.y)}
        self.flip = flip

    def predict(self, X):
        out = np.stack([self.rows[x.astype(np.float32).tobytes()] for x in X])
        return -out if self.flip else out


def test_scorer_equals_score_task_on_the_split(four):
    idx = np.array([0, 3, 5, 8, 11, 13, 17, 20, 23])
    part = subset_task(four, idx)
    assert part.X.shape[0] == 9 and part.periods["response"].shape == (9, 2)
    assert part.meta["theta"].shape == (9,)
    # a fitted model's predictions: scorer on plain arrays == score_task on the cut Bunch
    est = RecurrentRegressor(hidden_size=5, max_iter=2, random_state=0).fit(four.X, four.y)
    pred = est.predict(part.X)
    expected = [score_task(t, pred, part) for t in four.task_names
                if t in [four.task_names[k] for k in np.unique(part.task_ids)]]
    assert task_scorer(four)(est, part.X, part.y) == pytest.approx(np.mean(expected))
    assert task_scorer(four, aggregate="min")(est, part.X) == pytest.approx(min(expected))
    # a perfect model scores 1 on every task, a negated one 0 (float64 copies of X match)
    oracle = _Oracle(four)
    for name, scorer in task_scorers(four).items():
        assert scorer(oracle, part.X.astype(np.float64)) == 1.0
        assert scorer(_Oracle(four, flip=True), part.X) == 0.0


def test_scorer_rejects_foreign_trials_and_bad_arguments(four):
    est = RecurrentRegressor(hidden_size=3, max_iter=1, random_state=0).fit(four.X, four.y)
    other = make_multitask(four.task_names, 8, rule_inputs="context", context_steps=3,
                           random_state=1, **SHORT)
    with pytest.raises(ValueError, match="not in its task Bunch"):
        task_scorer(four)(est, other.X)
    with pytest.raises(ValueError, match="not a task"):
        task_scorer(four, "flipflop")
    with pytest.raises(ValueError, match="aggregate"):
        task_scorer(four, aggregate="median")
    with pytest.raises(TypeError, match="task Bunch"):
        task_scorer(np.zeros(3))


def test_pipeline_in_cross_validate_and_gridsearch_with_task_scorer():
    b = make_task("memory_pro", 24, random_state=0, **SHORT)
    pipe = Pipeline([("scale", TimeSeriesScaler()),
                     ("rnn", RecurrentRegressor(hidden_size=6, max_iter=3, random_state=0))])
    cv = KFold(3, shuffle=True, random_state=0)
    res = cross_validate(pipe, b.X, b.y, cv=cv, scoring=task_scorer(b),
                         params={"rnn__mask": b.mask})
    assert res["test_score"].shape == (3,)
    # the scores are score_task of each fold's model on that fold's trials
    for k, (tr, te) in enumerate(cv.split(b.X)):
        m = Pipeline([("scale", TimeSeriesScaler()),
                      ("rnn", RecurrentRegressor(hidden_size=6, max_iter=3, random_state=0))])
        m.fit(b.X[tr], b.y[tr], rnn__mask=b.mask[tr])
        part = subset_task(b, te)
        assert res["test_score"][k] == score_task("memory_pro", m.predict(part.X), part)
    gs = GridSearchCV(pipe, {"rnn__learning_rate": [1e-3, 1e-2]}, cv=cv,
                      scoring=task_scorer(b), n_jobs=1)
    gs.fit(b.X, b.y, rnn__mask=b.mask)
    assert set(gs.cv_results_["param_rnn__learning_rate"]) == {1e-3, 1e-2}
    assert 0.0 <= gs.best_score_ <= 1.0


def test_compare_and_summarize_are_reexported():
    from kpflow_sk import compare as compare_module

    assert compare is compare_module.compare and summarize is compare_module.summarize
