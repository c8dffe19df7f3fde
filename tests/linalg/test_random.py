"""check_generator: every accepted random_state, and determinism."""

import numpy as np
import pytest
import torch

from kpflow_sk.linalg import check_generator, hutchpp_trace


def _draw(gen):
    return torch.randn(5, generator=gen, device=gen.device)


def test_int_seed_is_deterministic():
    torch.testing.assert_close(_draw(check_generator(3)), _draw(check_generator(3)))
    assert not torch.equal(_draw(check_generator(3)), _draw(check_generator(4)))


def test_numpy_states_and_none():
    a = _draw(check_generator(np.random.RandomState(0)))
    b = _draw(check_generator(np.random.RandomState(0)))
    torch.testing.assert_close(a, b)
    c = _draw(check_generator(np.random.default_rng(0)))
    d = _draw(check_generator(np.random.default_rng(0)))
    torch.testing.assert_close(c, d)
    np.random.seed(5)
    e = _draw(check_generator(None))
    np.random.seed(5)
    torch.testing.assert_close(e, _draw(check_generator(None)))


def test_torch_generator_used_as_is_on_its_device():
    gen = torch.Generator().manual_seed(0)
    assert check_generator(gen, "cpu") is gen


@pytest.mark.parametrize("bad", [-1, 1.5, "seed", True])
def test_bad_random_state(bad):
    with pytest.raises(ValueError, match="random_state"):
        check_generator(bad)


def test_estimates_are_seed_deterministic():
    G = torch.diag(torch.linspace(0.1, 1.0, 80, dtype=torch.float64))
    a = hutchpp_trace(G, 20, random_state=11)
    b = hutchpp_trace(G, 20, random_state=11)
    c = hutchpp_trace(G, 20, random_state=12)
    assert a == b and a.value != c.value


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_generator_seeds_a_device_generator():
    gen = check_generator(torch.Generator().manual_seed(0), "cuda")
    assert gen.device.type == "cuda"
