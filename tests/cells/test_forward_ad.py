"""The forward-mode lock: same result as torch.func.jvp, re-entrant, held during jvp."""

import threading

import torch

from kpflow_sk.cells import forward_ad_lock
from kpflow_sk.cells._forward_ad import jvp


def test_locked_jvp_equals_torch_func_jvp():
    x = torch.randn(5, dtype=torch.float64)
    v = torch.randn(5, dtype=torch.float64)
    got = jvp(torch.sin, (x,), (v,))
    ref = torch.func.jvp(torch.sin, (x,), (v,))
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    torch.testing.assert_close(got[1], torch.cos(x) * v)


def test_lock_is_reentrant_and_held_during_jvp():
    seen = []

    def f(z):
        # another thread cannot take the lock while this thread is inside jvp
        t = threading.Thread(target=lambda: seen.append(forward_ad_lock.acquire(timeout=0.05)))
        t.start()
        t.join()
        with forward_ad_lock:       # re-entrant in the same thread: no deadlock
            return z * 2

    x = torch.ones(3)
    out = jvp(f, (x,), (x,))
    assert seen == [False]
    torch.testing.assert_close(out[1], 2 * x)
