"""Shared base of the recurrent estimators: parameters, building the network, ``fit``.

Subclasses (:class:`~kpflow_sk.estimators.RecurrentRegressor`,
:class:`~kpflow_sk.estimators.RecurrentClassifier`) supply the targets and the loss through
three hooks: :meth:`BaseRecurrentEstimator._validate_targets`,
:meth:`BaseRecurrentEstimator.get_loss` and the output post-processing in ``predict``.
Every other step is a small overridable method in one room each (skorch's manner):

- here: ``initialize_module``, ``initialize_optimizer``, ``fit`` / ``partial_fit``;
- :mod:`._training`: ``run_epoch``, ``train_step``, ``on_epoch_end``,
  ``_update_no_improvement_count`` (the epoch loop);
- :mod:`._stopping`: divergence, plateau and interrupt handling;
- :mod:`._inference`: ``infer``, ``transform``; :mod:`._inputs`: the one input check;
- :mod:`._kpflow`: ``decompose``, tracking, ``kp_decompose_`` and friends;
- :mod:`._state`: pickling and ``save``; :mod:`._device`: devices and threads;
- :mod:`._params`: the parameter table (defaults, constraints, help).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

from kpflow_sk.analysis import analysis_batch
from kpflow_sk.cells import CELLS, Cell, get_cell
from kpflow_sk.estimators._device import resolve_device, torch_threads
from kpflow_sk.estimators._dynamics import DynamicsMixin
from kpflow_sk.estimators._inference import InferenceMixin
from kpflow_sk.estimators._inputs import InputsMixin
from kpflow_sk.estimators._kpflow import KPFlowMixin
from kpflow_sk.estimators._module import adjoint_mode, build_network
from kpflow_sk.estimators._optimizers import build_optimizer
from kpflow_sk.estimators._params import DTYPES, PARAMETERS
from kpflow_sk.estimators._state import StateMixin
from kpflow_sk.estimators._stopping import StoppingMixin
from kpflow_sk.estimators._training import TrainingLoopMixin
from kpflow_sk.estimators._validation import check_network, reject_bool_integers

__all__ = ["BaseRecurrentEstimator"]


class BaseRecurrentEstimator(DynamicsMixin, KPFlowMixin, StateMixin, InferenceMixin,
                             InputsMixin, StoppingMixin, TrainingLoopMixin, BaseEstimator):
    """Base class of the recurrent estimators (not for direct use).

    See :class:`~kpflow_sk.estimators.RecurrentRegressor` for the parameters; their defaults
    and constraints are the table :data:`~kpflow_sk.estimators.PARAMETERS`.
    """

    _parameter_constraints: dict = {p.name: p.constraints for p in PARAMETERS}

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
        kp_precision="highest",
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
        self.kp_precision = kp_precision
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
        # Interval(Integral) takes True as 1
        reject_bool_integers(self.get_params(deep=False), self._parameter_constraints,
                             type(self).__name__)

    # ================================================================== subclass hooks
    def _validate_targets(self, y, X3, x_ndim, *, reset, classes=None, scoring=False):
        """Check ``y`` against ``X`` (n, T, d); return ``(targets, seq2seq)``.

        ``targets`` is an ndarray in the form :meth:`get_loss` takes; ``seq2seq`` says
        whether the loss lives at every step (True) or at the last step only (False).
        Sets ``n_outputs_`` (and ``classes_``) when ``reset``. ``scoring`` (``score``) may
        accept targets that training refuses (the classifier's labels unseen in fit).
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
        return DTYPES[self.dtype][0]

    def _numpy_dtype(self):
        return DTYPES[self.dtype][1]

    def _resolve_device(self):
        """The training device (:func:`~kpflow_sk.estimators._device.resolve_device`)."""
        return resolve_device(self.device, type(self).__name__)

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
                             init_scale=spec["init_scale"], dtype=DTYPES[spec["dtype"]][0],
                             device=device, checkpoint_steps=spec["checkpoint_steps"],
                             continuous_adjoint=spec.get("continuous_adjoint", False))

    def initialize_optimizer(self):
        """The optimizer named by ``optimizer`` (:data:`~kpflow_sk.estimators.OPTIMIZERS`)
        over all module parameters (cell and readout)."""
        return build_optimizer(self.optimizer, self.module_.parameters(),
                               learning_rate=self.learning_rate,
                               weight_decay=self.weight_decay)

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
                self._check_warm_start(X3, incremental)
            if self._optimizer is None:
                self._optimizer = self.initialize_optimizer()

            n = X3.shape[0]
            train_idx, val_idx = self._split(n, targets, seq2seq, rng, incremental)
            if self._kp_batch is None or not incremental:
                self._kp_batch, self._kp_seed = analysis_batch(
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

    def _check_warm_start(self, X3, incremental):
        """``ValueError`` when ``warm_start`` would continue a network whose hyperparameters
        changed since it was built (it would silently train another model)."""
        spec = self._module_spec(X3.shape[-1], self.n_outputs_)    # checks ``cell`` too
        if not incremental and spec != self._fitted_spec:
            changed = sorted(_spec_diff(spec, self._fitted_spec))
            raise ValueError(
                f"warm_start=True cannot continue training after the network's "
                f"hyperparameters changed ({', '.join(changed)}); set "
                "warm_start=False to train a new network")

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


def _spec_diff(a, b):
    out = set()
    for k in set(a) | set(b):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out |= _spec_diff(a[k], b[k])
        elif a.get(k) != b.get(k):
            out.add(k)
    return out
