"""Functional recurrent cells ``z_t = F(z_{t-1}, x_t; theta)`` and their registry.

>>> from kpflow_sk.cells import get_cell, CELLS
>>> sorted(CELLS)
['gru', 'leaky_rnn', 'node', 'rnn']
>>> get_cell("gru", input_size=3, hidden_size=8)
GRUCell(input_size=3, hidden_size=8)
"""

from __future__ import annotations

import inspect

from kpflow_sk.cells._base import AffineCell, Cell
from kpflow_sk.cells._forward_ad import forward_ad_lock
from kpflow_sk.cells._gru import GRUCell
from kpflow_sk.cells._leaky_rnn import LeakyRNNCell
from kpflow_sk.cells._linearization import (
    AutodiffLinearization,
    FactoredLinearization,
    StateLinearization,
)
from kpflow_sk.cells._materialized import MaterializedLinearization
from kpflow_sk.cells._node import ODE_SOLVERS, NeuralODECell
from kpflow_sk.cells._nonlinearity import NONLINEARITIES, get_nonlinearity
from kpflow_sk.cells._parameter_linearization import (
    AffineMap,
    AffineParameterLinearization,
    AutodiffParameterLinearization,
    ParameterLinearization,
)
from kpflow_sk.cells._rnn import RNNCell
from kpflow_sk.cells._rollout import rollout

__all__ = [
    "CELLS", "Cell", "RNNCell", "LeakyRNNCell", "GRUCell", "NeuralODECell", "get_cell",
    "rollout", "ODE_SOLVERS", "StateLinearization", "AutodiffLinearization",
    "FactoredLinearization",
    "MaterializedLinearization", "NONLINEARITIES", "get_nonlinearity", "AffineCell", "AffineMap",
    "ParameterLinearization", "AutodiffParameterLinearization", "AffineParameterLinearization",
    "forward_ad_lock",
]

#: registry of built-in cells
CELLS = {c.name: c for c in (RNNCell, LeakyRNNCell, GRUCell, NeuralODECell)}


def get_cell(cell, input_size, hidden_size, **options):
    """Build a cell from a registry name, a ``Cell`` subclass, or return an instance as is.

    Options a cell's constructor does not take are dropped (so one estimator can pass
    ``alpha`` or ODE options to every cell); unknown names raise ``ValueError``.

    Parameters
    ----------
    cell : str, Cell subclass or Cell instance
    input_size, hidden_size : int
    **options
        Constructor options (``nonlinearity``, ``alpha``, ``dt``, ``solver``, ...).

    Returns
    -------
    Cell
    """
    if isinstance(cell, Cell):
        return cell
    if isinstance(cell, str):
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; valid choices: {sorted(CELLS)} or a "
                             "Cell subclass")
        cls = CELLS[cell]
    elif inspect.isclass(cell) and issubclass(cell, Cell):
        cls = cell
    else:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, a Cell subclass or a Cell "
                         f"instance, got {cell!r}")
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    return cls(input_size, hidden_size, **kwargs)
