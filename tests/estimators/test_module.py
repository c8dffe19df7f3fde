"""The trainable network: the fused kernel and the functional cell compute the same map."""

import numpy as np
import pytest
import torch
from _helpers import seq_data

from kpflow_sk.cells import get_cell, rollout
from kpflow_sk.estimators import (
    FusedRecurrentNetwork,
    RecurrentRegressor,
    UnrolledRecurrentNetwork,
)
from kpflow_sk.estimators._module import build_network


@pytest.mark.parametrize("name, options", [("gru", {}), ("rnn", {"nonlinearity": "tanh"}),
                                           ("rnn", {"nonlinearity": "relu"})])
def test_fused_kernel_matches_functional_cell(name, options):
    cell = get_cell(name, 3, 5, **options)
    net = build_network(cell, 2, generator=torch.Generator().manual_seed(0), init_scale=1.5,
                        dtype=torch.float64)
    assert isinstance(net, FusedRecurrentNetwork)
    X = torch.randn(4, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y_hat, Z = net(X)
    Z_ref, _ = rollout(cell, net.cell_params(), X)
    torch.testing.assert_close(Z, Z_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(y_hat, Z_ref @ net.readout.weight.T + net.readout.bias,
                               rtol=0, atol=1e-12)


def test_fused_params_share_storage_with_kernel():
    net = build_network(get_cell("gru", 2, 3), 1, generator=torch.Generator().manual_seed(0))
    p = net.cell_params()
    assert p["weight_hh"].data_ptr() == net.rnn.weight_hh_l0.data_ptr()
    assert p["bias_ih"].data_ptr() == net.rnn.bias_ih_l0.data_ptr()


@pytest.mark.parametrize("name, options", [
    ("leaky_rnn", {"alpha": 0.3}), ("node", {"solver": "rk4", "step_size": 0.5}),
    ("node", {"solver": "dopri5", "rtol": 1e-5, "atol": 1e-7})])
def test_unrolled_network_matches_rollout(name, options):
    cell = get_cell(name, 3, 4, **options)
    net = build_network(cell, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert isinstance(net, UnrolledRecurrentNetwork)
    X = torch.randn(3, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _, Z = net(X)
    Z_ref, _ = rollout(cell, net.cell_params(), X)
    torch.testing.assert_close(Z, Z_ref, rtol=0, atol=1e-12)


def test_same_seed_same_weights_fused_and_unrolled():
    """The initial theta depends on the seed only, not on the kernel used for training."""
    cell = get_cell("gru", 2, 3)
    fused = build_network(cell, 1, generator=torch.Generator().manual_seed(3))
    unrolled = build_network(cell, 1, generator=torch.Generator().manual_seed(3), fused=False)
    for k, v in fused.cell_params().items():
        assert torch.equal(v, unrolled.cell_params()[k])
    assert torch.equal(fused.readout.weight, unrolled.readout.weight)


@pytest.mark.parametrize("cell, kind", [("gru", FusedRecurrentNetwork),
                                        ("rnn", FusedRecurrentNetwork),
                                        ("leaky_rnn", UnrolledRecurrentNetwork)])
def test_estimator_module_and_transform(cell, kind):
    X, y = seq_data(n=8, T=5)
    est = RecurrentRegressor(cell=cell, hidden_size=4, max_iter=2, random_state=0,
                             dtype="float64", device="cpu").fit(X, y)
    assert isinstance(est.module_, kind)
    y_hat, Z = est.module_(torch.from_numpy(X))
    assert y_hat.shape == (8, 5, 1) and Z.shape == (8, 5, 4)
    np.testing.assert_allclose(est.transform(X), Z.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.predict(X), y_hat.detach().numpy(), rtol=0, atol=1e-12)
    # the trained fused kernel and the functional cell still agree
    Z_ref, _ = rollout(est.module_.cell, est.module_.cell_params(), torch.from_numpy(X))
    torch.testing.assert_close(Z, Z_ref, rtol=0, atol=1e-12)


def test_adjoint_checkpointing_gives_the_same_gradient():
    """adjoint=True recomputes the solver stages in backward: same training, bit for bit
    up to float64 rounding."""
    X, y = seq_data(n=6, T=4)
    kw = dict(cell="node", ode_solver="rk4", ode_step_size=0.5, hidden_size=3, max_iter=3,
              random_state=0, dtype="float64", device="cpu")
    a = RecurrentRegressor(adjoint=False, **kw).fit(X, y)
    b = RecurrentRegressor(adjoint=True, **kw).fit(X, y)
    assert b.module_.checkpoint_steps
    for k, v in a.module_.state_dict().items():
        torch.testing.assert_close(b.module_.state_dict()[k], v, rtol=0, atol=1e-12)


def test_fit_does_not_touch_global_rng():
    X, y = seq_data(n=6, T=3)
    state = torch.random.get_rng_state()
    RecurrentRegressor(hidden_size=3, max_iter=2, random_state=0).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
