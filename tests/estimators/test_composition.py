"""Pipelines, model selection and metadata routing of task_ids / mask / sample_weight."""

import numpy as np
import pytest
import sklearn
from _helpers import label_data, seq_data
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _Spy(RecurrentRegressor):
    """Records the metadata each fit received."""

    seen = []

    def fit(self, X, y, *, task_ids=None, sample_weight=None, mask=None):
        type(self).seen.append({"n": len(X), "task_ids": task_ids, "mask": mask,
                                "sample_weight": sample_weight})
        return super().fit(X, y, task_ids=task_ids, sample_weight=sample_weight, mask=mask)


def small(cls=RecurrentRegressor, **kw):
    params = dict(hidden_size=4, max_iter=3, random_state=0, device="cpu", kp_n_trials=4)
    params.update(kw)
    return cls(**params)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_pipeline_on_tabular_X():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3)) * 10 + 5
    y = X[:, 0] - X[:, 1]
    pipe = make_pipeline(StandardScaler(), small(max_iter=20, learning_rate=1e-2)).fit(X, y)
    assert pipe.predict(X).shape == (30,)
    assert np.isfinite(pipe.score(X, y))


def test_pipeline_routes_metadata(routing):
    X, y = seq_data(n=12, T=4)
    tasks = np.arange(12) % 3
    mask = np.ones((12, 4))
    sw = np.linspace(1, 2, 12)
    _Spy.seen = []
    est = small(_Spy).set_fit_request(task_ids=True, mask=True, sample_weight=True)
    pipe = Pipeline([("id", FunctionTransformer()), ("rnn", est)])
    pipe.fit(X, y, task_ids=tasks, mask=mask, sample_weight=sw)
    seen = _Spy.seen[-1]
    np.testing.assert_array_equal(seen["task_ids"], tasks)
    np.testing.assert_array_equal(seen["mask"], mask)
    np.testing.assert_array_equal(seen["sample_weight"], sw)
    assert pipe.predict(X).shape == y.shape


def test_cross_validate_routes_task_ids(routing):
    X, y = seq_data(n=12, T=4)
    tasks = np.array(["a", "b", "c"] * 4)
    _Spy.seen = []
    est = small(_Spy).set_fit_request(task_ids=True).set_score_request(sample_weight=False,
                                                                       mask=False)
    res = cross_validate(est, X, y, cv=KFold(3), params={"task_ids": tasks},
                         return_estimator=True)
    assert len(res["test_score"]) == 3
    for seen, (train, _) in zip(_Spy.seen, KFold(3).split(X)):
        np.testing.assert_array_equal(seen["task_ids"], tasks[train])
    fitted = res["estimator"][0]
    assert fitted._kp_batch["task_ids"] is not None
    ta = fitted.task_alignment_
    assert ta.shape == (3, 3)


def test_unrequested_metadata_is_an_error(routing):
    X, y = seq_data(n=12, T=4)
    with pytest.raises(Exception, match="task_ids"):
        cross_validate(small(), X, y, cv=3, params={"task_ids": np.arange(12) % 2})


def test_grid_search_over_cell():
    X, y = seq_data(n=18, T=4)
    gs = GridSearchCV(small(), {"cell": ["gru", "rnn", "leaky_rnn"]}, cv=3).fit(X, y)
    assert gs.best_params_["cell"] in {"gru", "rnn", "leaky_rnn"}
    assert len(gs.cv_results_["mean_test_score"]) == 3
    assert gs.predict(X).shape == y.shape


def test_grid_search_classifier_with_routed_mask(routing):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(18, 4, 2))
    y = (np.cumsum(X[..., 0], 1) > 0).astype(int)
    mask = np.ones((18, 4))
    clf = small(RecurrentClassifier).set_fit_request(mask=True).set_score_request(mask=True)
    gs = GridSearchCV(clf, {"hidden_size": [3, 5]}, cv=3).fit(X, y, mask=mask)
    assert gs.predict(X).shape == (18, 4)


def test_cross_validate_classifier_default_scoring():
    X, y = label_data(n=18, T=3)
    res = cross_validate(small(RecurrentClassifier), X, y, cv=3)
    assert np.all((0 <= res["test_score"]) & (res["test_score"] <= 1))
