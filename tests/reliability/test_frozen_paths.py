"""load_frozen stays inside its datasets/ folder: a manifest entry or a name that points out
of it (../evil.npz, a sub-folder, a link) is refused, like the zoo refuses it."""

import hashlib
import os
import shutil

import pytest

from kpflow_sk.datasets._frozen import MANIFEST, default_root, load_frozen


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def roots(tmp_path):
    """A copy of the shipped datasets/ folder and, next to it, an 'evil' valid split."""
    root = tmp_path / "datasets"
    shutil.copytree(default_root(), root)
    evil = tmp_path / "evil.npz"
    shutil.copy(root / "flipflop.npz", evil)
    return root, evil


def test_frozen_manifest_entry_out_of_folder_refused(roots):
    root, evil = roots
    with open(root / MANIFEST, "a") as fh:
        fh.write(f"{_sha(evil)}  ../evil.npz\n")
    with pytest.raises(ValueError, match=r"'\.\./evil'.*refusing to read files outside"):
        load_frozen("../evil", root=root)
    # the bad entry makes the whole manifest suspect: no split loads through it
    with pytest.raises(ValueError, match=r"line 7.*\.\./evil\.npz.*refusing"):
        load_frozen("flipflop", root=root)


@pytest.mark.parametrize("entry", ["/tmp/evil.npz", "sub/evil.npz", "..", "*../evil.npz"])
def test_frozen_manifest_entries_that_are_not_plain_names_refused(roots, entry):
    root, evil = roots
    with open(root / MANIFEST, "a") as fh:
        fh.write(f"{_sha(evil)}  {entry}\n")
    with pytest.raises(ValueError, match="plain file name"):
        load_frozen("flipflop", root=root)


@pytest.mark.parametrize("name", ["../evil", "sub/x", "/tmp/evil", "..", "."])
def test_frozen_name_with_path_parts_refused(roots, name):
    root, _ = roots
    with pytest.raises(ValueError, match="not a plain name"):
        load_frozen(name, root=root)


def test_frozen_link_out_of_folder_refused(roots):
    root, evil = roots
    os.symlink(evil, root / "linked.npz")
    with open(root / MANIFEST, "a") as fh:
        fh.write(f"{_sha(evil)}  linked.npz\n")
    with pytest.raises(ValueError, match="link out of"):
        load_frozen("linked", root=root)


def test_frozen_plain_entries_still_load(roots):
    root, _ = roots
    b = load_frozen("flipflop", root=root)
    assert b.X.shape[0] == 32
