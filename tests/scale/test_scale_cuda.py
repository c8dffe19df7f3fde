"""GPU: device="auto" picks CUDA, operators match dense autograd on CUDA, no host syncs in the
operator recurrences. Everything marked ``cuda`` skips cleanly without a CUDA device; the
identity-check code itself (benchmarks/gpu_check.py) is exercised on the CPU here too."""

import importlib.util
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _scale_helpers import seq_data

HAS_CUDA = torch.cuda.is_available()


def _gpu_check():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("kpflow_gpu_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gpu_check = _gpu_check()


def _estimator(**kw):
    from kpflow_sk import RecurrentRegressor

    return RecurrentRegressor(**{"hidden_size": 6, "max_iter": 3, "kp_n_trials": 6,
                                 "random_state": 0, **kw})


@pytest.mark.parametrize("case, strategy", [("gru", "materialized"), ("user", "matrix_free")])
def test_identity_check_code_on_cpu(case, strategy):
    """gpu_check's identity checks pass on the CPU (so a failure on CUDA is CUDA's)."""
    err = gpu_check.identity_errors(case, strategy, "cpu")
    assert err["on_device"]
    for name, tol in gpu_check.TOL.items():
        assert err[name] <= tol, (name, err[name])


def test_auto_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = seq_data(n=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _estimator(device="auto").fit(X, y)
    assert est.device_ == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error without CUDA")
def test_cuda_request_without_cuda_is_a_clear_error():
    X, y = seq_data(n=8)
    with pytest.raises(ValueError, match="CUDA is not available"):
        _estimator(device="cuda").fit(X, y)


@pytest.mark.parametrize("case", gpu_check.CELL_CASES)
@pytest.mark.parametrize("strategy", gpu_check.STRATEGIES)
@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_operator_identities_on_cuda(case, strategy):
    err = gpu_check.identity_errors(case, strategy, "cuda")
    assert err["on_device"]
    for name, tol in gpu_check.TOL.items():
        assert err[name] <= tol, (name, err[name])


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("cell", ["gru", "rnn", "leaky_rnn", "node"])
def test_auto_device_trains_and_analyses_on_cuda(cell):
    X, y = seq_data(n=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _estimator(cell=cell, device="auto").fit(X, y)
    assert est.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in est.module_.parameters())
    D = est.kp_decompose_
    assert D.Z.device.type == "cuda" and D.dz.device.type == "cuda"
    assert np.isfinite(est.collapse_dim_) and est.collapse_dim_ > 0
    pred = est.predict(X)
    assert isinstance(pred, np.ndarray) and np.isfinite(pred).all()
    again = pickle.loads(pickle.dumps(est))
    assert again.device_.type == "cuda"
    np.testing.assert_allclose(again.predict(X), pred, rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("cell", ["gru", "rnn", "node"])
@pytest.mark.parametrize("strategy", ["materialized", "matrix_free"])
def test_operator_applications_do_not_sync_with_the_host(cell, strategy):
    from kpflow_sk import KPDecomposition
    from kpflow_sk.cells import get_cell

    c = get_cell(cell, 3, 16)
    g = torch.Generator().manual_seed(0)
    params = {n: v.cuda() for n, v in c.init_params(g).items()}
    X = torch.randn(4, 12, 3, generator=g).cuda()
    D = KPDecomposition(c, params, X, strategy=strategy, random_state=0)
    q = torch.randn(4, 12, 16, 5, generator=g).cuda()
    D.P @ q  # materializes A_t (once) outside the check
    for name, fn in (("P", lambda: D.P @ q), ("P*", lambda: D.P.T @ q),
                     ("K", lambda: D.K @ q), ("Theta", lambda: D.Theta @ q)):
        assert gpu_check.count_syncs(fn, torch.device("cuda")) == 0, name


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_compare_runs_on_cuda():
    from _scale_helpers import TINY_TASK

    from kpflow_sk.compare import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = compare("gru", TINY_TASK, cv=2, n_samples=8,
                       estimator_params=dict(hidden_size=4, max_iter=2, kp_n_trials=4))
    assert all(r["device"].startswith("cuda") for r in recs)
