"""The training loop of the recurrent estimators, in small overridable steps (skorch's manner).

``fit`` / ``partial_fit`` -> ``_train_epochs`` -> per epoch ``_fit_epoch``:

- ``run_epoch`` -- one pass over the training data in shuffled mini-batches, one
  ``train_step`` per batch (``infer`` then ``get_loss``, backward, optimizer step);
- ``_epoch_loss`` -- one host sync, the divergence check (:mod:`._stopping`);
- the validation score (``early_stopping=True``);
- ``_commit_epoch`` -- ``n_iter_``, ``t_``, ``loss_curve_``, ``validation_scores_``,
  ``_update_no_improvement_count`` (the plateau counter), one ``history_`` record
  (:mod:`._history`); then KPFlow tracking (``kp_track_every``);
- ``on_epoch_end`` -- the user's callbacks (:mod:`._callbacks`).

``stop_reason_`` says why training ended: ``"max_iter"``, ``"plateau"`` (``n_iter_no_change``
epochs without improvement), ``"callback"``, ``"diverged"``, ``"interrupted"`` or
``"partial_fit"`` (one epoch done); see :mod:`._stopping` for what each does.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from kpflow_sk.estimators import _progress
from kpflow_sk.estimators._callbacks import StopTraining, check_callbacks
from kpflow_sk.estimators._history import epoch_record
from kpflow_sk.estimators._validation import NonFiniteOutputError

__all__ = ["TrainingLoopMixin", "TrainingRun"]


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@dataclass
class TrainingRun:
    """Bookkeeping of one ``fit`` / ``partial_fit`` call.

    Attributes
    ----------
    last_good : tuple (state dict, optimizer state dict)
        Weights and optimizer state at the end of the last completed epoch (also the start
        of the running one): what an interrupt restores.
    best_start : state dict or None
        The weights at the start of the epoch with the lowest loss of this call (the
        weights that loss was measured from): what a divergence restores.
    best_loss : float
        That lowest loss.
    best_epoch : int or None
    initial : float or None
        The loss at the call's start (the first batch's loss).
    best_val_state : state dict or None
        The weights of the best validation score (``early_stopping=True``), kept at the end.
    """

    last_good: tuple
    best_start: dict = None
    best_loss: float = math.inf
    best_epoch: int = None
    initial: float = None
    best_val_state: dict = None

    @classmethod
    def start(cls, module, optimizer):
        return cls(last_good=(_snapshot(module), copy.deepcopy(optimizer.state_dict())))


class TrainingLoopMixin:
    """The epoch loop; mixed into :class:`~kpflow_sk.estimators.BaseRecurrentEstimator`."""

    #: the ``callbacks`` parameter's default, for estimators restored (zoo, pickle) from a
    #: state written before the parameter existed; ``__init__`` always sets it
    callbacks = None

    # ------------------------------------------------------------------ overridable steps
    def train_step(self, X, target, weight):
        """One optimizer step on a mini-batch; returns the (detached) batch loss.

        Parameters
        ----------
        X : Tensor of shape (B, T, D)
        target : Tensor
        weight : Tensor of shape (B,) or (B, T) (or (B, T, n_outputs)), or None

        Returns
        -------
        loss : Tensor (scalar)
        """
        opt = self._optimizer
        opt.zero_grad(set_to_none=True)
        output, _ = self.infer(X)
        loss = self.get_loss(output, target, weight)
        loss.backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.module_.parameters(), self.grad_clip)
        opt.step()
        return loss.detach()

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

    def _update_no_improvement_count(self, loss, score=None):
        """Count the epochs without improvement (the plateau stop) and keep ``best_loss_``
        and ``best_validation_score_``.

        An epoch improves when its validation ``score`` (``early_stopping``) beats the best
        by ``tol``, otherwise when its training ``loss`` is ``tol`` below the best.

        Returns
        -------
        bool
            Whether ``score`` is a new best validation score (its weights are kept).
        """
        new_best = False
        if score is not None:
            improved = score >= self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                new_best = True
        else:
            improved = loss <= self.best_loss_ - self.tol
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
        self.best_loss_ = min(self.best_loss_, loss)
        return new_best

    # ------------------------------------------------------------------ the loop
    def _train_epochs(self, X3, targets, weight, train_idx, val_idx, shuffle_seed, incremental):
        """Train for ``max_iter`` epochs (one with ``incremental``) or until a stop reason."""
        callbacks = check_callbacks(getattr(self, "callbacks", None))
        Xt, yt, wt = (None if a is None else self._to_tensor(np.ascontiguousarray(a[train_idx]))
                      for a in (X3, targets, weight))
        val = None
        if val_idx is not None:
            val = (X3[val_idx], targets[val_idx], None if weight is None else weight[val_idx])
        self._sync_optimizer()
        gen = torch.Generator().manual_seed(shuffle_seed)
        n_epochs = 1 if incremental else self.max_iter
        if not hasattr(self, "history_"):
            self.history_ = []
        pbar = _progress.epoch_bar(self, n_epochs)
        for cb in callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin(self)
        run = TrainingRun.start(self.module_, self._optimizer)
        stop = None
        self.module_.train()
        try:
            for _ in range(n_epochs):
                stop = self._fit_epoch(run, Xt, yt, wt, val, gen, incremental, pbar)
                if stop is not None:
                    break
            else:
                stop = "partial_fit" if incremental else "max_iter"
        except KeyboardInterrupt as exc:
            self._on_interrupt(exc, run.last_good)
            raise
        finally:
            if pbar is not None:
                pbar.close()
            self.module_.eval()
        self._end_training(stop, run, yt, wt, val is not None, callbacks)

    def _fit_epoch(self, run, Xt, yt, wt, val, generator, incremental, pbar):
        """One epoch and its bookkeeping; returns a stop reason or None to go on."""
        epoch = self.n_iter_ + 1
        t0 = time.perf_counter()
        loss, reason = self._epoch_loss(run, epoch, *self.run_epoch(Xt, yt, wt, generator))
        score = None
        if reason is None and val is not None:
            score, reason = self._validation_score(val)
        if reason is not None:
            self._on_divergence(epoch, reason, run, Xt, yt, wt)
            return "diverged"
        record = self._commit_epoch(run, epoch, loss, score, time.perf_counter() - t0,
                                    Xt.shape[0])
        if self.kp_track_every and epoch % self.kp_track_every == 0:
            self._track()
        cb_stop = self.on_epoch_end(record)
        self.module_.train()
        _progress.epoch_done(pbar, loss, score)
        if cb_stop:
            return "callback"
        if not incremental and self._no_improvement_count > self.n_iter_no_change:
            return "plateau"
        return None

    def _epoch_loss(self, run, epoch, loss_t, first_t):
        """The epoch's loss as a float (one host sync) and why it diverged (or None); ranks
        the weights the epoch started from by this loss."""
        finite_w = torch.stack([torch.isfinite(p).all() for p in self.module_.parameters()])
        loss, first, weights_ok = torch.stack(
            [loss_t.detach().to(torch.float64), first_t.detach().to(torch.float64),
             finite_w.all().to(torch.float64)]).tolist()
        if run.initial is None:
            run.initial = first
        reason, rankable = self._divergence(loss, bool(weights_ok), run.best_loss, run.initial)
        # this epoch's loss was measured from the weights it started from: it ranks them
        # (unless the loss itself is non-finite or exploded)
        if rankable and loss < run.best_loss:
            run.best_loss, run.best_start, run.best_epoch = loss, run.last_good[0], epoch
        return loss, reason

    def _validation_score(self, val):
        """``(score, reason)``: the score on the held-out ``val`` arrays, or a divergence
        reason when the network's output there is not finite."""
        try:
            return self._score_arrays(*val), None
        except NonFiniteOutputError:
            return None, "non-finite network output on the validation set"
        finally:
            self.module_.train()

    def _commit_epoch(self, run, epoch, loss, score, duration, n):
        """Record a completed epoch: every fitted attribute describes ``epoch`` from here on.
        Returns its ``history_`` record."""
        self.n_iter_ = epoch
        self.t_ += n
        self.loss_curve_.append(loss)
        if score is not None:
            self.validation_scores_.append(score)
        if self._update_no_improvement_count(loss, score):
            run.best_val_state = _snapshot(self.module_)
        record = epoch_record(epoch, loss, score, duration,
                              self._optimizer.param_groups[0]["lr"])
        self.history_.append(record)
        self._kp_cache = {}         # cached analysis describes older weights
        run.last_good = (_snapshot(self.module_), copy.deepcopy(self._optimizer.state_dict()))
        return record

    def _end_training(self, stop, run, yt, wt, on_validation, callbacks):
        """Keep the best validation weights, set ``stop_reason_``, warn, end the callbacks."""
        if run.best_val_state is not None:
            self.module_.load_state_dict(run.best_val_state)
        self.stop_reason_ = stop
        if stop == "max_iter":
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                "converged yet.", ConvergenceWarning, stacklevel=5)
        elif stop == "plateau":
            self._check_plateau(yt, wt, on_validation)
        for cb in callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(self)

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
