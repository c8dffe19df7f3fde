"""Shared pieces of the CLI reliability tests: tiny sizes, an unwritable folder, file snapshots."""

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: memory_pro with 3-step epochs (T = 9): a fit takes about a second
TINY_TASK = ["--task-param", "stimulus_steps=3", "--task-param", "memory_steps=3",
             "--task-param", "response_steps=3"]
TINY_FIT = TINY_TASK + ["--n-samples", "16", "--n-test", "8", "--hidden-size", "8",
                        "--max-iter", "2", "--track-every", "1", "--kp-n-trials", "4",
                        "--spectra-k", "2", "--quiet", "--threads", "1"]
TINY_COMPARE = TINY_TASK + ["--cells", "rnn", "--cv", "2", "--n-samples", "8",
                            "--hidden-size", "4", "--max-iter", "2", "--kp-n-trials", "4",
                            "--kp-probes", "8", "--threads", "1"]


def unwritable_dir():
    """A folder nobody (root included) can create files in: /sys is read-only in containers
    and refuses mkdir with EPERM. Skips the test where it is writable."""
    probe = Path("/sys/kpflow_sk_probe")
    try:
        probe.mkdir()
    except OSError:
        return Path("/sys/kpflow_sk_out")
    shutil.rmtree(probe, ignore_errors=True)
    pytest.skip("no unwritable folder on this machine (/sys is writable)")


def snapshot(folder):
    """``{relative path: bytes}`` of every file under ``folder``."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def child_env():
    """Environment of a child ``python -m kpflow_sk``: this checkout first, one thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in
                                         env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


PYTHON = sys.executable
