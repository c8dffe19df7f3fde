"""Inference of a recurrent estimator: the forward pass to where the loss lives (``infer``),
chunked evaluation on NumPy inputs, ``transform`` (the hidden trajectories) and ``score``."""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk.estimators._device import torch_threads
from kpflow_sk.estimators._validation import check_finite_output

__all__ = ["InferenceMixin", "PREDICT_CHUNK"]

#: samples per forward pass at predict time (bounds memory; results do not depend on it)
PREDICT_CHUNK = 4096


class InferenceMixin:
    """``infer``, ``transform`` and the chunked forward pass (mixed into
    ``BaseRecurrentEstimator``)."""

    def infer(self, X):
        """Forward pass to where the loss lives.

        Parameters
        ----------
        X : Tensor of shape (B, T, D)

        Returns
        -------
        output : Tensor of shape (B, T, n_outputs) (sequence-to-sequence) or (B, n_outputs)
            (sequence-to-one: the readout at the last step).
        Z : Tensor of shape (B, T, H)
        """
        Z = self.module_.hidden(X)
        if self._seq2seq:
            return self.module_.readout(Z), Z
        return self.module_.readout(Z[:, -1]), Z

    @torch.no_grad()
    def _forward_numpy(self, X3, what):
        """Run the network on ``X3`` in chunks; ``what`` is "output" or "hidden"."""
        module = self.module_
        module.eval()
        outs = []
        with torch_threads(self.n_threads):
            for start in range(0, X3.shape[0], PREDICT_CHUNK):
                Xb = self._to_tensor(np.ascontiguousarray(X3[start:start + PREDICT_CHUNK]))
                if what == "hidden":
                    r = module.hidden(Xb)
                else:
                    r, _ = self.infer(Xb)
                outs.append(r.to("cpu").numpy())  # the estimator's dtype
        out = np.concatenate(outs, axis=0)
        check_finite_output(out, X3, "hidden states" if what == "hidden" else "output")
        return out

    def transform(self, X):
        """Hidden trajectories.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_timesteps, hidden_size), of the estimator's dtype
            ``Z[:, t-1] = z_t`` (n_timesteps is 1 for 2-D X).
        """
        X3 = self._check_X_predict(X)
        return self._forward_numpy(X3, "hidden")

    def _score(self, X, y, sample_weight, mask):
        """``score`` of the subclasses: their ``_score_arrays`` (R^2, accuracy) on inputs
        checked by the one input check of fit (``_check_fit_inputs(..., scoring=True)``)."""
        X3, target, weight, _, _ = self._check_fit_inputs(X, y, None, sample_weight, mask,
                                                          reset=False, scoring=True)
        return self._score_arrays(X3, target, weight)

    def set_output(self, *, transform=None):
        """Accepted so that ``Pipeline.set_output`` works with these estimators last; the
        hidden states of :meth:`transform` are 3-D and stay an ndarray (a DataFrame cannot
        hold them), so the setting changes nothing here. Returns self."""
        return self
