"""Zoo safety: a build deletes only what a build wrote, inside --out; the packaged zoo's
top-level manifest is pinned, so a consistently rewritten zoo is refused."""

import copy
import hashlib
import json
import shutil

import numpy as np
import pytest

from kpflow_sk import zoo
from kpflow_sk.zoo import _build, _manifest, _pin, _recipe, _store
from kpflow_sk.zoo.__main__ import main as zoo_main

PARAMS = {"stimulus_steps": 2, "memory_steps": 2, "response_steps": 2}
RECIPE = {
    "name": "tiny",
    "description": "a tiny GRU for the reliability tests",
    "dataset": {"tasks": ["memory_pro"], "rule_inputs": None, "params": PARAMS,
                "n_train": 8, "train_seed": 0, "n_test": 8, "test_seed": 1, "n_probe": 2,
                "probe_seed": 2},
    "estimator": {"class": "RecurrentRegressor",
                  "params": {"cell": "gru", "hidden_size": 3, "max_iter": 1, "batch_size": 8,
                             "random_state": 0, "kp_n_trials": 2, "kp_probes": 4}},
    "fit": {"mask": True, "task_ids": False},
    "training": {"threads": 1, "checkpoint_every": None},
    "tolerance": {"test_score": 0.1, "collapse_dim": 0.15, "final_loss": 0.5},
}


def _recipe_file(tmp_path, name):
    r = copy.deepcopy(RECIPE)
    r["name"] = name
    path = tmp_path / f"recipe_{abs(hash(name))}.json"
    path.write_text(json.dumps(r))
    return path


@pytest.fixture
def no_training(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(_recipe, "train", boom)


def _user_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "data.bin").write_bytes(b"\1\2")


def _user_files_intact(folder):
    return ((folder / "notes.txt").read_text() == "mine"
            and (folder / "sub" / "data.bin").read_bytes() == b"\1\2")


@pytest.mark.parametrize("name", [".", "..", "../sibling", "a/b", "/abs", "", ".hidden",
                                  "x" * 101])
def test_zoo_build_recipe_name_must_be_one_safe_component(name, tmp_path, capsys,
                                                          no_training):
    out = tmp_path / "out"
    _user_files(out)
    _user_files(tmp_path / "sibling")
    rc = zoo_main(["build", name, "--recipe", str(_recipe_file(tmp_path, name)),
                   "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not a valid zoo model name" in err and "Traceback" not in err
    assert _user_files_intact(out) and _user_files_intact(tmp_path / "sibling")
    with pytest.raises(ValueError, match="not a valid zoo model name"):
        zoo.build(name, out, recipe=json.loads(_recipe_file(tmp_path, name).read_text()),
                  verbose=False)


def test_zoo_build_recipe_whose_inner_name_is_dot_refused(tmp_path, no_training):
    # the CLI name is fine but the recipe inside says "." (write_model uses the recipe's)
    recipe = copy.deepcopy(RECIPE)
    recipe["name"] = "."
    with pytest.raises(ValueError, match="not a valid zoo model name"):
        _build.write_model(tmp_path, recipe, None, [], {}, {}, 0.0)


def test_zoo_build_never_replaces_a_folder_with_foreign_files(tmp_path, capsys, no_training):
    out = tmp_path / "out"
    _user_files(out / "tiny")
    rc = zoo_main(["build", "tiny", "--recipe", str(_recipe_file(tmp_path, "tiny")),
                   "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "holds files that a zoo build did not write (notes.txt, sub)" in err
    assert _user_files_intact(out / "tiny")


def test_zoo_build_replaces_only_its_own_artifacts(tmp_path):
    out = tmp_path / "out"
    _user_files(out)  # next to the model folder: must survive both builds
    recipe = copy.deepcopy(RECIPE)
    first = zoo.build("tiny", out, recipe=copy.deepcopy(recipe), verbose=False)
    assert first["ok"] and zoo.list(root=out) == ["tiny"]
    X, y_pred = zoo.probe("tiny", root=out)
    again = zoo.build("tiny", out, recipe=copy.deepcopy(recipe), verbose=False)
    assert again["ok"]
    X2, y_pred2 = zoo.probe("tiny", root=out)  # the new artifacts, same network
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y_pred2, y_pred)
    assert zoo.verify(root=out)["tiny"]
    assert _user_files_intact(out)
    assert sorted(p.name for p in (out / "tiny").iterdir()) == sorted(
        ["MANIFEST.sha256", "card.json", "card.md", "recipe.json", "weights.safetensors"])


# ---------------------------------------------------------------------- the pinned manifest
def test_zoo_pin_matches_the_shipped_manifest():
    shipped = (zoo.zoo_root() / _manifest.MANIFEST).read_bytes()
    assert _pin.ZOO_MANIFEST_SHA256 == hashlib.sha256(shipped).hexdigest()
    assert _pin.current_digest() == _pin.ZOO_MANIFEST_SHA256
    assert zoo_main(["pin"]) == 0


def _rewritten_copy(tmp_path, name):
    """A copy of the packaged zoo where one model's card was edited and both manifests were
    rewritten to match (what a tamperer with write access would do)."""
    root = tmp_path / "zoo"
    shutil.copytree(zoo.zoo_root(), root)
    card_path = root / name / _store.CARD
    card = json.loads(card_path.read_text())
    card["metrics"]["test_score"] = 1.0
    card_path.write_text(json.dumps(card))
    _manifest.write_manifest(root, name)
    return root


def test_zoo_consistently_rewritten_packaged_zoo_refused(tmp_path, monkeypatch):
    name = zoo.list()[0]
    clean = tmp_path / "clean"
    shutil.copytree(zoo.zoo_root(), clean)
    rewritten = _rewritten_copy(tmp_path, name)
    # the manifests alone accept the rewrite: it is self-consistent
    assert zoo.verify(name, root=rewritten)
    assert zoo.card(name, root=rewritten)["metrics"]["test_score"] == 1.0
    # served as the package's own zoo, the pinned digest refuses it
    monkeypatch.setattr(_store, "_packaged_root", lambda: rewritten)
    for call in (zoo.list, lambda: zoo.card(name), lambda: zoo.load(name),
                 lambda: zoo.verify(name)):
        with pytest.raises(zoo.ZooIntegrityError, match="this package pins"):
            call()
    # control: an unmodified copy in the same place loads
    monkeypatch.setattr(_store, "_packaged_root", lambda: clean)
    assert name in zoo.list() and zoo.card(name)


def test_zoo_pin_write_updates_the_constant(tmp_path, monkeypatch):
    copy_of_pin = tmp_path / "_pin.py"
    copy_of_pin.write_text(open(_pin.__file__, encoding="utf-8").read())
    monkeypatch.setattr(_pin, "__file__", str(copy_of_pin))
    monkeypatch.setattr(_pin, "ZOO_MANIFEST_SHA256", _pin.ZOO_MANIFEST_SHA256)
    new = "ab" * 32
    _pin.write_pin(new)
    assert f'ZOO_MANIFEST_SHA256 = "{new}"' in copy_of_pin.read_text()
    assert _pin.ZOO_MANIFEST_SHA256 == new
    assert zoo_main(["pin"]) == 1  # the packaged zoo no longer matches the (fake) pin
    with pytest.raises(ValueError, match="not a SHA-256"):
        _pin.write_pin("../../etc")
