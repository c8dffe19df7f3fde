"""The demo's grouping index, verdict and report content (quick configuration)."""

import io
import json

import numpy as np
import pytest

from kpflow_sk._demo import (
    ACROSS,
    ONSET,
    WITHIN,
    cosine_matrix,
    grouping_index,
    onset,
    run_demo,
    verdict,
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
    text, onsets = verdict(recs)
    assert expect in text and "are grouped" in text
    if max(dz) >= ONSET:
        first = next(e for e, d in zip([3, 6, 9], dz) if d >= ONSET)
        after = [d for e, d in zip([3, 6, 9], dz) if e >= first]
        assert f"ranges from {min(after):+.2f} to {max(after):+.2f}" in text
    recs = [_rec(e, z, d) for e, z, d in zip([3, 6, 9], [0.0, 0.9, 0.9], [0.0, 0.0, 0.9])]
    text, onsets = verdict(recs)
    assert "trajectories group first" in text and onsets == {
        "onset_Z": 6, "onset_dz": 9, "onset_Z_centred": 6}


def test_quick_demo_reports_the_grouping(tmp_path):
    out = io.StringIO()
    res = run_demo(tmp_path, quick=True, progress=False, stream=out, n_threads=1)
    text = out.getvalue()
    assert "Pro/Anti grouping over training" in text and "Verdict:" in text
    assert "collapse dim with its uncertainty:" in text and "±" in text
    assert [r["epoch"] for r in res["grouping"]] == [1, 2, 3]
    for r in res["grouping"]:
        assert r["grouping_dz"] == pytest.approx(grouping_index(r["cos_dz"]))
        assert set(r["accuracy"]) == {"memory_pro", "memory_anti", "delay_pro", "delay_anti"}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.index("<h2>Summary</h2>") < page.index("Pro/Anti grouping (the paper")
    assert "Pro/Anti grouping per snapshot" in page and 'id="grouping"' in page
    assert page.index("<summary>Configuration</summary>") > page.index("<h2>Figures</h2>")
    assert "convention &#x27;default&#x27;" in page
    results = json.loads((tmp_path / "results.json").read_text())
    cd = results["collapse_dim_estimate"]
    assert cd["half_width"] >= 0 and cd["text"].startswith(f"{cd['value']:.2g}"[:1])
    assert "± " in page[page.index("collapse dim</th>"):][:200]
    assert results["grouping_verdict"] == res["verdict"]
    assert len(results["grouping"]) == 3


@pytest.mark.parametrize("hidden, probes", [(6, None), (48, 24)])
def test_collapse_estimate_is_collapse_dim_with_its_uncertainty(hidden, probes):
    import warnings

    from kpflow_sk import RecurrentRegressor
    from kpflow_sk._cli.report import collapse_estimate
    from kpflow_sk.datasets import make_task

    b = make_task("memory_pro", 16, stimulus_steps=3, memory_steps=3, response_steps=3,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = RecurrentRegressor(hidden_size=hidden, max_iter=2, kp_n_trials=8,
                                 kp_probes=probes, random_state=0).fit(b.X, b.y)
    e = collapse_estimate(est.kp_decompose_)
    assert e["value"] == est.collapse_dim_          # the same number, plus its uncertainty
    assert e["half_width"] >= 0 and "applications" in e["text"]
