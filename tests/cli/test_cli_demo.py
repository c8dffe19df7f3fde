"""`kpflow-sk demo`: the main job, run for real (quick) as `python -m kpflow_sk demo`."""

import io
import json
import math
import os
import re
import subprocess
import sys

import pytest

from kpflow_sk._cli.demo import run_demo
from kpflow_sk.analysis import grouping_index
from kpflow_sk.cli import main

TASKS = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]


def _check_report(folder, n_iter):
    html = (folder / "report.html").read_text(encoding="utf-8")
    pngs = sorted(p.name for p in folder.glob("*.png"))
    assert {"training.png", "task_alignment.png", "spectra.png"} <= set(pngs)
    # self-contained: every figure embedded, nothing fetched from elsewhere
    assert html.count('<img src="data:image/png;base64,') == len(pngs)
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "<script" not in html and "<link" not in html
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert len(results["loss_curve"]) == n_iter
    assert math.isfinite(results["collapse_dim"]) and results["collapse_dim"] > 0
    assert results["alignment_names"] == TASKS
    ta = results["task_alignment"]
    assert len(ta) == 4 and all(len(row) == 4 for row in ta)
    assert [rec["iteration"] for rec in results["kp_history"]] == list(range(n_iter + 1))
    return results


def test_demo_quick_as_module(tmp_path):
    out = tmp_path / "report"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "kpflow_sk", "demo", "--quick", "--out",
                           str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for heading in ("KPFlow during training", "collapse dim", "Accuracy on held-out trials",
                    "Task alignment"):
        assert heading in text
    # the alignment table: one row per task, led by its name, with 4 values
    rows = [line.split() for line in text.splitlines()
            if line.split() and line.split()[0] in TASKS and len(line.split()) == 5]
    assert [r[0] for r in rows] == TASKS
    assert "RecurrentRegressor" in proc.stderr  # the tqdm progress bar
    assert "Traceback" not in proc.stderr
    _check_report(out, n_iter=3)


def test_demo_options_in_process(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["demo", "--quick", "--out", str(out), "--max-iter", "2", "--hidden-size", "40",
               "--seed", "3", "--no-progress"])
    assert rc == 0
    results = _check_report(out, n_iter=2)
    assert results["demo_config"]["hidden_size"] == 40
    assert results["model"]["random_state"] == 3
    assert "Report:" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["demo", "--max-iter", "0"], ["demo", "--hidden-size", "x"],
                                  ["demo", "--bogus"]])
def test_demo_bad_arguments(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


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
