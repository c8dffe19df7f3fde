"""Exit codes: 2 for bad arguments (with a message), 1 for runtime failures (one line)."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from kpflow_sk.cli import main


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["nope"], "invalid choice"),
    (["fit"], "--task"),
    (["fit", "--task", "memory_pro,nope"], "unknown task(s) nope"),
    (["fit", "--task", "memory_pro", "--cell", "lstm"], "unknown cell 'lstm'"),
    (["fit", "--task", "memory_pro", "--hidden-size", "0"], "expected an integer >= 1"),
    (["fit", "--task", "memory_pro", "--learning-rate", "-1"], "expected a finite number > 0"),
    (["fit", "--task", "memory_pro", "--param", "hiden_size=3"], "unknown RecurrentRegressor"),
    (["fit", "--task", "memory_pro", "--param", "grad_clip=-1"], "grad_clip"),
    (["fit", "--task", "memory_pro", "--param", "novalue"], "expected KEY=VALUE"),
    (["fit", "--task", "memory_pro", "--rule-inputs", "onehot"], "needs several tasks"),
    (["fit", "--task", "memory_pro", "--task-param", "bogus=1", "--max-iter", "1"],
     "unknown parameter"),
    (["compare", "--tasks", "memory_pro", "--n-jobs", "2", "--scheduler", "local"],
     "not allowed with"),
    (["compare", "--tasks", "memory_pro", "--cells", "gru,lstm"], "unknown cell"),
    (["compare", "--tasks", "memory_pro", "--cv", "9", "--n-samples", "4"],
     "cv=9 folds but only n_samples=4"),
    (["analyze"], "required"),
    (["zoo"], "required"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err
    assert message in err
    assert "Traceback" not in err


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert "kpflow-sk" in capsys.readouterr().out


def _assert_one_line_failure(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("kpflow-sk analyze: error:")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("content", [
    b"", b"not a model at all\n" * 10, pickle.dumps({"weights": [1, 2]}),
    b"\xff" * 8 + b"{}", (40).to_bytes(8, "little") + b'{"__metadata__": {"a": 1}'])
def test_analyze_unreadable_model_file_exit_1(tmp_path, capsys, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    assert main(["analyze", str(path), "--out", str(tmp_path / "r")]) == 1
    _assert_one_line_failure(capsys, "cannot read model file", str(path))
    assert not (tmp_path / "r").exists()


def test_analyze_truncated_model_file_exit_1(fitted_model, tmp_path, capsys):
    data = fitted_model[0].read_bytes()
    for cut in (len(data) // 2, len(data) - 3):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        assert main(["analyze", str(path)]) == 1
        _assert_one_line_failure(capsys, "cannot read model file")


def test_analyze_foreign_safetensors_exit_1(tmp_path, capsys):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"note": "not ours"})
    assert main(["analyze", str(path)]) == 1
    _assert_one_line_failure(capsys, "not a kpflow_sk model file")


def test_analyze_missing_file_or_directory_exit_1(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.safetensors")]) == 1
    _assert_one_line_failure(capsys, "does not exist")
    assert main(["analyze", str(tmp_path)]) == 1
    _assert_one_line_failure(capsys, "is a directory")
    assert main(["analyze", "no_such_zoo_model"]) == 1
    _assert_one_line_failure(capsys, "neither a model file nor a zoo model")
