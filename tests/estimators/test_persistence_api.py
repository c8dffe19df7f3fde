"""Public persistence: est.save / kpflow_sk.load (safetensors + JSON, never pickle); dtype of
predict and transform."""

import pickle

import numpy as np
import pytest
from _helpers import label_data, seq_data

import kpflow_sk
from kpflow_sk import RecurrentClassifier, RecurrentRegressor, zoo

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("cls, cell, make, dtype", [
    (RecurrentRegressor, "gru", seq_data, "float32"),
    (RecurrentRegressor, "leaky_rnn", seq_data, "float64"),
    (RecurrentRegressor, "rnn", seq_data, "float32"),
    (RecurrentClassifier, "gru", label_data, "float32"),
])
def test_save_load_round_trip_is_bit_for_bit(cls, cell, make, dtype, tmp_path, monkeypatch):
    X, y = make(n=12, T=5)
    est = cls(cell=cell, hidden_size=6, max_iter=3, random_state=0, dtype=dtype,
              kp_track_every=1, kp_n_trials=4).fit(X, y)
    path = est.save(tmp_path / "sub" / "model.safetensors")
    assert path.is_file()
    # loading never unpickles
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    for back in (kpflow_sk.load(path), zoo.load(path), zoo.load(str(path))):
        assert type(back) is cls
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
        np.testing.assert_array_equal(back.transform(X), est.transform(X))
        assert back.get_params() == est.get_params()
        assert back.loss_curve_ == est.loss_curve_
        assert len(back.kp_history_) == len(est.kp_history_)


def test_cli_model_files_load_publicly(tmp_path):
    from kpflow_sk._cli.models import load_model, save_model

    X, y = seq_data(n=8, T=4)
    est = RecurrentRegressor(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    path = save_model(est, tmp_path / "model.safetensors", {"tasks": ["memory_pro"]})
    np.testing.assert_array_equal(kpflow_sk.load(path).predict(X), est.predict(X))
    back, recipe = load_model(path)
    assert recipe == {"tasks": ["memory_pro"]}
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        kpflow_sk.load(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError, match="directory"):
        kpflow_sk.load(tmp_path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="safetensors|kpflow_sk"):
        kpflow_sk.load(bad)
    with pytest.raises(ValueError, match="unknown zoo model"):
        zoo.load("no_such_model")
    X, y = seq_data(n=8, T=4)
    path = RecurrentRegressor(hidden_size=3, max_iter=1).fit(X, y).save(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="checkpoints=True"):
        zoo.load(path, checkpoints=True)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RecurrentRegressor().save(tmp_path / "x.safetensors")


@pytest.mark.parametrize("dtype, np_dtype", [("float32", np.float32), ("float64", np.float64)])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_predict_and_transform_return_the_estimators_dtype(dtype, np_dtype, x_dtype):
    X, y = seq_data(n=10, T=4)
    X = X.astype(x_dtype)
    est = RecurrentRegressor(hidden_size=4, max_iter=2, random_state=0, dtype=dtype).fit(X, y)
    assert est.predict(X).dtype == np_dtype
    assert est.transform(X).dtype == np_dtype
    Xl, yl = label_data(n=10, T=4)
    clf = RecurrentClassifier(hidden_size=4, max_iter=2, random_state=0, dtype=dtype)
    clf.fit(Xl.astype(x_dtype), yl)
    assert clf.predict_proba(Xl).dtype == np_dtype
    assert clf.transform(Xl).dtype == np_dtype
    np.testing.assert_allclose(clf.predict_proba(Xl).sum(-1), 1, rtol=1e-5)


def test_save_drops_callbacks_which_only_pickle_could_store(tmp_path):
    class Count:
        n = 0

        def on_epoch_end(self, est, record):
            Count.n += 1

    X, y = seq_data(n=8, T=4)
    est = RecurrentRegressor(hidden_size=3, max_iter=2, random_state=0,
                             callbacks=[Count()]).fit(X, y)
    assert Count.n == 2
    back = kpflow_sk.load(est.save(tmp_path / "m.safetensors"))
    assert back.callbacks is None and est.callbacks is not None
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
