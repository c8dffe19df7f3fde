"""The training loop (estimators/_training.py): history_, callbacks, stop_reason_, plateaus."""

import warnings

import numpy as np
import pandas as pd
import pytest
from _helpers import label_data, seq_data, state_dict_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk.estimators import (
    Callback,
    PlateauWarning,
    RecurrentClassifier,
    RecurrentRegressor,
    StopTraining,
)
from kpflow_sk.estimators._history import HISTORY_KEYS

pytestmark = pytest.mark.filterwarnings("ignore:Maximum iterations")

KW = dict(hidden_size=6, max_iter=5, learning_rate=1e-2, random_state=0, device="cpu")


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, est):
        self.events.append("begin")

    def on_epoch_end(self, est, record):
        self.events.append(record["epoch"])
        assert est.history_[-1] is record and est.n_iter_ == record["epoch"]

    def on_train_end(self, est):
        self.events.append("end")


class Scorer:
    """Observes with predict and score (eval mode, numpy) every epoch: must not change fit."""

    def __init__(self, X, y):
        self.X, self.y, self.scores = X, y, []

    def on_epoch_end(self, est, record):
        self.scores.append(est.score(self.X, self.y))
        est.predict(self.X)


def test_history_one_record_per_epoch_and_dataframe():
    X, y = seq_data(n=12, T=4)
    est = RecurrentRegressor(**KW).fit(X, y)
    df = pd.DataFrame(est.history_)
    assert list(df.columns) == list(HISTORY_KEYS)
    assert df["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert df["loss"].tolist() == est.loss_curve_
    assert df["validation_score"].isna().all()
    assert (df["duration"] > 0).all() and (df["learning_rate"] == 1e-2).all()
    # warm start and partial_fit continue the history
    est.set_params(warm_start=True, max_iter=2).fit(X, y)
    est.partial_fit(X, y)
    assert [r["epoch"] for r in est.history_] == list(range(1, 9))
    assert est.stop_reason_ == "partial_fit"
    # a fresh fit resets it
    est.set_params(warm_start=False, max_iter=3).fit(X, y)
    assert len(est.history_) == 3 == est.n_iter_


def test_history_records_validation_scores_with_early_stopping():
    X, y = seq_data(n=20, T=4)
    est = RecurrentRegressor(**{**KW, "max_iter": 4}, early_stopping=True,
                             validation_fraction=0.25).fit(X, y)
    assert [r["validation_score"] for r in est.history_] == est.validation_scores_


def test_callbacks_called_in_order_and_random_state_honoured():
    X, y = seq_data(n=12, T=4)
    rec, sc = Recorder(), Scorer(X, y)
    plain = RecurrentRegressor(**KW).fit(X, y)
    observed = RecurrentRegressor(**KW, callbacks=[rec, sc]).fit(X, y)
    assert rec.events == ["begin", 1, 2, 3, 4, 5, "end"]
    assert len(sc.scores) == 5
    # same seed -> same result with and without callbacks (even ones that run predict)
    assert state_dict_equal(plain, observed)
    assert plain.loss_curve_ == observed.loss_curve_


@pytest.mark.parametrize("how", ["return", "raise"])
def test_stopping_callback_sets_stop_reason(how):
    X, y = seq_data(n=12, T=4)

    class StopAt:
        def on_epoch_end(self, est, record):
            if record["epoch"] == 3:
                if how == "raise":
                    raise StopTraining
                return True

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)     # a callback stop is not news
        est = RecurrentRegressor(**{**KW, "max_iter": 50}, callbacks=[StopAt()]).fit(X, y)
    assert est.n_iter_ == 3 and est.stop_reason_ == "callback"
    ref = RecurrentRegressor(**{**KW, "max_iter": 3}).fit(X, y)
    assert state_dict_equal(est, ref)


def test_callbacks_stored_unchanged_and_cloned():
    cbs = [Recorder()]
    est = RecurrentRegressor(callbacks=cbs)
    assert est.get_params()["callbacks"] is cbs
    c = clone(est)
    assert isinstance(c.callbacks, list) and isinstance(c.callbacks[0], Recorder)
    assert RecurrentRegressor().callbacks is None


@pytest.mark.parametrize("bad, err, msg", [
    (Recorder(), ValueError, "'callbacks' parameter"),
    ([object()], TypeError, r"callbacks\[0\] .* has no on_epoch_end"),
])
def test_malformed_callbacks_name_the_parameter(bad, err, msg):
    X, y = seq_data(n=6, T=3)
    with pytest.raises(err, match=msg):
        RecurrentRegressor(**KW, callbacks=bad).fit(X, y)


def test_stop_reason_max_iter():
    X, y = seq_data(n=12, T=4)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        est = RecurrentRegressor(**KW).fit(X, y)
    assert est.stop_reason_ == "max_iter"


def test_plateau_stop_with_poor_fit_is_recorded_and_warns():
    X, y = seq_data(n=12, T=4)
    # a tiny learning rate: the loss barely moves, so every epoch "does not improve"
    with pytest.warns(PlateauWarning, match=r"stopped at epoch 4 .* plateau .* removed only "
                                            r"-?\d\.\d+ < 0.5 of that loss"):
        est = RecurrentRegressor(**{**KW, "max_iter": 100, "learning_rate": 1e-6},
                                 n_iter_no_change=2).fit(X, y)
    assert est.stop_reason_ == "plateau" and est.n_iter_ == 4
    # the criterion: training loss above half of a constant prediction's loss
    const = np.mean((y - y.mean()) ** 2)
    assert est.best_loss_ > 0.5 * const


def test_plateau_stop_with_good_fit_is_recorded_without_warning():
    X, y = seq_data(n=32, T=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = RecurrentRegressor(**{**KW, "max_iter": 400, "learning_rate": 3e-2},
                                 tol=1e-3, n_iter_no_change=3).fit(X, y)
    assert est.stop_reason_ == "plateau" and est.n_iter_ < 400
    assert est.score(X, y) > 0.5


def test_baseline_loss_is_the_loss_of_the_best_constant_prediction():
    X, y = seq_data(n=12, T=4, n_out=2)
    est = RecurrentRegressor(**KW).fit(X, y)
    np.testing.assert_allclose(est.baseline_loss(y, None), np.mean((y - y.mean((0, 1))) ** 2))
    Xc, yc = label_data(n=20)
    clf = RecurrentClassifier(**KW).fit(Xc, yc)
    p = np.bincount(yc) / len(yc)
    np.testing.assert_allclose(clf.baseline_loss(yc, None), -(p * np.log(p)).sum())


def test_run_epoch_and_on_epoch_end_are_overridable():
    X, y = seq_data(n=12, T=4)
    seen = []

    class Logged(RecurrentRegressor):
        def run_epoch(self, X, target, weight, generator):
            seen.append(X.shape[0])
            return super().run_epoch(X, target, weight, generator)

        def on_epoch_end(self, record):
            return record["epoch"] == 2 or super().on_epoch_end(record)

    est = Logged(**KW).fit(X, y)
    assert seen == [12, 12] and est.stop_reason_ == "callback"


def test_callback_reading_analysis_does_not_leave_a_stale_cache():
    X, y = seq_data(n=12, T=4)
    seen = []

    class Watch:
        def on_epoch_end(self, est, record):
            seen.append(est.collapse_dim_)

    est = RecurrentRegressor(**{**KW, "max_iter": 3, "learning_rate": 5e-2},
                             callbacks=[Watch()]).fit(X, y)
    plain = RecurrentRegressor(**{**KW, "max_iter": 3, "learning_rate": 5e-2}).fit(X, y)
    assert len(set(seen)) == 3              # recomputed each epoch
    assert est.collapse_dim_ == plain.collapse_dim_ == seen[-1]


def test_train_step_get_loss_and_initialize_optimizer_are_the_steps_fit_uses():
    """skorch's steps: a subclass changing one of them changes what fit does."""
    import torch

    X, y = seq_data(n=12, T=4)
    calls = {"train_step": 0, "get_loss": 0}

    class Custom(RecurrentRegressor):
        def initialize_optimizer(self):
            return torch.optim.SGD(self.module_.parameters(), lr=self.learning_rate,
                                   momentum=0.9)

        def train_step(self, X, target, weight):
            calls["train_step"] += 1
            return super().train_step(X, target, weight)

        def get_loss(self, output, target, weight=None):
            calls["get_loss"] += 1
            return super().get_loss(output, target, weight)

    est = Custom(**{**KW, "batch_size": 5, "max_iter": 3}).fit(X, y)
    assert calls["train_step"] == 3 * 3                 # ceil(12 / 5) batches x 3 epochs
    assert calls["get_loss"] >= calls["train_step"]     # (+ the plateau / analysis losses)
    assert type(est._optimizer) is torch.optim.SGD      # although optimizer="adam"
    assert est._optimizer.param_groups[0]["momentum"] == 0.9
    assert est._optimizer.state                         # it took the steps (momentum buffers)
    adam = RecurrentRegressor(**{**KW, "batch_size": 5, "max_iter": 3}).fit(X, y)
    assert est.loss_curve_ != adam.loss_curve_


def test_update_no_improvement_count_drives_the_plateau_stop():
    X, y = seq_data(n=12, T=4)
    kw = {**KW, "max_iter": 8, "tol": 1e3, "n_iter_no_change": 1}  # nothing improves by 1e3
    plain = RecurrentRegressor(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlateauWarning)
        plain.fit(X, y)
    assert plain.stop_reason_ == "plateau" and plain.n_iter_ == 3   # epoch 1 beats inf

    class Patient(RecurrentRegressor):
        def _update_no_improvement_count(self, loss, score=None):
            super()._update_no_improvement_count(loss, score)
            self._no_improvement_count = 0          # never counts an epoch as stale
            return False

    patient = Patient(**kw).fit(X, y)
    assert patient.stop_reason_ == "max_iter" and patient.n_iter_ == 8
    assert patient.best_loss_ == min(patient.loss_curve_)
