"""RecurrentRegressor: a recurrent network with a linear readout, trained on squared error."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, TransformerMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array

from kpflow_sk.estimators._base import BaseRecurrentEstimator
from kpflow_sk.estimators._loss import reduce_loss
from kpflow_sk.estimators._persistence import register_estimator
from kpflow_sk.estimators._validation import check_fits_dtype, check_n_samples

__all__ = ["RecurrentRegressor"]


@register_estimator
class RecurrentRegressor(RegressorMixin, TransformerMixin, BaseRecurrentEstimator):
    """Recurrent network regressor with KPFlow analysis of its training.

    A cell ``z_t = F(z_{t-1}, x_t; theta)`` (``z_0 = 0``) and a linear readout
    ``y_t = W_out z_t + b_out``, trained on the (weighted) mean squared error. After fit,
    :attr:`kp_decompose_` describes how gradient descent moves the hidden trajectories
    (the math and conventions: ``docs/conventions.md``). The parameters' defaults,
    constraints and one-line help are the table :data:`~kpflow_sk.estimators.PARAMETERS`.

    Parameters
    ----------
    cell : {"gru", "rnn", "leaky_rnn", "node"} or Cell subclass, default="gru"
        The recurrent cell. ``gru`` and ``rnn`` train with PyTorch's fused ``nn.GRU`` /
        ``nn.RNN`` kernel (cuDNN on a GPU); other cells are unrolled step by step.
    hidden_size : int, default=64
        Number of hidden units ``H``.
    nonlinearity : str, default="tanh"
        Pointwise nonlinearity of cells that take one (``rnn``: tanh or relu; ``leaky_rnn``,
        ``node``: any name in ``kpflow_sk.cells.NONLINEARITIES``); ignored by ``gru``.
    init_scale : float, default=1.0
        Gain ``g`` on the initial recurrent weights (``weight_hh``).
    alpha : float in (0, 1], default=0.2
        ``dt / tau`` of the ``leaky_rnn`` cell.
    ode_solver : str, default="rk4"
        Solver of the ``node`` cell (one observation interval per step): any name in
        ``kpflow_sk.cells.ODE_SOLVERS``, i.e. the built-in ``euler``, ``midpoint``, ``rk4``,
        ``dopri5`` (a functional Runge-Kutta composition, the fast path) and every
        ``torchdiffeq.odeint`` method (``bosh3``, ``adaptive_heun``, ``fehlberg2``,
        ``dopri8``, ``heun2``, ``heun3``, ``explicit_adams``, ``implicit_adams``,
        ``scipy_solver``, ...), which integrate with torchdiffeq itself. Adaptive torchdiffeq
        solvers solve each trial separately, so trials stay independent.
    ode_step_size : float or None, default=None
        Largest step of a fixed-step solver (None: one step per interval); more than 10000
        steps per interval is refused.
    ode_options : dict or None, default=None
        Passed to torchdiffeq as ``odeint(..., options=ode_options)`` (e.g. ``{"step_size":
        0.1}``, ``{"max_num_steps": 500}``, ``{"first_step": 0.01}``); unknown names or bad
        values raise ``ValueError`` listing the solver's valid ones. Giving it (even ``{}``)
        selects torchdiffeq for a built-in solver name too.
    rtol, atol : float, default=1e-6, 1e-8
        Tolerances of the adaptive solvers.
    adjoint : bool or {"discrete", "continuous"}, default=False
        Memory-saving backward pass for unrolled cells (``node``, ``leaky_rnn``, user cells).
        ``True`` / ``"discrete"``: each step's internals (the solver's stages) are recomputed
        during backpropagation instead of stored; the gradient is exactly that of the map
        the model computes. ``"continuous"`` (``node`` only): torchdiffeq's continuous adjoint
        (``odeint_adjoint``, one adjoint ODE solved backward per interval), whose gradient
        *approximates* the discrete one to the solver's tolerance; the forward map and the
        KPFlow analysis are unchanged (the operators differentiate the forward solve
        exactly). Ignored by fused cells (``True``) / refused for them (``"continuous"``).
    optimizer : {"adam", "sgd"}, default="adam"
        A key of :data:`~kpflow_sk.estimators.OPTIMIZERS` (``torch.optim.Adam`` / ``SGD``).
    learning_rate : float, default=1e-2
        Step size of the optimizer. The training defaults (``learning_rate``,
        ``batch_size``, ``tol``, ``n_iter_no_change``) were chosen by measurement on the
        package's own tasks (benchmarks/README_defaults.md): with Adam at 1e-2 and batches
        of 32, a 64-unit GRU reaches >= 0.9 held-out ``score_task`` on the four-task family,
        Memory-Pro, Delay-Anti, flip-flop and Yang's fdgo / reactanti within 30 epochs;
        scikit-learn's MLP values (1e-3, 200) solved none of the first two in 60.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.
    batch_size : int or "auto", default=32
        Mini-batch size; "auto" is ``min(200, n_samples)``. Clipped to the number of
        training samples.
    max_iter : int, default=200
        Maximum number of epochs (passes over the training data).
    tol : float, default=1e-5
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int, default=30
        Stop after this many epochs without improvement of the training loss (or of the
        validation score with ``early_stopping``). Recurrent tasks have long loss plateaus
        before they are solved; with 30 epochs and ``tol=1e-5`` no measured run stopped on
        one (with 10 and 1e-4, three did).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop on its score; the
        weights of the best validation score are kept. No data is held out otherwise.
    validation_fraction : float in (0, 1), default=0.1
    warm_start : bool, default=False
        Continue from the previous fit's weights and optimizer state.
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value.
    mask_convention : {"linear", "squared"}, default="linear"
        How ``mask`` weights the loss: the weighted mean of the squared errors ("linear"), or
        the mask multiplies the error before squaring, ``mean((m (y_hat - y))^2)``, as in Yang
        et al. 2019 ("squared"). See :mod:`kpflow_sk.estimators._loss`.
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        "auto" uses CUDA when available.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the network and of the analysis.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, the validation split and the analysis batch. With an
        int, fits on the CPU are reproducible bit for bit.
    verbose : int, default=0
        Show a tqdm progress bar with the running loss.
    n_threads : int or None, default=None
        Number of CPU threads torch uses during fit and predict (None: torch's setting).
    kp_n_trials : int, default=64
        Size of the analysis batch (training trials stratified by ``task_ids``).
    kp_track_every : int, default=0
        Record a KPFlow snapshot in ``kp_history_`` every this many epochs (and at epoch 0);
        0 turns tracking off.
    kp_probes : int or None, default=None
        Number of random probes for the randomized estimates (None: the analysis default).
    kp_precision : {"highest", "medium"}, default="highest"
        Precision of the KPFlow operators' GEMMs: ``"medium"`` runs K's and P's products with
        bfloat16 operands and float32 accumulation for float32 models (relative error a few
        1e-3 on the products, ranks within ~2e-4; faster on CPUs with AVX512-BF16 and on
        GPUs). See :class:`kpflow_sk.analysis.KPDecomposition`.
    callbacks : list of objects or None, default=None
        Called after every epoch as ``cb.on_epoch_end(estimator, record)`` with that epoch's
        ``history_`` record; returning True (or raising
        :class:`~kpflow_sk.estimators.StopTraining`) stops training
        (``stop_reason_ = "callback"``). ``on_train_begin(estimator)`` and
        ``on_train_end(estimator)`` are called when defined. Callbacks do not change the
        random stream: the same ``random_state`` gives the same weights with or without them.

    Attributes
    ----------
    module_ : torch.nn.Module
        The network, ``forward(X) -> (y_hat, Z)``; ``module_.cell_params()`` gives the cell
        parameters in the functional cell's layout (``module_.cell``).
    n_features_in_ : int
        Number of input features (last axis of ``X``).
    feature_names_in_ : ndarray of str
        Feature names of a 2-D DataFrame ``X`` (only then).
    n_outputs_ : int
        Number of outputs of the readout.
    loss_curve_ : list of float
        Training loss after every epoch.
    validation_scores_ : list of float or None
        Validation R^2 after every epoch (``early_stopping=True`` only).
    best_loss_ : float
        Lowest training loss seen.
    best_validation_score_ : float or None
        Best validation score (``early_stopping=True`` only).
    n_iter_ : int
        Number of epochs run (completed).
    history_ : list of dict
        One record per completed epoch: ``epoch``, ``loss``, ``validation_score`` (None
        without ``early_stopping``), ``duration`` (seconds), ``learning_rate``;
        ``pandas.DataFrame(est.history_)`` gives a table.
    stop_reason_ : str
        Why the last ``fit`` / ``partial_fit`` ended: ``"max_iter"``, ``"plateau"``
        (``n_iter_no_change`` epochs without improvement; warns with
        :class:`~kpflow_sk.estimators.PlateauWarning` when the training loss is still above
        half the loss of a constant prediction), ``"callback"``, ``"diverged"`` (non-finite
        loss or weights, or a loss 1000 times the best of the fit: the best weights are
        restored, the optimizer state is reset, :class:`~kpflow_sk.estimators.DivergenceWarning`
        names the epoch), ``"interrupted"`` (``KeyboardInterrupt``: the weights of the last
        completed epoch are kept and the interrupt is re-raised) or ``"partial_fit"``.
    t_ : int
        Number of training samples seen.
    device_ : torch.device
        Where the network lives.
    kp_decompose_ : KPDecomposition
        KPFlow decomposition on the analysis batch at the end of fit (computed on first
        access, then cached).
    collapse_dim_ : float
        Effective rank (participation ratio) of Theta on the analysis batch's trajectory
        space (:func:`kpflow_sk.analysis.collapse_dim`: the same number as the last
        ``kp_history_`` record of the final weights and ``kp_decompose_.summary()``).
    task_alignment_ : ndarray of shape (n_tasks, n_tasks) or None
        Cosines between the per-task hidden-trajectory updates; None without ``task_ids``.
    kp_history_ : list of dict
        One record per snapshot (``kp_track_every``) with the fields of
        :data:`kpflow_sk.analysis.HISTORY_FIELDS`: iteration, loss (on the analysis batch),
        train_loss, effective ranks of K, P, Theta (whole space and time axis, convention
        ``"default"``; the paper's ``"figure"`` rank of K and P P* on the time axis),
        collapse_dim, task_alignment. ``pandas.DataFrame(est.kp_history_)`` gives a table.

    Examples
    --------
    >>> import numpy as np
    >>> from kpflow_sk import RecurrentRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(32, 10, 2))
    >>> y = np.cumsum(X[..., :1], axis=1)          # sequence-to-sequence target
    >>> est = RecurrentRegressor(hidden_size=8, max_iter=5, random_state=0).fit(X, y)
    >>> est.predict(X).shape, est.transform(X).shape
    ((32, 10, 1), (32, 10, 8))
    """

    # TransformerMixin's set_output (only for 2-D output) would shadow the base class's
    set_output = BaseRecurrentEstimator.set_output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate_targets(self, y, X3, x_ndim, *, reset, classes=None, scoring=False):
        n, T, _ = X3.shape
        y = check_array(y, dtype="numeric", ensure_2d=False, allow_nd=True,
                        ensure_min_samples=0, input_name="y")
        check_n_samples(n, y, "y")
        if y.ndim == 3:
            if y.shape[1] != T:
                raise ValueError(
                    f"sequence-to-sequence y must have as many time steps as X: X has "
                    f"n_timesteps={T}, y has {y.shape[1]} (y shape {y.shape})")
            seq2seq = True
            target = y
        elif y.ndim in (1, 2):
            seq2seq = False
            target = y.reshape(n, -1)
        else:
            raise ValueError(
                f"y must be 1-D (n_samples,), 2-D (n_samples, n_outputs) or 3-D (n_samples, "
                f"n_timesteps, n_outputs); got an array with {y.ndim} dimensions")
        n_outputs = target.shape[-1]
        if n_outputs == 0:
            raise ValueError(f"y has no outputs (shape {y.shape})")
        if reset:
            self.n_outputs_ = int(n_outputs)
            self._y_ndim = y.ndim
        elif n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}")
        check_fits_dtype(target, self._numpy_dtype(), "y")
        return np.require(target, dtype=self._numpy_dtype(), requirements=["C", "W"]), seq2seq

    def get_loss(self, output, target, weight=None):
        """Mean squared error, weighted by ``weight`` over samples (and steps, and outputs).

        ``sum w (y_hat - y)^2 / sum w`` (``w`` broadcast over the outputs; ``mask_convention=
        "linear"``) or ``sum w (y_hat - y)^2 / numel`` ("squared", where ``w`` holds the
        squared mask), see :mod:`kpflow_sk.estimators._loss`; the plain mean when ``weight`` is
        None.
        """
        return reduce_loss((output - target) ** 2, weight,
                           getattr(self, "mask_convention", "linear"))

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of the estimator's ``dtype``
            (n_samples, n_timesteps, n_outputs) for sequence-to-sequence targets, otherwise
            the readout at the last step with the layout of ``y`` at fit ((n_samples,) or
            (n_samples, n_outputs)).
        """
        X3 = self._check_X_predict(X)
        out = self._forward_numpy(X3, "output")
        if not self._seq2seq and self._y_ndim == 1:
            out = out[:, 0]
        return out

    def _score_arrays(self, X3, target, weight):
        y_pred = self._forward_numpy(X3, "output").astype(np.float64)  # R^2 in float64
        if self._seq2seq:
            w = np.ones(target.shape[:2]) if weight is None else weight
            w = np.broadcast_to(w if w.ndim == target.ndim else w[..., None],
                                target.shape).ravel()
            keep = w > 0
            return float(r2_score(target.ravel()[keep], y_pred.ravel()[keep],
                                  sample_weight=w[keep]))
        return float(r2_score(target, y_pred, sample_weight=weight))

    def score(self, X, y, sample_weight=None, *, mask=None):
        """Coefficient of determination R^2.

        Sequence-to-sequence: R^2 over all entries (sample, step, output) with non-zero
        ``mask`` x ``sample_weight``, flattened into one vector (one mean for all outputs
        and steps). Sequence-to-one: scikit-learn's ``r2_score`` (uniform average over
        outputs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_features)
        y : array-like
        sample_weight : array-like of shape (n_samples,), default=None
        mask : array-like of shape (n_samples, n_timesteps) or (n_samples, n_timesteps,
            n_outputs), default=None

        Returns
        -------
        score : float
        """
        return self._score(X, y, sample_weight, mask)
