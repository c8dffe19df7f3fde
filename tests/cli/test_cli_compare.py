"""`kpflow-sk compare`: a real tiny serial run, and the Dask path with compare() mocked."""

import json

import pytest

import kpflow_sk.model_selection
import kpflow_sk.model_selection._compare as compare_module
from kpflow_sk.cli import main


def test_compare_tiny_serial_run(tmp_path, capsys, tiny_task_args):
    out = tmp_path / "records.json"
    assert main(["compare", "--cells", "rnn,gru", "--tasks", "memory_pro", "--cv", "2",
                 "--n-samples", "8", "--hidden-size", "4", "--max-iter", "2",
                 "--kp-n-trials", "4", "--threads", "1", "--out", str(out)]
                + tiny_task_args) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    rows = [line.split() for line in lines if line.split()[:2] in (["rnn", "memory_pro"],
                                                                   ["gru", "memory_pro"])]
    assert [r[0] for r in rows] == ["rnn", "gru"]
    assert all(r[2] == "2" and r.count("+-") == 3 for r in rows)  # folds; 3 x mean +- sd
    assert "collapse dim" in captured.out and "serially" in captured.out
    assert "Maximum iterations" not in captured.err
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["cell"], r["task"], r["fold"]) for r in records] == [
        ("rnn", "memory_pro", 0), ("rnn", "memory_pro", 1),
        ("gru", "memory_pro", 0), ("gru", "memory_pro", 1)]
    assert all(r["collapse_dim"] > 0 for r in records)


def _fake_records(cells, tasks):
    recs = []
    for cell in cells:
        for task in tasks:
            label = "+".join(task) if isinstance(task, tuple) else task
            for fold, (score, dim) in enumerate([(0.5, 3.0), (0.7, 5.0)]):
                recs.append({"cell": cell, "task": label, "fold": fold, "score": score,
                             "collapse_dim": dim, "fit_time": 1.0})
    return recs


def test_compare_scheduler_path(monkeypatch, tmp_path, capsys):
    calls = {}

    def fake_compare(cells, tasks, **kw):
        calls.update(cells=cells, tasks=tasks, **kw)
        return _fake_records(cells, tasks)

    monkeypatch.setattr(kpflow_sk.model_selection, "compare", fake_compare)
    out = tmp_path / "recs.csv"
    assert main(["compare", "--cells", "gru", "--tasks", "memory_pro,memory_pro+delay_anti",
                 "--scheduler", "tcp://10.0.0.5:8786", "--cv", "2", "--n-samples", "32",
                 "--hidden-size", "16", "--max-iter", "7", "--seed", "4", "--param",
                 "grad_clip=2.0", "--task-param", "memory_steps=5", "--out", str(out)]) == 0
    assert calls["scheduler"] == "tcp://10.0.0.5:8786" and calls["n_jobs"] is None
    assert calls["cells"] == ["gru"] and calls["cv"] == 2 and calls["n_samples"] == 32
    assert calls["random_state"] == 4
    assert calls["tasks"] == {"memory_pro": {"memory_steps": 5},
                              ("memory_pro", "delay_anti"): {"memory_steps": 5}}
    params = calls["estimator_params"]
    assert params["hidden_size"] == 16 and params["max_iter"] == 7
    assert params["grad_clip"] == 2.0
    text = capsys.readouterr().out
    assert "Dask scheduler tcp://10.0.0.5:8786" in text
    # mean +- sample sd over the two folds: 0.6 +- 0.14 and 4 +- 1.4
    assert "0.6 +- 0.14" in text and "4 +- 1.4" in text
    assert "memory_pro+delay_anti" in text
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("cell,task,fold")


def test_compare_n_jobs_and_runtime_failure(monkeypatch, capsys):
    seen = {}

    def fake_compare(cells, tasks, **kw):
        seen.update(kw)
        raise kpflow_sk.model_selection.SchedulerUnreachableError(
            "could not reach the Dask scheduler at 'tcp://nowhere:1'\nwithin 30 s")

    monkeypatch.setattr(kpflow_sk.model_selection, "compare", fake_compare)
    assert main(["compare", "--tasks", "memory_pro", "--n-jobs", "2"]) == 1
    assert seen["n_jobs"] == 2 and seen["scheduler"] is None
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "could not reach the Dask scheduler" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--task-param", "bogus=1"], "unknown parameter"),
    (["--param", "cell=rnn"], "must not set 'cell'"),
    (["--param", "grad_clip=-1"], "grad_clip"),
    (["--param", "hiden_size=3"], "unknown RecurrentRegressor parameter"),
    (["--n-jobs", "0"], "--n-jobs"),
    (["--tasks", "memory_pro+"], "composition needs two tasks"),
])
def test_compare_bad_arguments(argv, message, monkeypatch, capsys):
    # compare() itself checks its arguments (and generates the data) before the first fold
    monkeypatch.setattr(compare_module, "_run_fold", lambda *a, **k: pytest.fail("ran"))
    base = ["compare", "--tasks", "memory_pro"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and "usage:" in err and "Traceback" not in err


def test_compare_prints_summarize(monkeypatch, capsys):
    """The table is summarize()'s means and sds, formatted (three folds, a missing field)."""
    recs = [{"cell": "gru", "task": "memory_pro", "fold": k, "score": s, "collapse_dim": d,
             "fit_time": t} for k, (s, d, t) in enumerate([(0.25, 2.0, 1.0), (0.5, 4.0, 2.0),
                                                           (1.0, 9.0, 4.5)])]
    monkeypatch.setattr(kpflow_sk.model_selection, "compare", lambda *a, **k: recs)
    assert main(["compare", "--cells", "gru", "--tasks", "memory_pro"]) == 0
    row = next(line.split() for line in capsys.readouterr().out.splitlines()
               if line.split()[:2] == ["gru", "memory_pro"])
    # by hand: means 0.5833, 5, 2.5; sample sds 0.3819, 3.606, 1.803
    assert " ".join(row[2:]) == "3 0.5833 +- 0.38 5 +- 3.6 2.50 +- 1.80"
