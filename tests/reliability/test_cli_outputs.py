"""CLI outputs: nothing overwritten without --force, an unwritable --out found before training.

Refusals are bad arguments: exit 2, the usage line and one error line naming the path and
``--force``; the files already there are left byte for byte as they were.
"""

import json

import pytest
from _reliability_cli import TINY_COMPARE, TINY_FIT, snapshot, unwritable_dir

from kpflow_sk.cli import main
from kpflow_sk.estimators import RecurrentRegressor


def _no_training(monkeypatch):
    def boom(self, *a, **k):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(RecurrentRegressor, "fit", boom)


def _refused(capsys, *fragments):
    """Check the refusal on stderr; returns what was printed on stdout."""
    cap = capsys.readouterr()
    assert "usage:" in cap.err and "Traceback" not in cap.err
    line = cap.err.strip().splitlines()[-1]
    for f in fragments:
        assert f in line, line
    return cap.out


def test_fit_out_dir_not_overwritten_without_force(tmp_path, capsys, monkeypatch):
    out = tmp_path / "fit"
    assert main(["fit", "--task", "memory_pro", "--out", str(out)] + TINY_FIT) == 0
    before = snapshot(out)
    assert {"results.json", "report.html", "model.safetensors"} <= set(before)
    capsys.readouterr()
    with monkeypatch.context() as m:
        _no_training(m)
        assert main(["fit", "--task", "memory_pro", "--out", str(out)] + TINY_FIT) == 2
    _refused(capsys, str(out), "already holds", "model.safetensors", "results.json",
             "--force")
    assert snapshot(out) == before
    # --force overwrites: the stale marker in results.json is replaced by a new report
    (out / "results.json").write_text('{"stale": true}')
    assert main(["fit", "--task", "memory_pro", "--out", str(out), "--force"] + TINY_FIT) == 0
    assert "stale" not in json.loads((out / "results.json").read_text())
    assert not list(out.glob(".*.part"))  # atomic writes leave no scratch files


def test_fit_model_file_not_overwritten_without_force(tmp_path, capsys, monkeypatch):
    model = tmp_path / "mine.safetensors"
    model.write_bytes(b"my own file")
    _no_training(monkeypatch)
    assert main(["fit", "--task", "memory_pro", "--model", str(model), "--no-report",
                 "--out", str(tmp_path / "r")] + TINY_FIT) == 2
    _refused(capsys, "--model", str(model), "already exists", "--force")
    assert model.read_bytes() == b"my own file"


def test_fit_unwritable_out_found_before_training(capsys, monkeypatch):
    bad = unwritable_dir() / "fit"
    _no_training(monkeypatch)
    assert main(["fit", "--task", "memory_pro", "--out", str(bad)] + TINY_FIT) == 2
    assert "Fitting" not in _refused(capsys, "--out", str(bad), "not writable")


def test_fit_out_that_is_a_file_found_before_training(tmp_path, capsys, monkeypatch):
    f = tmp_path / "a_file"
    f.write_text("keep")
    _no_training(monkeypatch)
    assert main(["fit", "--task", "memory_pro", "--out", str(f / "sub")] + TINY_FIT) == 2
    _refused(capsys, "is not a directory")
    assert f.read_text() == "keep"


def test_compare_unwritable_out_found_before_training(capsys, monkeypatch):
    bad = unwritable_dir() / "records.json"
    _no_training(monkeypatch)
    assert main(["compare", "--tasks", "memory_pro", "--out", str(bad)] + TINY_COMPARE) == 2
    assert "Comparing" not in _refused(capsys, "--out", "not writable")


def test_compare_out_not_overwritten_without_force(tmp_path, capsys, monkeypatch):
    out = tmp_path / "records.json"
    out.write_text("[]\n")
    with monkeypatch.context() as m:
        _no_training(m)
        assert main(["compare", "--tasks", "memory_pro", "--out", str(out)]
                    + TINY_COMPARE) == 2
    _refused(capsys, str(out), "already exists", "--force")
    assert out.read_text() == "[]\n"
    assert main(["compare", "--tasks", "memory_pro", "--out", str(out), "--force"]
                + TINY_COMPARE) == 0
    assert len(json.loads(out.read_text())) == 2  # two folds recorded


@pytest.fixture(scope="module")
def zoo_name():
    from kpflow_sk import zoo

    return "leaky_rnn_memory_pro" if "leaky_rnn_memory_pro" in zoo.list() else zoo.list()[0]


def test_zoo_get_default_path_not_overwritten_without_force(tmp_path, capsys, monkeypatch,
                                                            zoo_name):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / f"{zoo_name}.safetensors"
    target.write_bytes(b"precious")
    assert main(["zoo", "get", zoo_name]) == 2
    _refused(capsys, f"{zoo_name}.safetensors", "already exists", "--force")
    assert target.read_bytes() == b"precious"
    assert main(["zoo", "get", zoo_name, "--force"]) == 0
    assert target.read_bytes() != b"precious" and target.stat().st_size > 1000


def test_zoo_get_out_file_not_overwritten_without_force(tmp_path, capsys, zoo_name):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"precious")
    assert main(["zoo", "get", zoo_name, "--out", str(target)]) == 2
    _refused(capsys, str(target), "already exists")
    assert target.read_bytes() == b"precious"
    fresh = tmp_path / "new" / "m.safetensors"
    assert main(["zoo", "get", zoo_name, "--out", str(fresh)]) == 0
    assert fresh.is_file()


def test_analyze_report_not_overwritten_without_force(tmp_path, capsys):
    fit_out = tmp_path / "fit"
    assert main(["fit", "--task", "memory_pro", "--out", str(fit_out), "--no-report"]
                + TINY_FIT) == 0
    report = tmp_path / "report"
    report.mkdir()
    (report / "results.json").write_text("mine")
    capsys.readouterr()
    assert main(["analyze", str(fit_out / "model.safetensors"), "--out", str(report),
                 "--n-samples", "4", "--spectra-k", "0"]) == 2
    _refused(capsys, str(report), "already holds results.json", "--force")
    assert (report / "results.json").read_text() == "mine"
