"""CLI exit codes: a bad argument exits 2 with one error line (never 1, a stall or a
traceback); `analyze` reads regular files only, with a size limit; `python -m kpflow_sk.zoo`
fails with one line too."""

import os
import threading
import time

import pytest
from _reliability_cli import TINY_COMPARE

from kpflow_sk.cli import main
from kpflow_sk.zoo.__main__ import main as zoo_main


def _one_error_line(err, prog):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1, err
    assert errors[0].startswith(prog), err
    return errors[0]


@pytest.mark.parametrize("argv, message", [
    (["compare", "--tasks", "memory_pro", "--cv", "1"], "at least 2 folds"),
    (["compare", "--tasks", "memory_pro", "--seed", "-1"], "seed"),
    (["fit", "--task", "memory_pro", "--seed", "-1"], "seed"),
    (["analyze", "whatever.safetensors", "--seed", "-1"], "seed"),
    (["analyze", "whatever.safetensors", "--seed", str(2**32)], "seed"),
    (["zoo", "show", "nosuch"], "unknown zoo model 'nosuch'"),
    (["zoo", "get", "nosuch"], "unknown zoo model 'nosuch'"),
])
def test_cli_bad_argument_exits_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert message in _one_error_line(err, "kpflow-sk")


def test_cli_zoo_get_unknown_name_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["zoo", "get", "nosuch"]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("address", ["not-an-address", "tcp://", "http://host:8786",
                                     "tcp://host:notaport", "host"])
def test_cli_compare_bad_scheduler_address_fails_fast(address, capsys):
    t0 = time.perf_counter()
    assert main(["compare", "--tasks", "memory_pro", "--scheduler", address]
                + TINY_COMPARE) == 2
    seconds = time.perf_counter() - t0
    err = capsys.readouterr().err
    line = _one_error_line(err, "kpflow-sk compare")
    assert "not a Dask scheduler address" in line and repr(address) in line
    assert "__del__" not in err
    # generous bound on a loaded machine: the old behaviour waited for a 60 s timeout
    assert seconds < 30


def test_compare_library_refuses_bad_scheduler_address():
    from kpflow_sk.compare import check_scheduler_address, compare

    with pytest.raises(ValueError, match="not a Dask scheduler address: 'not-an-address'"):
        compare(["rnn"], "memory_pro", scheduler="not-an-address")
    assert check_scheduler_address("local") == "local"
    assert check_scheduler_address("10.0.0.5:8786") == "10.0.0.5:8786"
    assert check_scheduler_address("tls://[::1]:8786") == "tls://[::1]:8786"


@pytest.mark.timeout(120)
def test_analyze_fifo_refused_without_hanging(tmp_path, capsys):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    # a regression would block in open(); this writer would then unblock it after 20 s, and
    # the message check below would still fail
    def unblock():
        time.sleep(20)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:  # nobody reading: the fix works
            pass

    threading.Thread(target=unblock, daemon=True).start()
    t0 = time.perf_counter()
    assert main(["analyze", str(fifo), "--out", str(tmp_path / "r")]) == 1
    assert time.perf_counter() - t0 < 20
    line = _one_error_line(capsys.readouterr().err, "kpflow-sk analyze")
    assert "FIFO" in line and "regular file" in line
    assert not (tmp_path / "r").exists()


def test_analyze_dev_zero_refused(tmp_path, capsys):
    assert main(["analyze", "/dev/zero", "--out", str(tmp_path / "r")]) == 1
    line = _one_error_line(capsys.readouterr().err, "kpflow-sk analyze")
    assert "'/dev/zero' is a device" in line and "regular file" in line


def test_analyze_model_file_size_limit(tmp_path, capsys, monkeypatch):
    from kpflow_sk._cli import models

    monkeypatch.setattr(models, "MAX_MODEL_BYTES", 1000)
    path = tmp_path / "big.safetensors"
    path.write_bytes(b"\0" * 1001)
    assert main(["analyze", str(path), "--out", str(tmp_path / "r")]) == 1
    line = _one_error_line(capsys.readouterr().err, "kpflow-sk analyze")
    assert "1001 bytes" in line and "1000 bytes" in line


@pytest.mark.parametrize("argv, message", [
    (["verify", "nosuch"], "unknown zoo model(s) 'nosuch'"),
    (["build", "nosuch", "--out", "{tmp}/b"], "unknown zoo model 'nosuch'"),
    (["build", "x", "--recipe", "{tmp}/missing.json", "--out", "{tmp}/b"],
     "missing.json' does not exist"),
    (["build", "x", "--recipe", "{tmp}/bad.json", "--out", "{tmp}/b"], "not valid JSON"),
])
def test_zoo_module_bad_argument_one_line_exit_2(argv, message, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert zoo_main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert message in _one_error_line(err, "python -m kpflow_sk.zoo")
    assert not (tmp_path / "b").exists()


def test_zoo_module_integrity_failure_one_line_exit_1(capsys, monkeypatch):
    from kpflow_sk import zoo

    def broken(name=None):
        raise zoo.ZooIntegrityError("zoo/x/weights.safetensors has SHA-256 ab, but\nlists cd")

    monkeypatch.setattr(zoo, "verify", broken)
    assert zoo_main(["verify"]) == 1
    line = _one_error_line(capsys.readouterr().err, "python -m kpflow_sk.zoo verify")
    assert "ZooIntegrityError" in line and "lists cd" in line
