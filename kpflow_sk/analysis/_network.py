"""A :class:`~kpflow_sk.analysis.KPDecomposition` of a recurrent network on a batch.

The estimators build their decompositions (``kp_decompose_``, ``decompose``, tracking
snapshots) here: the network's cell and parameters, and ``L(Z)``, the training loss with the
readout fixed.
"""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk.analysis._decomposition import KPDecomposition

__all__ = ["analysis_loss", "network_decomposition"]


def analysis_loss(readout, get_loss, target, weight, seq2seq):
    """``L(Z)``: the training loss as a function of the hidden trajectory (readout fixed).

    Parameters
    ----------
    readout : torch.nn.Linear
        The network's readout ``y_t = W_out z_t + b_out`` (detached here).
    get_loss : callable
        ``get_loss(output, target, weight) -> scalar`` (the estimator's own loss).
    target, weight : Tensor or None
    seq2seq : bool
        Loss at every step (True) or at the last step only (False).

    Returns
    -------
    callable
        ``loss_fn(Z)`` for Z of shape (B, T, H).
    """
    W = readout.weight.detach()
    b = readout.bias.detach()

    def loss_fn(Z):
        y_hat = torch.nn.functional.linear(Z if seq2seq else Z[:, -1], W, b)
        return get_loss(y_hat, target, weight)

    return loss_fn


def network_decomposition(module, get_loss, seq2seq, X3, targets, weight, task_ids, *,
                          device, random_state, n_probes=None, precision="highest"):
    """KPDecomposition of a recurrent network on a batch, with its training loss.

    Parameters
    ----------
    module : RecurrentNetwork
        Has ``cell``, ``cell_params()`` and ``readout``.
    get_loss : callable
        The estimator's loss, ``get_loss(output, target, weight)``.
    seq2seq : bool
    X3 : ndarray of shape (B, T, d)
    targets : ndarray
    weight : ndarray or None
    task_ids : ndarray of shape (B,) or None
    device : torch.device
    random_state : int
        Seed of every randomized measure.
    n_probes : int or None
        Budget of the randomized estimates (None: linalg's default).
    precision : {"highest", "medium"}
        Of the operators' GEMMs (see :class:`KPDecomposition`).

    Returns
    -------
    KPDecomposition
    """
    def tensor(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(device)

    params = {k: v.detach() for k, v in module.cell_params().items()}
    loss_fn = analysis_loss(module.readout, get_loss, tensor(targets), tensor(weight), seq2seq)
    return KPDecomposition(module.cell, params, tensor(X3), loss_fn=loss_fn,
                           task_ids=task_ids, random_state=random_state, n_probes=n_probes,
                           precision=precision)
