"""`kpflow-sk tasks list|show`."""

from kpflow_sk.cli import main
from kpflow_sk.datasets import list_tasks


def test_tasks_list(capsys):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    for name in list_tasks():
        assert name in out
    assert f"{len(list_tasks())} tasks" in out


def test_tasks_list_family(capsys):
    assert main(["tasks", "list", "--family", "kpflow"]) == 0
    lines = [line.split()[0] for line in capsys.readouterr().out.splitlines()
             if line.split() and line.split()[0] in list_tasks()]
    assert lines == ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]


def test_tasks_show(capsys):
    assert main(["tasks", "show", "memory_pro"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("memory_pro  (kpflow family)")
    assert "source: Hazelden" in out
    assert "X (n, 90, 3)" in out
    assert "response [60, 90)" in out
    assert "memory_steps" in out


def test_tasks_show_states_chance_timing_and_conventions(capsys):
    assert main(["tasks", "show", "fdgo"]) == 0
    out = capsys.readouterr().out
    assert "chance level: 0.2 " in out
    assert "timing: per_trial by default" in out and "timing='per_batch'" in out
    assert "loss mask: squared" in out
    assert "noise_alpha=0.2" in out


def test_tasks_bad_arguments(capsys):
    assert main(["tasks", "show", "no_such_task"]) == 2
    err = capsys.readouterr().err
    assert "unknown task" in err and "no_such_task" in err
    assert main(["tasks", "list", "--family", "nope"]) == 2
    assert "unknown task family" in capsys.readouterr().err
    assert main(["tasks"]) == 2
