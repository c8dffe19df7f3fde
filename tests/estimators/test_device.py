"""Device and thread handling (estimators/_device.py)."""

import warnings

import pytest
import torch

from kpflow_sk.estimators import resolve_device, torch_threads
from kpflow_sk.estimators._device import restored_device, state_to_cpu


def test_resolve_device_names(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0", "MyEstimator")
    for bad in ("tpu", "cuda:x", "mps", 3):
        with pytest.raises(ValueError, match="'device' parameter of MyEstimator"):
            resolve_device(bad, "MyEstimator")


def test_resolve_device_refuses_a_missing_cuda_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        resolve_device("cuda:3")


def test_state_to_cpu_copies_nested_tensors():
    t = torch.arange(3.0)
    state = {"a": t, "b": [t, (t, 1)], "c": "x"}
    out = state_to_cpu(state)
    assert out["c"] == "x" and out["b"][1][1] == 1 and isinstance(out["b"][1], tuple)
    for got in (out["a"], out["b"][0], out["b"][1][0]):
        assert torch.equal(got, t) and got.device.type == "cpu"
        assert got.data_ptr() != t.data_ptr()       # a copy, not a view of the original


def test_restored_device_falls_back_to_cpu_with_a_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="fitted on cuda:1 which is not available here"):
        assert restored_device(torch.device("cuda:1"), "Est") == torch.device("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert restored_device("cpu") == torch.device("cpu")


def test_torch_threads_restores_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
