"""`kpflow-sk zoo list|show|get` and `analyze ZOO_NAME`, against a stand-in zoo of one model.

The zoo's functions (``list``, ``load``, ``recipe``, ``card``) are replaced by ones serving a
tiny model fitted here, so these tests do not depend on which models the zoo ships.
"""

import json
import warnings

import pytest

import kpflow_sk.zoo as zoo
from kpflow_sk.cli import main
from kpflow_sk.datasets import make_task
from kpflow_sk.estimators import RecurrentRegressor

PARAMS = {"stimulus_steps": 3, "memory_steps": 3, "response_steps": 3}
RECIPE = {
    "name": "gru_tiny", "description": "a tiny GRU for the CLI tests",
    "dataset": {"tasks": ["memory_pro"], "rule_inputs": None, "params": PARAMS,
                "n_train": 8, "train_seed": 0, "n_test": 8, "test_seed": 1, "n_probe": 2,
                "probe_seed": 2},
    "estimator": {"class": "RecurrentRegressor",
                  "params": {"cell": "gru", "hidden_size": 4, "max_iter": 1,
                             "random_state": 0}},
    "fit": {"mask": True, "task_ids": False}, "training": {"threads": 1},
    "tolerance": {"test_score": 0.1, "collapse_dim": 0.15, "final_loss": 0.5},
}
CARD = {"name": "gru_tiny",
        "metrics": {"test_score": 0.25, "task_scores": {"memory_pro": 0.25}, "test_r2": 0.1,
                    "collapse_dim": 3.5, "final_loss": 0.2, "n_iter": 1},
        "training": {"seconds": 0.1, "threads": 1, "torch": "x"}, "checkpoints": None}


@pytest.fixture(scope="module")
def tiny_estimator():
    b = make_task("memory_pro", 8, random_state=0, **PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RecurrentRegressor(hidden_size=4, max_iter=1, kp_n_trials=4, kp_probes=8,
                                  random_state=0).fit(b.X, b.y, mask=b.mask)


@pytest.fixture
def fake_zoo(monkeypatch, tiny_estimator):
    def check(name):
        if name != "gru_tiny":
            raise ValueError(f"unknown zoo model {name!r}")

    monkeypatch.setattr(zoo, "list", lambda: ["gru_tiny"])
    monkeypatch.setattr(zoo, "load", lambda name: check(name) or tiny_estimator)
    monkeypatch.setattr(zoo, "recipe", lambda name: check(name) or RECIPE)
    monkeypatch.setattr(zoo, "card", lambda name: check(name) or CARD)
    return zoo


def test_zoo_list_and_show(fake_zoo, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("gru_tiny"))
    assert row == ["gru_tiny", "gru", "4", "memory_pro", "0.25", "3.5"]
    assert main(["zoo", "show", "gru_tiny"]) == 0
    out = capsys.readouterr().out
    assert "a tiny GRU for the CLI tests" in out
    assert "RecurrentRegressor(cell='gru', hidden_size=4" in out
    assert "collapse_dim" in out and "score memory_pro" in out


def test_zoo_unknown_name_exit_2(fake_zoo, capsys):
    # an unknown name is a bad argument: exit 2, usage line + one error line
    assert main(["zoo", "show", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage:")
    assert err[-1] == "kpflow-sk zoo: error: unknown zoo model 'nope'; available: gru_tiny"


def test_zoo_get_then_analyze_file(fake_zoo, tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    assert main(["zoo", "get", "gru_tiny", "--out", str(path)]) == 0
    assert path.is_file() and str(path) in capsys.readouterr().out
    assert main(["analyze", str(path), "--out", str(tmp_path / "r"), "--n-samples", "4",
                 "--spectra-k", "0"]) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert results["data"]["tasks"] == ["memory_pro"]
    assert results["data"]["task_params"] == PARAMS and results["data"]["test_seed"] == 1


def test_analyze_zoo_name(fake_zoo, tmp_path, capsys):
    assert main(["analyze", "gru_tiny", "--out", str(tmp_path / "r"), "--n-samples", "4",
                 "--spectra-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gru_tiny: gru (4 units)")
    assert (tmp_path / "r" / "report.html").is_file()


def test_zoo_failures_exit_1(fake_zoo, monkeypatch, tmp_path, capsys):
    def broken(name):
        raise zoo.ZooIntegrityError("zoo/gru_tiny/weights.safetensors has SHA-256 ab, but\n"
                                    "the manifest lists cd")

    monkeypatch.setattr(zoo, "load", broken)
    assert main(["analyze", "gru_tiny"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot load zoo model 'gru_tiny'" in err

    def missing():
        raise FileNotFoundError("no model zoo at 'x' (it has no MANIFEST.sha256)")

    monkeypatch.setattr(zoo, "list", missing)
    assert main(["zoo", "list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kpflow-sk zoo: error: the model zoo cannot be read")


def test_analyze_zoo_format_file_not_from_cli(tiny_estimator, tmp_path, capsys):
    from kpflow_sk.zoo import _codec

    path = tmp_path / "weights.safetensors"
    _codec.save_estimator(path, tiny_estimator)
    assert main(["analyze", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not written by `kpflow-sk fit`" in err
