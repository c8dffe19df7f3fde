"""`kpflow-sk fit` -> model file + report -> `kpflow-sk analyze` round trip, on tiny tasks."""

import json

import numpy as np

import kpflow_sk.analysis
from kpflow_sk.cli import main
from kpflow_sk.datasets import dataset_from_recipe


def test_fit_writes_model_and_report(fitted_model):
    model, folder, out = fitted_model
    assert model.is_file()
    assert (folder / "report.html").is_file() and (folder / "training.png").is_file()
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert results["model"]["hidden_size"] == 8 and results["model"]["cell"] == "gru"
    assert results["data"]["tasks"] == ["memory_pro"]
    assert results["n_iter"] == 2 and len(results["kp_history"]) == 3
    assert results["model_file"] == str(model)
    assert "KPFlow during training" in out and "memory_pro" in out
    assert f"Model: {model}" in out


def test_analyze_round_trip(fitted_model, tmp_path, capsys):
    model, folder, _ = fitted_model
    fit_results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    out = tmp_path / "analysis"
    assert main(["analyze", str(model), "--out", str(out), "--n-samples", "8",
                 "--spectra-k", "3", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "KPFlow on 4 held-out trials" in text and "Accuracy on held-out trials" in text
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["model"] == fit_results["model"]
    assert results["data"] == fit_results["data"]
    assert results["loss_curve"] == fit_results["loss_curve"]  # the very same weights
    assert set(results["scores"]) == {"memory_pro"}
    assert results["collapse_dim"] > 0
    assert len(results["spectra"]["K"]) == 3
    assert (out / "report.html").is_file()


def test_analyze_on_other_task(fitted_model, tmp_path, capsys, tiny_task_args):
    model, _, _ = fitted_model
    # same layout (3 inputs): works; the recipe's task parameters are kept
    assert main(["analyze", str(model), "--task", "memory_anti", "--n-samples", "4",
                 "--spectra-k", "0", "--out", str(tmp_path / "a")]) == 0
    assert "memory_anti" in capsys.readouterr().out
    # another layout: a runtime failure with one line, no traceback
    assert main(["analyze", str(model), "--task", "sine_wave", "--n-samples", "4",
                 "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not fit the data of sine_wave" in err


def test_fit_multitask_and_model_path(tmp_path, capsys, monkeypatch, tiny_fit_args):
    model = tmp_path / "models" / "m.joblib"
    assert main(["fit", "--task", "memory_pro,delay_anti", "--cell", "rnn", "--model",
                 str(model), "--out", str(tmp_path / "r"), "--param", "grad_clip=1.0",
                 "--threads", "1"] + tiny_fit_args) == 0
    text = capsys.readouterr().out
    assert "Task alignment" in text
    results = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert results["data"]["rule_inputs"] == "context"
    assert results["model"]["grad_clip"] == 1.0 and results["model"]["cell"] == "rnn"
    assert len(results["task_alignment"]) == 2
    assert model.is_file()

    # analyze draws its analysis trials by the estimator's rule: stratified by task, seeded
    picked = []
    real = kpflow_sk.analysis.select_analysis_trials

    def spy(n_samples, n_trials, task_ids, rng):
        idx = real(n_samples, n_trials, task_ids, rng)
        picked.append((task_ids, idx))
        return idx

    monkeypatch.setattr(kpflow_sk.analysis, "select_analysis_trials", spy)
    assert main(["analyze", str(model), "--n-samples", "10", "--kp-n-trials", "4",
                 "--seed", "7", "--spectra-k", "0", "--out", str(tmp_path / "a")]) == 0
    (task_ids, idx), = picked
    assert np.bincount(task_ids[idx]).tolist() == [2, 2]  # 10 trials, 5 per task -> 2 + 2
    recipe = results["data"]
    test = dataset_from_recipe(recipe, n_samples=10, random_state=7)
    np.testing.assert_array_equal(task_ids, test.task_ids)
    np.testing.assert_array_equal(idx, real(10, 4, test.task_ids, np.random.RandomState(7)))
    assert "KPFlow on 4 held-out trials" in capsys.readouterr().out
