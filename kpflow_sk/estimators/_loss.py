"""Loss-mask conventions of the recurrent estimators (``mask_convention``).

A mask weights the loss per step, shape (n_samples, n_timesteps), or per step and output,
shape (n_samples, n_timesteps, n_outputs) (regressor only: per-channel weights such as Yang et
al.'s doubled fixation output). With ``w = sample_weight * m`` (``m`` the mask) and the
elementwise loss ``l`` (squared error per output, or cross-entropy per step):

- ``"linear"`` (default): the weighted mean ``sum(w l) / sum(w)`` (``w`` broadcast over the
  outputs). The usual meaning of weights (scikit-learn's ``sample_weight``, a 0/1 mask).
- ``"squared"``: the mask multiplies the *error* before squaring, as in Yang et al. 2019, whose
  loss is ``mean(((y - y_hat) * c_mask)^2)`` over all elements: ``sum(sample_weight m^2 l) /
  N`` with ``N`` the number of loss elements (n_samples x n_timesteps x n_outputs). Mask values
  1 and 5 then weigh 1 and 25, a fixation column x2 weighs x4. ``sample_weight`` stays linear.

The two agree (up to the normalisation) for 0/1 masks; "linear" stays the default because it
is what a weight means everywhere else in scikit-learn, and Yang's convention is one
``mask_convention="squared"`` away.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_array

from kpflow_sk.estimators._validation import check_mask

__all__ = ["MASK_CONVENTIONS", "check_loss_mask", "combine_weights", "reduce_loss"]

MASK_CONVENTIONS = ("linear", "squared")


def check_loss_mask(mask, n, T, n_outputs, dtype):
    """Per-step (n, T) or per-step-and-output (n, T, n_outputs) loss weights, or None.

    ``n_outputs`` is None where per-output weights do not apply (classifier, sequence-to-one
    targets); a 2-D mask goes through :func:`~kpflow_sk.estimators._validation.check_mask`.
    Raises ``ValueError`` naming ``mask`` for another shape or negative values.
    """
    if mask is None or n_outputs is None or np.ndim(mask) != 3:
        return check_mask(mask, n, T, dtype)
    mask = check_array(mask, dtype="numeric", ensure_2d=False, allow_nd=True,
                       ensure_min_samples=0, input_name="mask")
    if mask.shape != (n, T, int(n_outputs)):
        raise ValueError(
            f"a per-output mask must have shape (n_samples, n_timesteps, n_outputs) = "
            f"({n}, {T}, {n_outputs}); got shape {mask.shape}")
    if np.any(mask < 0):
        raise ValueError("mask must be non-negative (it weights the per-step loss)")
    return np.require(mask, dtype=dtype, requirements=["C", "W"])


def combine_weights(sw, mask, seq2seq, T, convention="linear"):
    """Loss weights from ``sample_weight`` (n,) and ``mask``; None when both are None.

    Returns (n,) for sequence-to-one targets, else ``sw x m`` (``linear``) or ``sw x m^2``
    (``squared``), of the mask's shape ((n, T) or (n, T, n_outputs)).
    """
    if convention not in MASK_CONVENTIONS:
        raise ValueError(f"mask_convention must be one of {list(MASK_CONVENTIONS)}; got "
                         f"{convention!r}")
    if mask is None and sw is None:
        return None
    if not seq2seq:
        return sw
    if mask is None:
        return np.ascontiguousarray(np.repeat(sw[:, None], T, axis=1))
    if convention == "squared":
        mask = mask * mask
    if sw is None:
        return mask
    return np.ascontiguousarray(sw.reshape((-1,) + (1,) * (mask.ndim - 1)) * mask)


def reduce_loss(elementwise, weight, convention="linear"):
    """Reduce an elementwise loss with the weights of :func:`combine_weights`.

    Parameters
    ----------
    elementwise : Tensor of shape (B,), (B, T) or (B, T, O)
    weight : Tensor of shape (B,), (B, T) or (B, T, O), or None
        Broadcast over trailing output axes of ``elementwise``.
    convention : {"linear", "squared"}

    Returns
    -------
    loss : scalar Tensor
        ``sum(w l) / sum(w)`` (linear) or ``sum(w l) / numel(l)`` (squared); the plain mean
        without weights.
    """
    if weight is None:
        return elementwise.mean()
    tiny = torch.finfo(elementwise.dtype).tiny
    if weight.dim() == elementwise.dim() - 1:
        # per-step weights of a per-output loss: sum over the outputs first (the estimators'
        # original arithmetic, kept so that fits reproduce bit for bit)
        total = (elementwise.sum(-1) * weight).sum()
        if convention == "squared":
            return total / elementwise.numel()
        return total / (weight.sum() * elementwise.shape[-1]).clamp_min(tiny)
    total = (elementwise * weight).sum()
    if convention == "squared":
        return total / elementwise.numel()
    return total / weight.sum().clamp_min(tiny)
