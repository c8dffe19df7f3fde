"""The shipped model zoo: listing, checksums, loading without pickle, probes, checkpoints."""

import pickle
import shutil

import numpy as np
import pytest
import torch

from kpflow_sk import zoo
from kpflow_sk.estimators import RecurrentRegressor
from kpflow_sk.zoo import _manifest

REQUIRED = ["rnn_memory_pro", "gru_memory_pro", "leaky_rnn_memory_pro", "node_memory_pro",
            "gru_fourtask", "leaky_rnn_yang"]
# the cheapest model to analyse (leaky RNN, 32 units: the dense collapse-dim path is small)
SMALL = "leaky_rnn_memory_pro"


def _copy_zoo(tmp_path, names=(SMALL,)):
    """A private zoo holding ``names`` (copies; the root manifest lists only them)."""
    root = tmp_path / "zoo"
    root.mkdir(parents=True)
    src = zoo.zoo_root()
    index = _manifest.parse_manifest((src / _manifest.MANIFEST).read_text(), "index")
    keep = {}
    for n in names:
        shutil.copytree(src / n, root / n)
        keep[f"{n}/{_manifest.MANIFEST}"] = index[f"{n}/{_manifest.MANIFEST}"]
    (root / _manifest.MANIFEST).write_text(_manifest.format_manifest(keep))
    return root


def test_zoo_list_has_the_required_models():
    names = zoo.list()
    assert names == sorted(names)
    assert set(REQUIRED) <= set(names)


def test_zoo_verify_every_file():
    checked = zoo.verify()
    assert set(checked) == set(zoo.list())
    for name, entries in checked.items():
        assert {"recipe.json", "card.json", "card.md", "weights.safetensors"} <= set(entries)
        assert all(len(d) == 64 for d in entries.values())


def test_zoo_is_small():
    total = sum(p.stat().st_size for p in zoo.zoo_root().rglob("*") if p.is_file())
    assert total < 10 * 2**20


@pytest.mark.parametrize("name", REQUIRED)
def test_zoo_load_predicts_the_recorded_probe(name):
    est = zoo.load(name)
    assert isinstance(est, RecurrentRegressor)
    card = zoo.card(name)
    recipe = zoo.recipe(name)
    assert est.n_iter_ == card["metrics"]["n_iter"] == recipe["estimator"]["params"]["max_iter"]
    assert est.get_params()["cell"] == recipe["estimator"]["params"]["cell"]
    X, y_pred = zoo.probe(name)
    np.testing.assert_allclose(est.predict(X), y_pred, rtol=0, atol=1e-5)
    assert 0.0 <= card["metrics"]["test_score"] <= 1.0
    assert card["metrics"]["collapse_dim"] > 0


def test_zoo_card_collapse_dim_is_the_loaded_models():
    est = zoo.load(SMALL)
    assert est.collapse_dim_ == pytest.approx(zoo.card(SMALL)["metrics"]["collapse_dim"],
                                              rel=1e-6)


def test_zoo_load_uses_no_pickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the zoo must not unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    est = zoo.load(SMALL)
    snaps = zoo.load("gru_fourtask", checkpoints=True)
    X, y_pred = zoo.probe(SMALL)
    np.testing.assert_allclose(est.predict(X), y_pred, rtol=0, atol=1e-5)
    assert len(snaps) >= 10


def test_zoo_checkpoint_trajectory():
    snaps = zoo.load("gru_fourtask", checkpoints=True)
    assert len(snaps) >= 10
    its = [s.iteration for s in snaps]
    assert all(b > a for a, b in zip(its, its[1:]))
    card = zoo.card("gru_fourtask")
    assert its == card["checkpoints"]["iterations"]
    for s in snaps:
        assert isinstance(s, zoo.Checkpoint)
        assert s.estimator.n_iter_ == s.iteration == len(s.estimator.loss_curve_)
        assert s.loss == pytest.approx(s.estimator.loss_curve_[-1])
    final = zoo.load("gru_fourtask")
    X, _ = zoo.probe("gru_fourtask")
    np.testing.assert_array_equal(snaps[-1].estimator.predict(X), final.predict(X))
    # the weights really change along the trajectory
    assert not np.allclose(snaps[0].estimator.predict(X), final.predict(X))


def test_zoo_checkpoints_refused_for_a_model_without_them():
    with pytest.raises(ValueError, match="has no checkpoint trajectory.*gru_fourtask"):
        zoo.load("leaky_rnn_yang", checkpoints=True)


def test_zoo_unknown_name():
    with pytest.raises(ValueError, match="unknown zoo model 'nope'; available: "):
        zoo.load("nope")


def test_zoo_tampered_weights_refused(tmp_path):
    root = _copy_zoo(tmp_path)
    path = root / SMALL / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{SMALL}/weights\.safetensors has SHA-256"):
        zoo.load(SMALL, root=root)
    with pytest.raises(zoo.ZooIntegrityError, match="weights.safetensors"):
        zoo.verify(SMALL, root=root)
    # the other files are still fine to read
    assert zoo.card(SMALL, root=root)["name"] == SMALL


def test_zoo_tampered_model_manifest_refused(tmp_path):
    root = _copy_zoo(tmp_path)
    path = root / SMALL / "MANIFEST.sha256"
    lines = path.read_text().splitlines()
    digest, filename = lines[0].split()
    lines[0] = f"{'0' * 64}  {filename}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"{SMALL}/MANIFEST\.sha256 has SHA-256 .* but "
                                         r".*zoo/MANIFEST\.sha256 lists"):
        zoo.load(SMALL, root=root)


def test_zoo_consistently_rewritten_manifest_still_catches_the_file(tmp_path):
    # an edited weights file plus an edited model manifest: the root manifest catches it
    root = _copy_zoo(tmp_path)
    w = root / SMALL / "weights.safetensors"
    w.write_bytes(w.read_bytes() + b" ")
    m = root / SMALL / "MANIFEST.sha256"
    entries = _manifest.parse_manifest(m.read_text(), "m")
    entries["weights.safetensors"] = _manifest.sha256_bytes(w.read_bytes())
    m.write_text(_manifest.format_manifest(entries))
    with pytest.raises(zoo.ZooIntegrityError, match="MANIFEST.sha256"):
        zoo.load(SMALL, root=root)


def test_zoo_missing_or_unlisted_file_refused(tmp_path):
    root = _copy_zoo(tmp_path)
    (root / SMALL / "card.json").unlink()
    with pytest.raises(ValueError, match=rf"{SMALL}/card\.json is missing"):
        zoo.card(SMALL, root=root)
    root2 = _copy_zoo(tmp_path / "b")
    m = root2 / SMALL / "MANIFEST.sha256"
    entries = _manifest.parse_manifest(m.read_text(), "m")
    del entries["recipe.json"]
    m.write_text(_manifest.format_manifest(entries))
    index = root2 / "MANIFEST.sha256"
    index.write_text(_manifest.format_manifest(
        {f"{SMALL}/MANIFEST.sha256": _manifest.sha256_bytes(m.read_bytes())}))
    with pytest.raises(ValueError, match=r"recipe\.json is not listed"):
        zoo.recipe(SMALL, root=root2)


def test_zoo_malformed_manifest_refused(tmp_path):
    root = _copy_zoo(tmp_path)
    (root / "MANIFEST.sha256").write_text("not a digest  x/MANIFEST.sha256\n")
    with pytest.raises(ValueError, match=r"zoo/MANIFEST\.sha256: line 1"):
        zoo.load(SMALL, root=root)


def test_zoo_no_zoo_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model zoo"):
        zoo.list(root=tmp_path)
