"""Zoo recipes and `python -m kpflow_sk.zoo build`: train, write, reload, reproduce the card."""

import copy
import io
import json

import numpy as np
import pytest
import torch

from kpflow_sk import zoo
from kpflow_sk.zoo import _codec, _recipe
from kpflow_sk.zoo.__main__ import main

PARAMS = {"stimulus_steps": 4, "memory_steps": 4, "response_steps": 4}
TINY = {
    "name": "tiny_gru",
    "description": "a tiny GRU for the tests",
    "dataset": {"tasks": ["memory_pro", "memory_anti"], "rule_inputs": "context",
                "params": PARAMS, "n_train": 16, "train_seed": 0, "n_test": 16, "test_seed": 1,
                "n_probe": 2, "probe_seed": 2},
    "estimator": {"class": "RecurrentRegressor",
                  "params": {"cell": "gru", "hidden_size": 4, "max_iter": 3, "batch_size": 16,
                             "learning_rate": 0.01, "random_state": 0, "kp_n_trials": 4,
                             "n_iter_no_change": 1000}},
    "fit": {"mask": True, "task_ids": True},
    "training": {"threads": 1, "checkpoint_every": 1},
    "tolerance": {"test_score": 0.1, "collapse_dim": 0.15, "final_loss": 0.5},
}


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo_build")
    result = zoo.build("tiny_gru", out, recipe=copy.deepcopy(TINY), verbose=False)
    return out, result


def test_zoo_build_writes_a_loadable_model(tiny_zoo):
    out, result = tiny_zoo
    assert result["ok"] and result["comparison"] is None
    assert zoo.list(root=out) == ["tiny_gru"]
    files = zoo.verify(root=out)["tiny_gru"]
    assert set(files) == {"recipe.json", "weights.safetensors", "checkpoints.safetensors",
                          "card.json", "card.md"}
    est = zoo.load("tiny_gru", root=out)
    X, y_pred = zoo.probe("tiny_gru", root=out)
    np.testing.assert_array_equal(est.predict(X), y_pred)
    card = zoo.card("tiny_gru", root=out)
    m = card["metrics"]
    assert set(m) >= {"test_score", "task_scores", "test_r2", "collapse_dim", "final_loss",
                      "n_iter"}
    assert set(m["task_scores"]) == {"memory_pro", "memory_anti"}
    assert m["collapse_dim"] == pytest.approx(est.collapse_dim_, rel=1e-9)
    assert est.task_alignment_.shape == (2, 2)
    assert zoo.recipe("tiny_gru", root=out) == TINY
    md = (out / "tiny_gru" / "card.md").read_text()
    assert "Test score" in md and "Collapse dim" in md and f"{m['collapse_dim']:.3f}" in md


def test_zoo_build_checkpoints_match_a_single_fit(tiny_zoo):
    out, _ = tiny_zoo
    snaps = zoo.load("tiny_gru", checkpoints=True, root=out)
    assert [s.iteration for s in snaps] == [1, 2, 3]
    # full-batch training: the chunked fits are one fit of max_iter iterations
    recipe = copy.deepcopy(TINY)
    recipe["training"]["checkpoint_every"] = None
    est, ckpts, _ = _recipe.train(recipe)
    assert ckpts == []
    X, _ = zoo.probe("tiny_gru", root=out)
    np.testing.assert_allclose(snaps[-1].estimator.predict(X), est.predict(X), atol=1e-6)
    assert [s.loss for s in snaps] == pytest.approx(est.loss_curve_, rel=1e-5)


def test_zoo_build_is_reproducible_and_compared_with_the_card(tiny_zoo, tmp_path, monkeypatch):
    out, first = tiny_zoo
    # make the freshly built model "the shipped one" and rebuild it: identical numbers
    monkeypatch.setattr(zoo._store, "zoo_root", lambda: out)
    stream = io.StringIO()
    again = zoo.build("tiny_gru", tmp_path / "again", stream=stream)
    assert again["ok"]
    assert [r[0] for r in again["comparison"]] == ["test_score", "collapse_dim", "final_loss"]
    for _, card_value, rebuilt, _, ok in again["comparison"]:
        assert ok and rebuilt == pytest.approx(card_value, rel=1e-6)
    assert "reproduced within tolerance" in stream.getvalue()


def test_zoo_compare_flags_a_difference():
    rows = _recipe.compare({"test_score": 0.9, "collapse_dim": 10.0, "final_loss": 0.01},
                           {"test_score": 0.7, "collapse_dim": 10.5, "final_loss": 0.02},
                           {"test_score": 0.1, "collapse_dim": 0.1, "final_loss": 0.5})
    assert [r[-1] for r in rows] == [False, True, False]


def test_zoo_recipe_checks():
    bad = copy.deepcopy(TINY)
    bad["estimator"]["params"]["random_state"] = None
    with pytest.raises(ValueError, match="random_state must be an int"):
        _recipe.check_recipe(bad)
    bad = copy.deepcopy(TINY)
    bad["training"]["checkpoint_every"] = 2
    with pytest.raises(ValueError, match="checkpoint_every"):
        _recipe.check_recipe(bad)
    bad = copy.deepcopy(TINY)
    bad["estimator"]["class"] = "os.system"
    with pytest.raises(ValueError, match="unknown estimator class"):
        _recipe.check_recipe(bad)
    with pytest.raises(ValueError, match="not 'other'"):
        zoo.build("other", recipe=copy.deepcopy(TINY), verbose=False)


def test_zoo_codec_stores_plain_data_only(tmp_path):
    tensors = {}
    enc = _codec.encode_state({"a": np.arange(3), "b": (1, 2.5, float("inf")), 3: "x",
                               "d": torch.device("cpu"), "c": np.array(["no", "yes"])},
                              tensors, "s")
    json.dumps(enc, allow_nan=False)
    dec = _codec.decode_state(enc, tensors)
    np.testing.assert_array_equal(dec["a"], np.arange(3))
    assert dec["b"] == (1, 2.5, float("inf")) and dec[3] == "x"
    assert dec["d"] == torch.device("cpu")
    np.testing.assert_array_equal(dec["c"], np.array(["no", "yes"]))
    assert list(tensors) == ["s.a"]
    with pytest.raises(TypeError, match="cannot be stored"):
        _codec.encode_state({"f": lambda: 0}, {}, "s")
    with pytest.raises(TypeError, match="dtype object"):
        _codec.encode_state(np.array([object()]), {}, "s")
    with pytest.raises(ValueError, match="does not contain"):
        _codec.decode_state({"__tensor__": "missing"}, {})


def test_zoo_codec_refuses_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="not a safetensors file"):
        _codec.read_bytes(b"\x00" * 4, "x")
    from safetensors.torch import save

    data = save({"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="not a kpflow_sk zoo file"):
        _codec.read_bytes(data, "x")
    with pytest.raises(ValueError, match="unknown estimator class 'Evil'"):
        _codec.load_estimator({"estimator": "Evil", "state": {}}, {}, "x")


def test_zoo_cli_list_and_verify(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "gru_fourtask" in out and "collapse dim" in out
    assert main(["verify", "leaky_rnn_memory_pro"]) == 0
    assert "leaky_rnn_memory_pro: 4 files OK" in capsys.readouterr().out


@pytest.mark.slow
def test_zoo_build_reproduces_a_shipped_card(tmp_path):
    # leaky_rnn_memory_pro: ~35 s of training and ~15 s of analysis on one core
    result = zoo.build("leaky_rnn_memory_pro", tmp_path, verbose=False)
    assert result["comparison"] is not None
    assert result["ok"], result["comparison"]


def test_zoo_codec_round_trips_a_classifier_with_string_labels(tmp_path):
    import warnings

    from kpflow_sk.estimators import RecurrentClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 5, 2))
    y = np.where(X[:, :, 0].sum(1) > 0, "up", "down")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = RecurrentClassifier(hidden_size=4, max_iter=2, random_state=0).fit(X, y)
    path = tmp_path / "clf.safetensors"
    _codec.save_estimator(path, clf)
    meta, tensors = _codec.read_bytes(path.read_bytes(), "clf")
    back, _ = _codec.load_estimator(meta, tensors, "clf")
    assert type(back) is RecurrentClassifier
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), atol=1e-7)
