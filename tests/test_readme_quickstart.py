"""The README Quickstart runs as written and trains: >= 0.9 held-out accuracy per task.

The full-size run is marked slow (``make test-all``; about a minute on one core); ``make test``
runs the same code at a smaller size and checks that it prints one score per task.
"""

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TASKS = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]


def quickstart_code():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart"):]
    section = section[:section.index("\n## ", 4)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README Quickstart has no python block"
    return blocks[0]


def run(code):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, str(README), "exec"), {"__name__": "__quickstart__"})
    text = out.getvalue()
    scores = {m[1]: float(m[2]) for m in re.finditer(
        r"^(\w+)\s+held-out accuracy ([0-9.]+)$", text, flags=re.M)}
    return text, {name: scores[name] for name in scores}, text


def test_quickstart_passes_the_mask_and_prints_heldout_scores():
    code = quickstart_code()
    assert "mask=train.mask" in code and "score_task" in code
    small = (code.replace("tasks, 512,", "tasks, 32,").replace("tasks, 200,", "tasks, 16,")
             .replace("hidden_size=64", "hidden_size=8").replace("max_iter=30", "max_iter=2")
             .replace("kp_track_every=30", "kp_track_every=1"))
    assert small != code
    text, scores, _ = run(small)
    assert sorted(scores) == sorted(TASKS)
    assert all(0.0 <= v <= 1.0 for v in scores.values())


@pytest.mark.slow
def test_quickstart_trains_every_task_to_090():
    _, scores, text = run(quickstart_code())
    assert sorted(scores) == sorted(TASKS), text
    assert min(scores.values()) >= 0.9, scores
