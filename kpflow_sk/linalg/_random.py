"""Seeds and probe vectors: every routine draws from one ``torch.Generator`` on the op's device."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["check_generator", "gaussian", "rademacher"]


def check_generator(random_state, device="cpu"):
    """Turn ``random_state`` into a ``torch.Generator`` that draws on ``device``.

    Parameters
    ----------
    random_state : None, int, numpy.random.RandomState, numpy.random.Generator or torch.Generator
        An int seeds a fresh generator (same seed, same probes). None, or a numpy generator,
        draws that seed from numpy (None uses numpy's global state, as scikit-learn does).
        A ``torch.Generator`` on ``device`` is used as is (and advanced); one on another
        device seeds a fresh generator on ``device`` from its stream, so probes are never
        copied between host and device inside a loop.
    device : torch.device or str

    Returns
    -------
    torch.Generator
    """
    device = torch.device(device)
    if isinstance(random_state, torch.Generator):
        if _same_device(random_state.device, device):
            return random_state
        seed = int(torch.randint(0, 2**62, (1,), generator=random_state,
                                 device=random_state.device).item())
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        seed = int(random_state)
    elif random_state is None or isinstance(random_state, np.random.RandomState):
        from sklearn.utils import check_random_state

        seed = int(check_random_state(random_state).randint(0, 2**62, dtype=np.int64))
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(0, 2**62))
    else:
        raise ValueError(
            "random_state must be None, an int, a numpy RandomState/Generator or a "
            f"torch.Generator, got {type(random_state).__name__}")
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def _same_device(a, b):
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type == "cpu":
        return True
    index = lambda d: d.index if d.index is not None else torch.cuda.current_device()  # noqa: E731
    return index(a) == index(b)


def gaussian(shape, generator, dtype, device):
    """Standard normal probes of ``shape``."""
    return torch.randn(shape, generator=generator, dtype=dtype, device=device)


# Entries of the int64 draw behind one chunk of rademacher rows (2 MiB: reused by the
# allocator; 256 MiB chunks were fresh memory each time, twice the time at (460 800, 32)).
_RADEMACHER_CHUNK = 2**18


def rademacher(shape, generator, dtype, device):
    """Random signs (+1 / -1) of ``shape``: the lowest-variance Hutchinson probes.

    ``dtype`` may be a signed integer one (``torch.int8`` keeps the signs in a byte each):
    the same generator gives the same signs whatever the dtype.

    Large draws go by chunks of leading rows (the int64 draw of a whole (n, k) block would be
    twice its float32 size again); on the CPU the values equal those of one draw.
    """
    shape = tuple(shape)
    out = torch.empty(shape, dtype=dtype, device=device)
    rows = max(1, _RADEMACHER_CHUNK // math.prod(shape[1:])) if len(shape) > 1 else None
    for part in (out.split(rows) if rows else (out,)):
        part.copy_(torch.randint(0, 2, part.shape, generator=generator, device=device))
    return out.mul_(2).sub_(1)
