"""The optimizer registry (estimators/_optimizers.py)."""

import math

import pytest
import torch
from _helpers import seq_data

from kpflow_sk.cells import get_cell
from kpflow_sk.estimators import OPTIMIZERS, RecurrentRegressor
from kpflow_sk.estimators._validation import check_network_size


def test_registry_is_what_the_parameter_accepts():
    options = RecurrentRegressor._parameter_constraints["optimizer"][0].options
    assert options == set(OPTIMIZERS)
    for spec in OPTIMIZERS.values():
        assert issubclass(spec.cls, torch.optim.Optimizer)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fit_builds_the_registered_optimizer(name):
    X, y = seq_data(n=8, T=3)
    est = RecurrentRegressor(hidden_size=4, max_iter=2, optimizer=name, learning_rate=3e-3,
                             weight_decay=1e-4, random_state=0).fit(X, y)
    opt = est._optimizer
    assert type(opt) is OPTIMIZERS[name].cls
    group = opt.param_groups[0]
    assert group["lr"] == 3e-3 and group["weight_decay"] == 1e-4
    n_module = sum(p.numel() for p in est.module_.parameters())
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == n_module


def test_memory_check_counts_the_registered_optimizer_state():
    cell = get_cell("gru", 2, 32)
    n_params = sum(math.prod(s) for s in cell.parameter_shapes().values()) + 32 * 3 + 3
    hidden = 16 * 10 * 32
    for name, spec in OPTIMIZERS.items():
        need = (n_params * (2 + spec.n_state) + hidden) * 4     # float32 bytes
        check_network_size(cell, 3, 16, 10, torch.float32, "cpu", optimizer=name,
                           memory=need)
        with pytest.raises(ValueError, match="hidden_size=32 needs at least"):
            check_network_size(cell, 3, 16, 10, torch.float32, "cpu", optimizer=name,
                               memory=need - 1)
