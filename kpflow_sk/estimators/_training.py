"""The training loop of the recurrent estimators, in small overridable steps (skorch's manner).

``_train_epochs`` (called by ``fit`` / ``partial_fit``) runs epochs until a stop reason:

- ``run_epoch`` — one pass over the training data in shuffled mini-batches, one
  ``train_step`` (defined on the estimator) per batch;
- divergence check — a non-finite loss or weights, or an epoch loss above
  :data:`DIVERGENCE_FACTOR` times the lowest loss of this call (and above the loss at its
  start): the best weights are restored, the optimizer state is reset and a
  :class:`DivergenceWarning` names the epoch. When even the restored weights give non-finite
  hidden states or loss, the data or the cell are at fault and ``ValueError`` says which;
- bookkeeping — ``n_iter_``, ``t_``, ``loss_curve_``, ``validation_scores_``, one
  ``history_`` record (:mod:`~kpflow_sk.estimators._history`), KPFlow tracking;
- ``on_epoch_end`` — the user's callbacks (:mod:`~kpflow_sk.estimators._callbacks`).

``stop_reason_`` says why training ended: ``"max_iter"``, ``"plateau"`` (``n_iter_no_change``
epochs without improvement), ``"callback"``, ``"diverged"``, ``"interrupted"`` or
``"partial_fit"`` (one epoch done). A plateau stop with a poor fit warns
(:class:`PlateauWarning`). ``KeyboardInterrupt`` restores the weights and optimizer state of
the last completed epoch, sets the fitted attributes consistently and is re-raised.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk.estimators._callbacks import StopTraining, check_callbacks
from kpflow_sk.estimators._history import epoch_record
from kpflow_sk.estimators._validation import NonFiniteOutputError, describe_cell

__all__ = ["TrainingLoopMixin", "DivergenceWarning", "PlateauWarning", "DIVERGENCE_FACTOR",
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


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class TrainingLoopMixin:
    """The epoch loop; mixed into :class:`~kpflow_sk.estimators.BaseRecurrentEstimator`."""

    #: the ``callbacks`` parameter's default, for estimators restored (zoo, pickle) from a
    #: state written before the parameter existed; ``__init__`` always sets it
    callbacks = None

    # ------------------------------------------------------------------ overridable steps
    def run_epoch(self, X, target, weight, generator):
        """One pass over the training tensors in mini-batches shuffled by ``generator``.

        Parameters
        ----------
        X : Tensor of shape (n, T, D)
        target : Tensor
        weight : Tensor of shape (n,) or (n, T), or None
        generator : torch.Generator
            The estimator's seeded shuffling stream.

        Returns
        -------
        epoch_loss : Tensor (scalar)
            Weighted mean of the batch losses (on the device: no host sync per batch).
        first_loss : Tensor (scalar)
            The first batch's loss (the loss at the weights the epoch started from).
        """
        n = X.shape[0]
        bs = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        perm = torch.randperm(n, generator=generator).to(X.device)
        total, denom, first = 0.0, 0.0, None
        for start in range(0, n, bs):
            b = perm[start:start + bs]
            wb = None if weight is None else weight[b]
            loss = self.train_step(X[b], target[b], wb)
            if first is None:
                first = loss
            bw = len(b) if wb is None else wb.sum()
            total = total + loss * bw
            denom = denom + bw
        if not torch.is_tensor(denom):
            denom = torch.tensor(float(denom), dtype=loss.dtype, device=loss.device)
        return total / denom.clamp_min(1e-300), first

    def on_epoch_end(self, record):
        """Call the callbacks with this epoch's ``history_`` record; True means stop."""
        stop = False
        for cb in check_callbacks(getattr(self, "callbacks", None)):
            try:
                stop = bool(cb.on_epoch_end(self, record)) or stop
            except StopTraining:
                stop = True
        return stop

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

    # ------------------------------------------------------------------ the loop
    def _train_epochs(self, X3, targets, weight, train_idx, val_idx, shuffle_seed, incremental):
        """Train for ``max_iter`` epochs (one with ``incremental``) or until a stop reason."""
        callbacks = check_callbacks(getattr(self, "callbacks", None))
        module = self.module_
        Xt = self._to_tensor(np.ascontiguousarray(X3[train_idx]))
        yt = self._to_tensor(np.ascontiguousarray(targets[train_idx]))
        wt = None if weight is None else self._to_tensor(np.ascontiguousarray(weight[train_idx]))
        val = None
        if val_idx is not None:
            val = (X3[val_idx], targets[val_idx], None if weight is None else weight[val_idx])
        self._sync_optimizer()
        opt = self._optimizer
        n = Xt.shape[0]
        gen = torch.Generator().manual_seed(shuffle_seed)
        n_epochs = 1 if incremental else self.max_iter
        if not hasattr(self, "history_"):
            self.history_ = []
        pbar = None
        if self.verbose:
            from tqdm.auto import tqdm

            pbar = tqdm(total=n_epochs, desc=type(self).__name__, leave=True)
        for cb in callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(self)
        # last_good: weights (and optimizer state) at the end of the last completed epoch,
        # which is also the start of the running one; best_start: the start of the epoch with
        # the lowest loss in this call (the weights that loss was measured from)
        last_good = (_snapshot(module), copy.deepcopy(opt.state_dict()))
        best_start, best_call, best_epoch, initial = None, math.inf, None, None
        best_val_state = None
        stop = None
        module.train()
        try:
            for _ in range(n_epochs):
                epoch = self.n_iter_ + 1
                t0 = time.perf_counter()
                loss_t, first_t = self.run_epoch(Xt, yt, wt, gen)
                finite_w = torch.stack([torch.isfinite(p).all() for p in module.parameters()])
                # one host sync per epoch
                loss, first, weights_ok = torch.stack(
                    [loss_t.detach().to(torch.float64), first_t.detach().to(torch.float64),
                     finite_w.all().to(torch.float64)]).tolist()
                if initial is None:
                    initial = first
                reason, rankable = self._divergence(loss, bool(weights_ok), best_call, initial)
                # this epoch's loss was measured from the weights it started from: it ranks
                # them (unless the loss itself is non-finite or exploded)
                if rankable and loss < best_call:
                    best_call, best_start, best_epoch = loss, last_good[0], epoch
                score = None
                if reason is None and val is not None:
                    try:
                        score = self._score_arrays(*val)
                    except NonFiniteOutputError:
                        reason = "non-finite network output on the validation set"
                    module.train()
                if reason is not None:
                    if best_start is None:      # the call's first epoch: its start
                        best_start, best_epoch, best_call = last_good[0], epoch, initial
                    self._on_divergence(epoch, reason, best_start, best_epoch, best_call,
                                        best_val_state, Xt, yt, wt)
                    best_val_state = None
                    stop = "diverged"
                    break
                duration = time.perf_counter() - t0
                # commit the epoch: every fitted attribute describes `epoch` from here on
                self.n_iter_ = epoch
                self.t_ += n
                self.loss_curve_.append(loss)
                if val is not None:
                    self.validation_scores_.append(score)
                    improved = score >= self.best_validation_score_ + self.tol
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best_val_state = _snapshot(module)
                else:
                    improved = loss <= self.best_loss_ - self.tol
                self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
                self.best_loss_ = min(self.best_loss_, loss)
                record = epoch_record(epoch, loss, score, duration, opt.param_groups[0]["lr"])
                self.history_.append(record)
                self._kp_cache = {}         # cached analysis describes older weights
                last_good = (_snapshot(module), copy.deepcopy(opt.state_dict()))
                if self.kp_track_every and epoch % self.kp_track_every == 0:
                    self._track()
                cb_stop = self.on_epoch_end(record)
                module.train()
                if pbar is not None:
                    pbar.update(1)
                    postfix = {"loss": f"{loss:.4g}"}
                    if score is not None:
                        postfix["val_score"] = f"{score:.4g}"
                    pbar.set_postfix(postfix)
                if cb_stop:
                    stop = "callback"
                    break
                if not incremental and self._no_improvement_count > self.n_iter_no_change:
                    stop = "plateau"
                    break
            else:
                stop = "partial_fit" if incremental else "max_iter"
        except KeyboardInterrupt as exc:
            self._on_interrupt(exc, last_good)
            raise
        finally:
            if pbar is not None:
                pbar.close()
            module.eval()
        if best_val_state is not None:
            module.load_state_dict(best_val_state)
        self.stop_reason_ = stop
        if stop == "max_iter":
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                "converged yet.", ConvergenceWarning, stacklevel=4)
        elif stop == "plateau":
            self._check_plateau(yt, wt, val is not None)
        for cb in callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(self)

    # ------------------------------------------------------------------ helpers
    def _sync_optimizer(self):
        """Create the optimizer if needed; a kept one (warm_start, partial_fit) keeps its
        state but takes the current ``learning_rate`` and ``weight_decay``."""
        opt = self._optimizer
        if opt is not None and not hasattr(opt, "_kpflow_optimizer"):
            opt._kpflow_optimizer = self.optimizer     # just made (fit, unpickling) for it
        if opt is None or opt._kpflow_optimizer != self.optimizer:
            self._optimizer = opt = self.initialize_optimizer()
            opt._kpflow_optimizer = self.optimizer     # the parameter it was made for
            return
        for group in opt.param_groups:
            if "lr" in group:
                group["lr"] = self.learning_rate
            if "weight_decay" in group:
                group["weight_decay"] = self.weight_decay

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

    def _on_divergence(self, epoch, reason, best_start, best_epoch, best_loss, best_val_state,
                       Xt, yt, wt):
        """Restore the best weights, reset the optimizer, diagnose, warn."""
        module = self.module_
        module.load_state_dict(best_val_state if best_val_state is not None else best_start)
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
            DivergenceWarning, stacklevel=5)

    def _diagnose_non_finite(self, Xt, yt, wt):
        """``ValueError`` when the restored weights still give non-finite hidden states or
        loss: then the data or the cell are at fault, not the optimisation."""
        module = self.module_
        cell = describe_cell(module.cell)
        bad_z = bad_loss = 0
        first_t = None
        omax = 0.0
        with torch.no_grad():
            for start in range(0, Xt.shape[0], 4096):
                sl = slice(start, start + 4096)
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
            "or a smaller tol.", PlateauWarning, stacklevel=5)
