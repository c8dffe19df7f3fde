"""clone, pickle and joblib round trips; CPU-only storage so CUDA fits load anywhere."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from _helpers import label_data, seq_data
from sklearn.base import clone

from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CASES = [
    (RecurrentRegressor, "gru", seq_data),
    (RecurrentRegressor, "leaky_rnn", seq_data),
    (RecurrentRegressor, "rnn", seq_data),
    (RecurrentClassifier, "gru", label_data),
]


def _fit(cls, cell, make, **kw):
    X, y = make(n=12, T=4)
    params = dict(cell=cell, hidden_size=5, max_iter=3, random_state=0, device="cpu",
                  nonlinearity="relu" if cell == "rnn" else "tanh")
    params.update(kw)
    return cls(**params).fit(X, y), X, y


def _outputs(est, X):
    out = [est.predict(X), est.transform(X)]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
    return out


def _tensors(obj, seen=None):
    """Every tensor reachable from a pickled state (dicts, lists, objects)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


@pytest.mark.parametrize("cls, cell, make", CASES)
def test_pickle_and_joblib_round_trip(cls, cell, make, tmp_path):
    est, X, y = _fit(cls, cell, make)
    expected = _outputs(est, X)
    restored = pickle.loads(pickle.dumps(est))
    path = tmp_path / "est.joblib"
    joblib.dump(est, path)
    from_joblib = joblib.load(path)
    for other in (restored, from_joblib):
        for a, b in zip(expected, _outputs(other, X)):
            np.testing.assert_array_equal(a, b)
        assert other.get_params() == est.get_params()
        assert other.loss_curve_ == est.loss_curve_


def test_unpickled_estimator_keeps_training_like_the_original():
    est, X, y = _fit(RecurrentRegressor, "gru", seq_data)
    copy = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)          # optimizer state travelled with it
    np.testing.assert_array_equal(est.predict(X), copy.predict(X))


def test_pickled_state_holds_only_cpu_tensors():
    est, X, y = _fit(RecurrentRegressor, "gru", seq_data)
    state = est.__getstate__()
    assert "module_" not in state            # the module is stored as a CPU state dict
    tensors = list(_tensors(state))
    assert tensors and all(t.device.type == "cpu" for t in tensors)


def test_estimator_fitted_on_cuda_loads_on_cpu_only_machine(monkeypatch):
    """Simulated: the state says the model lived on cuda:0; this machine has no CUDA."""
    est, X, y = _fit(RecurrentRegressor, "gru", seq_data)
    expected = est.predict(X)
    est.device_ = torch.device("cuda", 0)
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="fitted on cuda:0 which is not available"):
        restored = pickle.loads(blob)
    assert restored.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    np.testing.assert_array_equal(restored.predict(X), expected)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_real_cuda_fit_unpickles_on_cpu(monkeypatch):
    X, y = seq_data(n=16, T=5)
    est = RecurrentRegressor(hidden_size=8, max_iter=3, random_state=0, device="cuda").fit(X, y)
    assert est.device_.type == "cuda"
    assert next(est.module_.parameters()).is_cuda
    expected = est.predict(X)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    assert all(t.device.type == "cpu" for t in _tensors(est.__getstate__()))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    buf.seek(0)
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        restored = joblib.load(buf)
    assert restored.device_ == torch.device("cpu")
    # cuDNN's GRU may use TF32 on the GPU (torch.backends.cudnn.allow_tf32): ~1e-3 apart
    np.testing.assert_allclose(restored.predict(X), expected, rtol=1e-2, atol=1e-3)
    torch.backends.cudnn.allow_tf32, old = False, torch.backends.cudnn.allow_tf32
    try:
        np.testing.assert_allclose(restored.predict(X), est.predict(X), rtol=1e-4, atol=1e-5)
    finally:
        torch.backends.cudnn.allow_tf32 = old


def test_clone_gives_unfitted_copy_with_same_params():
    est, X, y = _fit(RecurrentRegressor, "gru", seq_data)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "module_")
    np.testing.assert_array_equal(c.fit(X, y).predict(X), est.predict(X))
