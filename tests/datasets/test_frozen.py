"""Frozen reference splits: checksums, contents, cards, tamper detection."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from kpflow_sk.datasets import FROZEN, load_frozen, score_task, write_frozen
from kpflow_sk.datasets._frozen import MANIFEST, default_root

ROOT = default_root()
SPLITS = sorted(p.stem for p in ROOT.glob("*.npz"))


def _manifest(root):
    lines = (Path(root) / MANIFEST).read_text().splitlines()
    return {f: h for h, f in (line.split() for line in lines if line.strip())}


def test_every_recipe_is_frozen_and_listed():
    entries = _manifest(ROOT)
    assert set(SPLITS) == set(FROZEN)
    assert set(entries) == {f"{name}.npz" for name in SPLITS}
    for name in SPLITS:
        path = ROOT / f"{name}.npz"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entries[path.name]
        assert path.stat().st_size <= 200 * 1024, name


@pytest.mark.parametrize("name", SPLITS)
def test_card_documents_the_split(name):
    card = (ROOT / f"{name}.md").read_text()
    for word in ("Source", "Encoding", "Periods", "Metric", f"write_frozen(['{name}'])"):
        assert word in card, (name, word)


@pytest.mark.parametrize("name", SPLITS)
def test_load_matches_regeneration(name):
    frozen = load_frozen(name)
    fresh = FROZEN[name][0]()
    for key in ("X", "y", "mask", "task_ids"):
        np.testing.assert_allclose(frozen[key], fresh[key], atol=1e-6, err_msg=key)
    assert frozen.task_names == fresh.task_names
    assert frozen.periods.keys() == fresh.periods.keys()
    for p in fresh.periods:
        np.testing.assert_array_equal(frozen.periods[p], fresh.periods[p])
    assert frozen.layout.keys() == fresh.layout.keys()
    for task in frozen.task_names:
        assert score_task(task, frozen.y, frozen) == 1.0


def test_write_is_reproducible(tmp_path):
    a = write_frozen(["flipflop", "sine_wave"], root=tmp_path / "a")
    b = write_frozen(["flipflop"], root=tmp_path / "b")
    assert a["flipflop"].read_bytes() == b["flipflop"].read_bytes()
    assert set(_manifest(tmp_path / "a")) == {"flipflop.npz", "sine_wave.npz"}
    bunch = load_frozen("sine_wave", root=tmp_path / "a")
    assert bunch.X.shape == (32, 100, 1)


def test_tampered_file_fails_loudly(tmp_path):
    root = tmp_path / "datasets"
    shutil.copytree(ROOT, root)
    path = root / "flipflop.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*flipflop\.npz"):
        load_frozen("flipflop", root=root)
    load_frozen("sine_wave", root=root)  # the others still load


def test_unknown_split_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match=r"unknown frozen split 'nope'; valid names: \["):
        load_frozen("nope")
    with pytest.raises(FileNotFoundError, match="root="):
        load_frozen("flipflop", root=tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown frozen split 'nope'"):
        write_frozen(["nope"], root=tmp_path)


@pytest.mark.parametrize("name", SPLITS)
def test_card_states_conventions_and_chance(name):
    card = (ROOT / f"{name}.md").read_text()
    for word in ("## Conventions", "Loss mask", "Timing", "Noise", "Chance level"):
        assert word.lower() in card.lower(), (name, word)
