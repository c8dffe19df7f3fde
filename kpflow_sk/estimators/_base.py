"""Shared base of the recurrent estimators: parameters, training loop, device, pickling, KPFlow.

Subclasses (:class:`~kpflow_sk.estimators.RecurrentRegressor`,
:class:`~kpflow_sk.estimators.RecurrentClassifier`) supply the targets and the loss through
three hooks: :meth:`BaseRecurrentEstimator._validate_targets`,
:meth:`BaseRecurrentEstimator.get_loss` and the output post-processing in ``predict``.
The training loop is split in small overridable steps (``initialize_module``,
``initialize_optimizer``, ``infer``, ``get_loss``, ``train_step``; the epoch loop,
``run_epoch`` and ``on_epoch_end`` live in :mod:`kpflow_sk.estimators._training`).
"""

from __future__ import annotations

import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from kpflow_sk.analysis import _tracking as tracking
from kpflow_sk.analysis._tracking import select_analysis_trials  # noqa: F401 (moved there)
from kpflow_sk.cells import CELLS, NONLINEARITIES, Cell, get_cell
from kpflow_sk.cells._node import ODE_SOLVERS
from kpflow_sk.estimators import _progress
from kpflow_sk.estimators._device import torch_threads
from kpflow_sk.estimators._dynamics import DynamicsMixin
from kpflow_sk.estimators._loss import MASK_CONVENTIONS, check_loss_mask, combine_weights
from kpflow_sk.estimators._module import ADJOINT_MODES, adjoint_mode, build_network
from kpflow_sk.estimators._training import TrainingLoopMixin
from kpflow_sk.estimators._validation import (
    check_features,
    check_finite_output,
    check_n_features,
    check_network,
    check_sample_weight,
    check_task_ids,
    check_X,
    reject_bool_integers,
)

__all__ = ["BaseRecurrentEstimator"]

_DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64)}
# samples per forward pass at predict time (bounds memory; results do not depend on it)
_PREDICT_CHUNK = 4096


def _state_to_cpu(obj):
    """Copy every tensor in a (nested) state dict to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _state_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_state_to_cpu(v) for v in obj)
    return obj


class BaseRecurrentEstimator(DynamicsMixin, TrainingLoopMixin, BaseEstimator):
    """Base class of the recurrent estimators (not for direct use).

    See :class:`~kpflow_sk.estimators.RecurrentRegressor` for the parameters.
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS)), type],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "nonlinearity": [StrOptions(set(NONLINEARITIES))],
        "init_scale": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "ode_solver": [StrOptions(set(ODE_SOLVERS))],
        "ode_step_size": [Interval(Real, 0, None, closed="neither"), None],
        "ode_options": [dict, None],
        "rtol": [Interval(Real, 0, None, closed="neither")],
        "atol": [Interval(Real, 0, None, closed="neither")],
        "adjoint": ["boolean", StrOptions(set(ADJOINT_MODES))],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "mask_convention": [StrOptions(set(MASK_CONVENTIONS))],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "kp_n_trials": [Interval(Integral, 1, None, closed="left")],
        "kp_track_every": [Interval(Integral, 0, None, closed="left")],
        "kp_probes": [Interval(Integral, 1, None, closed="left"), None],
        "callbacks": [list, tuple, None],
    }

    #: the ``mask_convention`` default, for estimators restored (zoo, pickle) from a state
    #: written before the parameter existed; ``__init__`` always sets it
    mask_convention = "linear"

    def __init__(
        self,
        cell="gru",
        hidden_size=64,
        *,
        nonlinearity="tanh",
        init_scale=1.0,
        alpha=0.2,
        ode_solver="rk4",
        ode_step_size=None,
        ode_options=None,
        rtol=1e-6,
        atol=1e-8,
        adjoint=False,
        optimizer="adam",
        learning_rate=1e-2,
        weight_decay=0.0,
        batch_size=32,
        max_iter=200,
        tol=1e-5,
        n_iter_no_change=30,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        grad_clip=None,
        mask_convention="linear",
        device="auto",
        dtype="float32",
        random_state=None,
        verbose=0,
        n_threads=None,
        kp_n_trials=64,
        kp_track_every=0,
        kp_probes=None,
        callbacks=None,
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.nonlinearity = nonlinearity
        self.init_scale = init_scale
        self.alpha = alpha
        self.ode_solver = ode_solver
        self.ode_step_size = ode_step_size
        self.ode_options = ode_options
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.grad_clip = grad_clip
        self.mask_convention = mask_convention
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads
        self.kp_n_trials = kp_n_trials
        self.kp_track_every = kp_track_every
        self.kp_probes = kp_probes
        self.callbacks = callbacks

    # ================================================================== tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = [self.dtype]  # outputs in self.dtype
        return tags

    def _validate_params(self):
        super()._validate_params()
        reject_bool_integers(self)      # Interval(Integral) takes True as 1

    # ================================================================== subclass hooks
    def _validate_targets(self, y, X3, x_ndim, *, reset, classes=None):
        """Check ``y`` against ``X`` (n, T, d); return ``(targets, seq2seq)``.

        ``targets`` is an ndarray in the form :meth:`get_loss` takes; ``seq2seq`` says
        whether the loss lives at every step (True) or at the last step only (False).
        Sets ``n_outputs_`` (and ``classes_``) when ``reset``.
        """
        raise NotImplementedError

    def get_loss(self, output, target, weight=None):
        """The training loss, a weighted mean over samples (and steps, and outputs).

        Parameters
        ----------
        output : Tensor of shape (B, n_outputs) or (B, T, n_outputs)
            The readout where the loss lives (last step for sequence-to-one targets).
        target : Tensor
            Targets as returned by ``_validate_targets`` (as a tensor).
        weight : Tensor of shape (B,) or (B, T), or None
            ``sample_weight`` times ``mask``; None means all ones.

        Returns
        -------
        loss : scalar Tensor
        """
        raise NotImplementedError

    # ================================================================== building blocks
    def _torch_dtype(self):
        return _DTYPES[self.dtype][0]

    def _numpy_dtype(self):
        return _DTYPES[self.dtype][1]

    def _resolve_device(self):
        """The training device; ``ValueError`` for an unknown name or missing CUDA."""
        name = type(self).__name__
        d = self.device
        if isinstance(d, str) and d == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(d)
        except (RuntimeError, TypeError, ValueError):
            dev = None
        if dev is None or dev.type not in ("cpu", "cuda"):
            raise InvalidParameterError(
                f"The 'device' parameter of {name} must be 'auto', 'cpu', 'cuda' or "
                f"'cuda:N'. Got {d!r} instead.")
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"device={str(d)!r} was requested but CUDA is not available on this "
                    "machine; use device='cpu' or device='auto'.")
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device={str(d)!r} was requested but only {torch.cuda.device_count()} "
                    "CUDA device(s) are available.")
        return dev

    def _cell_spec(self, n_features):
        """Everything needed to rebuild the fitted cell (kept for unpickling)."""
        cell = self.cell
        if not isinstance(cell, str) and not (inspect.isclass(cell) and issubclass(cell, Cell)):
            raise InvalidParameterError(
                f"The 'cell' parameter of {type(self).__name__} must be one of "
                f"{sorted(CELLS)} or a subclass of kpflow_sk.cells.Cell. Got {cell!r} instead.")
        return dict(cell=cell, input_size=int(n_features), hidden_size=int(self.hidden_size),
                    options=dict(nonlinearity=self.nonlinearity, alpha=self.alpha,
                                 solver=self.ode_solver, step_size=self.ode_step_size,
                                 rtol=self.rtol, atol=self.atol, options=self.ode_options,
                                 backend=("torchdiffeq" if adjoint_mode(self.adjoint)
                                          == "continuous" else None)))

    def _module_spec(self, n_features, n_outputs):
        return dict(cell=self._cell_spec(n_features), n_outputs=int(n_outputs),
                    init_scale=float(self.init_scale), dtype=self.dtype,
                    checkpoint_steps=adjoint_mode(self.adjoint) == "discrete",
                    continuous_adjoint=adjoint_mode(self.adjoint) == "continuous")

    def initialize_module(self, spec, generator, device):
        """Build the network from a module spec and initialise it from ``generator``.

        Returns
        -------
        RecurrentNetwork
            ``forward(X) -> (y_hat, Z)``; fused ``nn.GRU`` / ``nn.RNN`` where the cell has one.
        """
        c = spec["cell"]
        cell = get_cell(c["cell"], c["input_size"], c["hidden_size"], **c["options"])
        return build_network(cell, spec["n_outputs"], generator=generator,
                             init_scale=spec["init_scale"], dtype=_DTYPES[spec["dtype"]][0],
                             device=device, checkpoint_steps=spec["checkpoint_steps"],
                             continuous_adjoint=spec.get("continuous_adjoint", False))

    def initialize_optimizer(self):
        """The optimizer over all module parameters (cell and readout)."""
        params = self.module_.parameters()
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate,
                                    weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.learning_rate, weight_decay=self.weight_decay)

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

    def train_step(self, X, target, weight):
        """One optimizer step on a mini-batch; returns the (detached) batch loss."""
        opt = self._optimizer
        opt.zero_grad(set_to_none=True)
        output, _ = self.infer(X)
        loss = self.get_loss(output, target, weight)
        loss.backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.module_.parameters(), self.grad_clip)
        opt.step()
        return loss.detach()

    # ================================================================== input handling
    def _check_fit_inputs(self, X, y, task_ids, sample_weight, mask, *, reset, classes=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None.")
        np_dtype = self._numpy_dtype()
        check_features(self, X, reset=reset)
        X3, x_ndim = check_X(X, dtype=np_dtype)
        n, T, _ = X3.shape
        if not reset:
            check_n_features(self, X3)
        targets, seq2seq = self._validate_targets(y, X3, x_ndim, reset=reset, classes=classes)
        if not reset and seq2seq != self._seq2seq:
            kinds = {True: "sequence-to-sequence", False: "sequence-to-one"}
            raise ValueError(
                f"y is {kinds[seq2seq]} but the estimator was fitted on {kinds[self._seq2seq]} "
                "targets; refit from scratch (warm_start=False) to change the target layout")
        sw = check_sample_weight(sample_weight, n, np_dtype)
        mask = check_loss_mask(mask, n, T, targets.shape[2] if targets.ndim == 3 else None,
                               np_dtype)
        if mask is not None and not seq2seq:
            raise ValueError(
                "mask weights the loss per step (n_samples, n_timesteps), so it needs "
                "sequence-to-sequence targets (3-D y, or per-step labels for a classifier); "
                f"got y of shape {np.shape(targets)} read out at the last step")
        task_ids = check_task_ids(task_ids, n)
        weight = self._combine_weights(sw, mask, seq2seq, T)
        if weight is not None and not np.any(weight > 0):
            raise ValueError("mask and sample_weight together give zero weight to every loss "
                             "term; at least one entry needs a non-zero weight")
        return X3, targets, weight, task_ids, seq2seq

    def _combine_weights(self, sw, mask, seq2seq, T):
        """Loss weights: (n,) for sequence-to-one, sample weight x mask (``mask_convention``
        "linear") or x mask^2 ("squared") for sequence-to-sequence targets (see ``_loss``)."""
        return combine_weights(sw, mask, seq2seq, T, getattr(self, "mask_convention", "linear"))

    def _check_X_predict(self, X):
        check_is_fitted(self)
        check_features(self, X, reset=False)
        X3, _ = check_X(X, dtype=self._numpy_dtype())
        check_n_features(self, X3)
        return X3

    def _to_tensor(self, a, device=None):
        if a is None:
            return None
        return torch.from_numpy(a).to(device if device is not None else self.device_)

    # ================================================================== fit
    def fit(self, X, y, *, task_ids=None, sample_weight=None, mask=None):
        """Train the network on sequences ``X`` with targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
            Input sequences; 2-D ``X`` is tabular data, read as sequences of length 1.
        y : array-like
            Targets (see the subclass).
        task_ids : array-like of shape (n_samples,), default=None
            Task label of each trial (multi-task training); used by the KPFlow analysis
            (stratified analysis batch, ``task_alignment_``), not by the loss.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-trial loss weights.
        mask : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps,
            n_outputs), default=None
            Per-step (or, for the regressor, per-step-and-output) loss weights
            (sequence-to-sequence targets only), applied as ``mask_convention`` says.

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, task_ids=task_ids, sample_weight=sample_weight, mask=mask,
                         incremental=False)

    def partial_fit(self, X, y, *, task_ids=None, sample_weight=None, mask=None):
        """One epoch (pass over ``X``) of training, continuing from the current weights.

        Parameters are as in :meth:`fit`. ``early_stopping`` is not used here.

        Returns
        -------
        self
        """
        if not hasattr(self, "module_"):
            self._validate_params()
        return self._fit(X, y, task_ids=task_ids, sample_weight=sample_weight, mask=mask,
                         incremental=True)

    def _fit(self, X, y, *, task_ids, sample_weight, mask, incremental, classes=None):
        with torch_threads(self.n_threads):
            fresh = not hasattr(self, "module_") or not (incremental or self.warm_start)
            device = self._resolve_device() if fresh else self.device_
            X3, targets, weight, task_ids, seq2seq = self._check_fit_inputs(
                X, y, task_ids, sample_weight, mask, reset=fresh, classes=classes)
            rng = check_random_state(self.random_state)
            if fresh:
                self._initialize_fit(X3, seq2seq, device, rng)
            else:
                spec = self._module_spec(X3.shape[-1], self.n_outputs_)
                if not incremental and spec != self._fitted_spec:
                    changed = sorted(_spec_diff(spec, self._fitted_spec))
                    raise ValueError(
                        f"warm_start=True cannot continue training after the network's "
                        f"hyperparameters changed ({', '.join(changed)}); set "
                        "warm_start=False to train a new network")
            if self._optimizer is None:
                self._optimizer = self.initialize_optimizer()

            n = X3.shape[0]
            train_idx, val_idx = self._split(n, targets, seq2seq, rng, incremental)
            if self._kp_batch is None or not incremental:
                self._kp_batch, self._kp_seed = tracking.analysis_batch(
                    X3, targets, weight, task_ids, train_idx, self.kp_n_trials, rng)
            self._kp_cache = {}
            if self.kp_track_every and self.n_iter_ == 0 and not self.kp_history_:
                self._track()
            shuffle_seed = int(rng.randint(np.iinfo(np.int32).max))
            self._train_epochs(X3, targets, weight, train_idx, val_idx, shuffle_seed,
                               incremental)
            self._kp_cache = {}
        return self

    def _initialize_fit(self, X3, seq2seq, device, rng):
        """Reset all fitted state and build a freshly initialised network."""
        self.device_ = device
        self._seq2seq = seq2seq
        self.n_features_in_ = int(X3.shape[-1])
        self._fitted_spec = self._module_spec(self.n_features_in_, self.n_outputs_)
        check_network(self, X3, device)           # memory for hidden_size, up front
        gen = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        self.module_ = self.initialize_module(self._fitted_spec, gen, device)
        check_network(self, X3, device, self.module_)     # one step of the cell
        self._optimizer = None
        self.history_ = []
        self.stop_reason_ = None
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_loss_ = np.inf
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.n_iter_ = 0
        self.t_ = 0
        self.kp_history_ = []
        self._no_improvement_count = 0
        self._kp_batch = None
        self._kp_cache = {}

    def _split(self, n, targets, seq2seq, rng, incremental):
        """Train / validation indices; a validation set only with ``early_stopping=True``."""
        idx = np.arange(n)
        if not self.early_stopping or incremental:
            return idx, None
        from sklearn.model_selection import train_test_split

        n_val = int(math.ceil(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(
                f"early_stopping=True with validation_fraction={self.validation_fraction} "
                f"leaves {n - n_val} training and {n_val} validation samples out of {n}; "
                "increase validation_fraction or the number of samples")
        stratify = self._stratify_labels(targets, seq2seq)
        try:
            tr, va = train_test_split(idx, test_size=n_val, random_state=rng,
                                      stratify=stratify)
        except ValueError:  # a class too small to stratify: fall back to a plain split
            tr, va = train_test_split(idx, test_size=n_val, random_state=rng)
        return np.sort(tr), np.sort(va)

    def _stratify_labels(self, targets, seq2seq):
        return None

    # ================================================================== inference
    @torch.no_grad()
    def _forward_numpy(self, X3, what):
        """Run the network on ``X3`` in chunks; ``what`` is "output" or "hidden"."""
        module = self.module_
        module.eval()
        outs = []
        with torch_threads(self.n_threads):
            for start in range(0, X3.shape[0], _PREDICT_CHUNK):
                Xb = self._to_tensor(np.ascontiguousarray(X3[start:start + _PREDICT_CHUNK]))
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

    def save(self, path):
        """Write the fitted estimator to ``path`` (safetensors + JSON, never pickle); read it
        back with :func:`kpflow_sk.load`. Returns the path."""
        from kpflow_sk.estimators._persistence import save

        return save(self, path)

    def set_output(self, *, transform=None):
        """Accepted so that ``Pipeline.set_output`` works with these estimators last; the
        hidden states of :meth:`transform` are 3-D and stay an ndarray (a DataFrame cannot
        hold them), so the setting changes nothing here. Returns self."""
        return self

    # ================================================================== KPFlow analysis
    # (the logic lives in kpflow_sk.analysis._tracking; these are thin calls)
    def _decomposition(self, X3, targets, weight, task_ids, seed=None):
        return tracking.network_decomposition(
            self.module_, self.get_loss, self._seq2seq, X3, targets, weight, task_ids,
            device=self.device_, random_state=self._kp_seed if seed is None else seed,
            n_probes=self.kp_probes)

    def decompose(self, X, y, task_ids=None, *, sample_weight=None, mask=None):
        """KPFlow decomposition of the fitted network on any data.

        Parameters
        ----------
        X, y, task_ids, sample_weight, mask
            As in :meth:`fit`; the loss (hence ``err``) is the estimator's own training loss
            on this batch.

        Returns
        -------
        KPDecomposition
        """
        check_is_fitted(self)
        X3, targets, weight, task_ids, _ = self._check_fit_inputs(
            X, y, task_ids, sample_weight, mask, reset=False)
        bar = _progress.note(self, f"decompose ({X3.shape[0]} trials)")
        D = self._decomposition(X3, targets, weight, task_ids)
        _progress.done(bar)
        return D

    def _analysis_batch_decomposition(self):
        b = self._kp_batch
        return self._decomposition(b["X"], b["target"], b["weight"], b["task_ids"])

    def _track(self):
        """Append one ``kp_history_`` record (:func:`kpflow_sk.analysis.snapshot`)."""
        bar = _progress.note(self, f"KPFlow snapshot (epoch {self.n_iter_})")
        with torch.enable_grad():
            D = self._analysis_batch_decomposition()
            self.kp_history_.append(tracking.snapshot(
                D, self.n_iter_, self.loss_curve_[-1] if self.loss_curve_ else None))
        _progress.done(bar)

    def _kp_cached(self, key, compute):
        check_is_fitted(self)
        cache = self.__dict__.setdefault("_kp_cache", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def kp_decompose_(self):
        """KPDecomposition of the fitted network on the analysis batch (``kp_n_trials``
        training trials, stratified by task), with the estimator's own loss. Built on first
        access from the end-of-fit weights and cached."""
        return self._kp_cached("D", self._analysis_batch_decomposition)

    @property
    def collapse_dim_(self):
        """Effective rank (participation ratio) of Theta on the whole trajectory space of the
        analysis batch at the end of fit (docs/conventions.md section 3)."""
        return self._kp_cached("collapse_dim",
                               lambda: tracking.collapse_dim(self.kp_decompose_))

    @property
    def task_alignment_(self):
        """``(n_tasks, n_tasks)`` cosines of the per-task updates ``dz_i``, ``dz_j``
        (ordered by sorted task label); None when fit saw no ``task_ids``."""
        return self._kp_cached("task_alignment", lambda: self.kp_decompose_.task_alignment())

    # ================================================================== pickling / devices
    def __getstate__(self):
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = _state_to_cpu(module.state_dict())
        opt = state.pop("_optimizer", None)
        state["_optimizer_state"] = None if opt is None else _state_to_cpu(opt.state_dict())
        state.pop("_kp_cache", None)  # recomputable, may hold device tensors
        state.pop("_best_state", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        # a state written before a constructor parameter existed (zoo files, old pickles)
        # gets that parameter's default, so every later step can rely on it
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty and name not in state:
                state[name] = param.default
        module_state = state.pop("_module_state", None)
        opt_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        self._kp_cache = {}
        if module_state is None:
            return
        device = torch.device(self.device_)
        if device.type == "cuda" and (not torch.cuda.is_available() or (
                device.index is not None and device.index >= torch.cuda.device_count())):
            warnings.warn(
                f"{type(self).__name__} was fitted on {device} which is not available here; "
                "its weights were loaded on the CPU.", UserWarning, stacklevel=2)
            device = torch.device("cpu")
        self.device_ = device
        module = self.initialize_module(self._fitted_spec, torch.Generator().manual_seed(0),
                                        None)
        module.load_state_dict(module_state)
        self.module_ = module.to(device)
        self.module_.eval()
        self._optimizer = None
        if opt_state is not None:
            self._optimizer = self.initialize_optimizer()
            self._optimizer.load_state_dict(opt_state)


def _spec_diff(a, b):
    out = set()
    for k in set(a) | set(b):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out |= _spec_diff(a[k], b[k])
        elif a.get(k) != b.get(k):
            out.add(k)
    return out
