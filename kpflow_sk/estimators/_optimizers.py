"""The optimizers an estimator's ``optimizer`` parameter names: a registry, not an if/else.

>>> from kpflow_sk.estimators import OPTIMIZERS
>>> sorted(OPTIMIZERS)
['adam', 'sgd']
>>> OPTIMIZERS["adam"].cls.__name__
'Adam'
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["OPTIMIZERS", "OptimizerSpec", "build_optimizer"]


class OptimizerSpec(NamedTuple):
    """One registered optimizer.

    Attributes
    ----------
    cls : type
        A ``torch.optim.Optimizer`` subclass taking ``lr`` and ``weight_decay``.
    defaults : dict
        Further keyword arguments of ``cls`` (the estimator sets ``lr`` and
        ``weight_decay`` from ``learning_rate`` and ``weight_decay``).
    n_state : int
        Tensors of optimizer state per parameter tensor (Adam: two moments); the memory
        check before fit counts them.
    """

    cls: type
    defaults: dict
    n_state: int


#: name -> :class:`OptimizerSpec`
OPTIMIZERS = {
    "adam": OptimizerSpec(torch.optim.Adam, {}, 2),
    "sgd": OptimizerSpec(torch.optim.SGD, {}, 0),
}


def build_optimizer(name, params, *, learning_rate, weight_decay):
    """The registered optimizer ``name`` over ``params``.

    Parameters
    ----------
    name : str
        A key of :data:`OPTIMIZERS`.
    params : iterable of Tensor
    learning_rate, weight_decay : float

    Returns
    -------
    torch.optim.Optimizer
    """
    spec = OPTIMIZERS[name]
    return spec.cls(params, lr=learning_rate, weight_decay=weight_decay, **spec.defaults)
