"""The Pro/Anti grouping index and its verdict (the demo's measure), checked by hand."""

import numpy as np
import pytest

from kpflow_sk.analysis import (
    ACROSS,
    ONSET,
    WITHIN,
    cosine_matrix,
    grouping_index,
    grouping_verdict,
    onset,
    trajectory_grouping,
)


def test_cosine_matrix_and_grouping_index_by_hand():
    rng = np.random.RandomState(0)
    pro, anti = rng.normal(size=(2, 3, 4, 5))
    blocks = [pro, anti, pro + 0.01 * rng.normal(size=pro.shape), -anti]
    C = cosine_matrix(blocks)
    flat = [b.ravel() / np.linalg.norm(b) for b in blocks]
    np.testing.assert_allclose(C[1, 3], flat[1] @ flat[3])
    assert C[1, 3] == pytest.approx(-1.0)
    g = grouping_index(C)
    within = (C[0, 2] + C[1, 3]) / 2
    across = (C[0, 1] + C[0, 3] + C[2, 1] + C[2, 3]) / 4
    assert g == pytest.approx(within - across)
    assert set(WITHIN) | set(ACROSS) == {(0, 2), (1, 3), (0, 1), (0, 3), (2, 1), (2, 3)}
    assert onset([3, 6, 9], [0.1, ONSET, 0.9]) == 6 and onset([3], [0.0]) is None


def _rec(epoch, gz, gdz, gzc=None):
    C = np.eye(4)
    return {"epoch": epoch, "grouping_Z": gz, "grouping_dz": gdz,
            "grouping_Z_centred": gz if gzc is None else gzc, "cos_Z": C}


@pytest.mark.parametrize("dz, expect", [
    ([0.0, 0.5, 0.9], "dz show the grouping first (epoch 6"),
    ([0.0, 0.0, 0.9], "same snapshot (epoch 9)"),
    ([0.0, 0.0, 0.0], "never reaches"),
])
def test_verdict_follows_the_numbers(dz, expect):
    recs = [_rec(e, z, d) for e, z, d in zip([3, 6, 9], [0.0, 0.1, 0.9], dz)]
    text, onsets = grouping_verdict(recs)
    assert expect in text and "are grouped" in text
    if max(dz) >= ONSET:
        first = next(e for e, d in zip([3, 6, 9], dz) if d >= ONSET)
        after = [d for e, d in zip([3, 6, 9], dz) if e >= first]
        assert f"ranges from {min(after):+.2f} to {max(after):+.2f}" in text
    recs = [_rec(e, z, d) for e, z, d in zip([3, 6, 9], [0.0, 0.9, 0.9], [0.0, 0.0, 0.9])]
    text, onsets = grouping_verdict(recs)
    assert "trajectories group first" in text and onsets == {
        "onset_Z": 6, "onset_dz": 9, "onset_Z_centred": 6}


def test_trajectory_grouping_by_hand():
    rng = np.random.RandomState(1)
    Z = rng.normal(size=(8, 5, 3))
    task_ids = np.repeat(np.arange(4), 2)
    g = trajectory_grouping(Z, task_ids)
    blocks = [Z[2 * k:2 * k + 2].ravel() for k in range(4)]
    shared = np.mean(blocks, axis=0)
    for key, bs in (("cos_Z", blocks), ("cos_Z_centred", [b - shared for b in blocks])):
        C = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in bs] for a in bs])
        np.testing.assert_allclose(g[key], C, atol=1e-12)
    assert g["grouping_Z"] == pytest.approx(grouping_index(g["cos_Z"]))
