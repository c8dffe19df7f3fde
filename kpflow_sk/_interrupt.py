"""Ctrl-C (SIGINT) that is not lost: remember that it came, even if a callee swallows the
``KeyboardInterrupt`` it raised.

``fit`` may catch ``KeyboardInterrupt`` to keep the last completed epoch's weights. A caller
that must stop then (the CLI, a serial ``compare``) wraps its work in :func:`record_sigint`
and calls :meth:`SigintRecord.check` after such a call: it re-raises the interrupt that was
swallowed. Hand-written (a few lines over :mod:`signal`): no library offers a "was I
interrupted" flag that survives a swallowed exception.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["SigintRecord", "record_sigint"]


class SigintRecord:
    """Whether a SIGINT arrived inside a :func:`record_sigint` block."""

    def __init__(self):
        self._event = threading.Event()

    def is_set(self):
        return self._event.is_set()

    def check(self, what="the command"):
        """Raise ``KeyboardInterrupt`` if a SIGINT arrived (whoever caught the first one)."""
        if self._event.is_set():
            raise KeyboardInterrupt(f"{what} was interrupted (SIGINT)")


@contextmanager
def record_sigint():
    """Record SIGINTs while the block runs; each still raises ``KeyboardInterrupt`` as usual.

    Outside the main thread (where signal handlers cannot be set) or when SIGINT is ignored,
    nothing changes and the record stays unset. The previous handler is chained (so nested
    records all see the signal) and restored on exit.

    Yields
    ------
    SigintRecord
    """
    record = SigintRecord()
    if threading.current_thread() is not threading.main_thread():
        yield record
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN / SIG_DFL / a handler set from C: leave it alone
        yield record
        return

    def handler(signum, frame):
        record._event.set()
        previous(signum, frame)  # default_int_handler (or an outer record) raises

    signal.signal(signal.SIGINT, handler)
    try:
        yield record
    finally:
        signal.signal(signal.SIGINT, previous)
