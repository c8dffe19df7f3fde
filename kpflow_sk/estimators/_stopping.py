"""Why and how training stops: divergence, a plateau with a poor fit, an interrupt.

- divergence -- a non-finite loss or weights, or an epoch loss above
  :data:`DIVERGENCE_FACTOR` times the lowest loss of this call (and above the loss at its
  start): the best weights are restored, the optimizer state is reset and a
  :class:`DivergenceWarning` names the epoch. When even the restored weights give non-finite
  hidden states or loss, the data or the cell are at fault and ``ValueError`` says which;
- plateau -- ``n_iter_no_change`` epochs without improvement; with a poor fit (see
  :data:`POOR_FIT_THRESHOLD`) a :class:`PlateauWarning`;
- ``KeyboardInterrupt`` -- the weights and optimizer state of the last completed epoch are
  kept, the fitted attributes stay consistent, and the interrupt is re-raised.

``stop_reason_`` takes one of :data:`STOP_REASONS`.
"""

from __future__ import annotations

import math
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk.estimators._inference import PREDICT_CHUNK
from kpflow_sk.estimators._validation import describe_cell

__all__ = ["StoppingMixin", "DivergenceWarning", "PlateauWarning", "DIVERGENCE_FACTOR",
           "POOR_FIT_THRESHOLD", "STOP_REASONS"]

#: an epoch loss this many times the lowest loss of the call (and above the call's starting
#: loss) is divergence: no healthy run gets 1000x worse than its best and its start
DIVERGENCE_FACTOR = 1e3
#: a plateau stop warns when the training loss removed less than this fraction of the loss
#: of the best constant prediction (squared error: the per-output mean target; with one
#: output this is a training R^2 below 0.5)
POOR_FIT_THRESHOLD = 0.5
STOP_REASONS = ("max_iter", "plateau", "callback", "diverged", "interrupted", "partial_fit")


class DivergenceWarning(ConvergenceWarning):
    """Training diverged; the best weights were restored."""


class PlateauWarning(ConvergenceWarning):
    """Training stopped on a loss plateau while the fit is still poor."""


class StoppingMixin:
    """Divergence, plateau and interrupt handling (mixed into ``BaseRecurrentEstimator``)."""

    def baseline_loss(self, target, weight):
        """The training loss of the best constant prediction (the plateau-warning yardstick).

        Squared error: the weighted mean target per output. Cross-entropy (integer targets):
        the logits of the weighted class frequencies.

        Returns
        -------
        float
        """
        t = torch.as_tensor(target)
        w = None if weight is None else torch.as_tensor(weight, dtype=torch.float64)
        wf = torch.ones(t.shape[:2] if self._seq2seq else t.shape[:1], dtype=torch.float64) \
            if w is None else w
        with torch.no_grad():
            if t.dtype in (torch.int64, torch.int32):
                C = int(self.n_outputs_)
                counts = torch.zeros(C, dtype=torch.float64).index_add_(
                    0, t.reshape(-1), wf.reshape(-1))
                logits = torch.log(counts / counts.sum()).clamp_min(-1e4)
                out = logits.expand(*t.shape, C)
            else:
                t = t.to(torch.float64)
                ww = wf.reshape(*wf.shape, *([1] * (t.ndim - wf.ndim)))
                axes = tuple(range(t.ndim - 1))
                mean = (t * ww).sum(axes) / ww.expand_as(t).sum(axes).clamp_min(1e-300)
                out = mean.expand_as(t)
            return float(self.get_loss(out, t, w))

    def _divergence(self, loss, weights_ok, best, initial):
        """``(reason, rankable)``: why this epoch diverged (a short phrase, or None), and
        whether its loss may rank the weights it started from."""
        if not math.isfinite(loss):
            return f"non-finite training loss ({loss})", False
        eps = float(torch.finfo(self._torch_dtype()).eps)
        ref = max(min(best, initial if math.isfinite(initial) else best), eps)
        if loss > DIVERGENCE_FACTOR * ref and loss > initial:
            return (f"training loss {loss:.4g} is more than {DIVERGENCE_FACTOR:g} times the "
                    f"lowest loss of this fit ({ref:.4g})"), False
        if not weights_ok:
            return "non-finite weights after the epoch's last step", True
        return None, True

    def _on_divergence(self, epoch, reason, run, Xt, yt, wt):
        """Restore the best weights of ``run`` (a ``TrainingRun``), reset the optimizer,
        diagnose, warn."""
        if run.best_start is None:      # the call's first epoch: its start
            run.best_start, run.best_epoch, run.best_loss = run.last_good[0], epoch, run.initial
        best_val_state, best_loss, best_epoch = run.best_val_state, run.best_loss, run.best_epoch
        run.best_val_state = None
        module = self.module_
        module.load_state_dict(best_val_state if best_val_state is not None else run.best_start)
        self._kp_cache = {}
        # the optimizer's state (Adam's moments) was built up by the diverging steps: a
        # fresh one, at the current learning_rate, is made on the next fit / partial_fit
        self._optimizer = None
        self.stop_reason_ = "diverged"
        self._diagnose_non_finite(Xt, yt, wt)
        if best_val_state is not None:
            which = (f"the weights of the best validation score "
                     f"({self.best_validation_score_:.4g})")
        elif math.isfinite(best_loss):
            which = (f"the weights at the start of epoch {best_epoch}, on which the lowest "
                     f"training loss of this fit ({best_loss:.4g}) was measured,")
        else:
            which = f"the weights at the start of epoch {best_epoch}"
        warnings.warn(
            f"Training diverged at epoch {epoch}: {reason}. Training stopped; {which} were "
            f"restored and the optimizer state was reset (stop_reason_='diverged'). Lower "
            f"learning_rate (now {self.learning_rate:g}) or set grad_clip.",
            DivergenceWarning, stacklevel=6)

    def _diagnose_non_finite(self, Xt, yt, wt):
        """``ValueError`` when the restored weights still give non-finite hidden states or
        loss: then the data or the cell are at fault, not the optimisation."""
        module = self.module_
        cell = describe_cell(module.cell)
        bad_z = bad_loss = 0
        first_t = None
        omax = 0.0
        with torch.no_grad():
            for start in range(0, Xt.shape[0], PREDICT_CHUNK):
                sl = slice(start, start + PREDICT_CHUNK)
                Z = module.hidden(Xt[sl])
                bad = ~torch.isfinite(Z).all(-1)                 # (B, T)
                if bool(bad.any()):
                    bad_z += int(bad.any(1).sum())
                    t = int(bad.any(0).nonzero()[0])
                    first_t = t if first_t is None else min(first_t, t)
                    continue
                out = module.readout(Z if self._seq2seq else Z[:, -1])
                omax = max(omax, float(out.abs().max()))
                w = None if wt is None else wt[sl]
                if not bool(torch.isfinite(self.get_loss(out, yt[sl], w))):
                    bad_loss += 1
        xmax = float(Xt.abs().max()) if Xt.numel() else 0.0
        if bad_z:
            raise ValueError(
                f"The cell {cell} returned non-finite hidden states (NaN or inf) from finite "
                f"inputs: {bad_z} of {Xt.shape[0]} training trials, first at time step "
                f"{first_t}, with the restored weights. Check the cell's step() or the scale "
                f"of X (largest |X| = {xmax:.3g}, dtype={self.dtype!r}).")
        if bad_loss:
            ymax = float(yt.abs().max()) if yt.is_floating_point() else float("nan")
            raise ValueError(
                f"The training loss overflows dtype={self.dtype!r} although the network's "
                f"outputs are finite: largest |output| = {omax:.3g} (largest |X| = "
                f"{xmax:.3g}), largest |y| = {ymax:.3g}. Rescale X or y, or use "
                "dtype='float64'.")

    def _on_interrupt(self, exc, last_good):
        """Keep the last completed epoch: weights, optimizer state, fitted attributes."""
        self.module_.load_state_dict(last_good[0])
        self._kp_cache = {}
        if self._optimizer is not None:
            self._optimizer.load_state_dict(last_good[1])
        self.module_.eval()
        self.stop_reason_ = "interrupted"
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(
                f"{type(self).__name__}: training interrupted during epoch {self.n_iter_ + 1}; "
                f"the estimator keeps the weights of epoch {self.n_iter_}, the last completed "
                "one (stop_reason_='interrupted').")

    def _check_plateau(self, yt, wt, on_validation):
        """Warn when a plateau stop leaves a poor fit (see :data:`POOR_FIT_THRESHOLD`)."""
        base = self.baseline_loss(yt.cpu(), None if wt is None else wt.cpu())
        best = float(self.best_loss_)
        if not (base > 0 and math.isfinite(base)):
            return
        explained = 1.0 - best / base
        if explained >= POOR_FIT_THRESHOLD:
            return
        what = ("validation score" if on_validation else "training loss")
        warnings.warn(
            f"Training stopped at epoch {self.n_iter_} of max_iter={self.max_iter} on a plateau "
            f"of the {what} (n_iter_no_change={self.n_iter_no_change} epochs without an "
            f"improvement of tol={self.tol:g}; stop_reason_='plateau'), but the fit is poor: "
            f"the best training loss {best:.4g} is {best / base:.0%} of the loss of a "
            f"constant prediction ({base:.4g}): it removed only {explained:.3f} < "
            f"{POOR_FIT_THRESHOLD} of that loss. Try a larger learning_rate, n_iter_no_change "
            "or a smaller tol.", PlateauWarning, stacklevel=6)
