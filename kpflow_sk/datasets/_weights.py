"""Per-output loss masks from a Bunch (``mask`` times the task's ``channel_weights``)."""

from __future__ import annotations

import numpy as np

__all__ = ["loss_mask"]


def loss_mask(bunch):
    """The loss weights of every (trial, step, output): ``mask`` times ``channel_weights``.

    Yang et al.'s cost mask is per (step, trial, channel), with the fixation column doubled;
    this package stores it as ``mask`` (n, T) and ``meta["channel_weights"]`` (n, d_out of the
    task). Pass the result as the estimator's ``mask`` with ``mask_convention="squared"`` to
    train on Yang's loss.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        From :func:`make_task` or :func:`make_multitask`. Trials of tasks without
        ``channel_weights`` get weight 1 on every output.

    Returns
    -------
    mask : ndarray of shape (n_samples, n_timesteps, n_outputs), float32
    """
    n, T, d = bunch.y.shape
    weights = np.ones((n, d), dtype=np.float32)
    channel = bunch.meta.get("channel_weights")
    if channel is not None:
        for k, name in enumerate(bunch.task_names):
            rows = np.flatnonzero(np.asarray(bunch.task_ids) == k)
            keys = bunch.layout[name].get("meta", list(bunch.meta))
            if rows.size == 0 or "channel_weights" not in keys:
                continue
            c0, c1 = bunch.layout[name]["output"]
            weights[rows, c0:c1] = np.asarray(channel[rows], dtype=np.float32)
    return np.asarray(bunch.mask, dtype=np.float32)[:, :, None] * weights[:, None, :]
