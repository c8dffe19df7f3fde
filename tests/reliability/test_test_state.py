"""Test state stays out of the repository: Hypothesis's home (example database, caches) is
under the system temp dir, and its example database is off."""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import storage_directory

REPO = Path(__file__).resolve().parents[2]


def _inside(path, folder):
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def test_hypothesis_state_outside_the_tree():
    home = storage_directory("examples", intent_to_write=False).path
    assert not _inside(home, REPO), home
    assert settings().database is None


@given(st.text(min_size=1, max_size=5))  # text() builds Hypothesis's character cache
def test_hypothesis_run_writes_nothing_in_the_tree(s):
    assert not (REPO / ".hypothesis").exists()
