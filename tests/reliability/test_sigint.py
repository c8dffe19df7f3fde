"""Fault injection: SIGINT to a child `kpflow-sk fit` / `compare` (and a serial compare())
while it trains. The child exits 130 and writes nothing after the interrupt: no model file,
no report, no records, no half-written scratch files.

These tests do not depend on how ``fit`` treats ``KeyboardInterrupt``: if it swallows it
(keeping the last epoch's weights), the CLI's own SIGINT record still stops the command.
"""

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from _reliability_cli import PYTHON, TINY_TASK, child_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: long enough that the child is surely still training when the signal comes (no plateau
#: stop either)
LONG = ["--max-iter", "100000", "--hidden-size", "16", "--threads", "1",
        "--param", "n_iter_no_change=1000000"]


class Child:
    """A child process whose stdout and stderr are collected by threads."""

    def __init__(self, argv, cwd):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream, sink):
        for chunk in iter(lambda: stream.read(1), ""):
            sink.append(chunk)

    def stdout(self):
        return "".join(self.out)

    def stderr(self):
        return "".join(self.err)

    def wait_for(self, marker, timeout=240):
        deadline = time.monotonic() + timeout
        while marker not in self.stdout():
            if self.proc.poll() is not None:
                raise AssertionError(f"child exited {self.proc.returncode} before {marker!r}:"
                                     f"\n{self.stdout()}\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"no {marker!r} after {timeout} s:\n{self.stderr()}")
            time.sleep(0.1)

    def interrupt(self, timeout=120):
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running {timeout} s after SIGINT:\n{self.stderr()}"
                                 ) from None


def _training_started(child, marker, settle=3.0):
    """The marker is printed just before training; then let a few epochs run."""
    child.wait_for(marker)
    time.sleep(settle)
    assert child.proc.poll() is None, child.stderr()


def test_sigint_fit_exits_130_and_writes_nothing(tmp_path):
    out = tmp_path / "fit"
    child = Child([PYTHON, "-m", "kpflow_sk", "fit", "--task", "memory_pro", "--out", str(out),
                   "--n-samples", "32", "--track-every", "0", "--quiet"] + TINY_TASK + LONG,
                  cwd=tmp_path)
    _training_started(child, "Fitting gru")
    rc = child.interrupt()
    assert "kpflow-sk fit: interrupted" in child.stderr()
    assert rc == 130, child.stderr()
    assert "Model:" not in child.stdout() and "Report:" not in child.stdout()
    # nothing written: --out (checked for writability up front, then removed again) would
    # only be created to write the model and the report
    assert list(tmp_path.iterdir()) == []


def test_sigint_compare_exits_130_and_records_nothing(tmp_path):
    records = tmp_path / "records.json"
    child = Child([PYTHON, "-m", "kpflow_sk", "compare", "--cells", "gru", "--tasks",
                   "memory_pro", "--cv", "2", "--n-samples", "16", "--kp-n-trials", "4",
                   "--out", str(records)] + TINY_TASK + LONG, cwd=tmp_path)
    _training_started(child, "Comparing gru")
    rc = child.interrupt()
    assert rc == 130, child.stderr()
    assert "kpflow-sk compare: interrupted" in child.stderr()
    assert "Held-out R^2" not in child.stdout()
    assert not records.exists()
    assert list(tmp_path.iterdir()) == []


SERIAL_COMPARE = textwrap.dedent("""
    import sys, warnings
    from kpflow_sk.compare import compare
    warnings.simplefilter("ignore")
    print("training", flush=True)
    try:
        recs = compare(["gru", "rnn"], {"memory_pro": dict(stimulus_steps=3, memory_steps=3,
                                                           response_steps=3)},
                       cv=2, n_samples=16, estimator_params=dict(hidden_size=16,
                       max_iter=100000, n_iter_no_change=10**6, kp_n_trials=4,
                       n_threads=1))
    except KeyboardInterrupt:
        print("KeyboardInterrupt: no records", flush=True)
        sys.exit(130)
    print("returned", len(recs), "records", [r["n_iter"] for r in recs], flush=True)
""")


def test_sigint_serial_compare_library_raises_keyboard_interrupt(tmp_path):
    child = Child([PYTHON, "-c", SERIAL_COMPARE], cwd=tmp_path)
    _training_started(child, "training", settle=8.0)  # imports + data, then the first fold
    rc = child.interrupt()
    assert rc == 130, child.stdout() + child.stderr()
    assert "KeyboardInterrupt: no records" in child.stdout()
    assert "returned" not in child.stdout()
