"""``KPDecomposition``: the KPFlow operators of a model on a batch, and their measures."""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk import linalg
from kpflow_sk.analysis._collapse import collapse_dim
from kpflow_sk.analysis._conventions import resolve_measure
from kpflow_sk.analysis._measures import (
    AXES,
    METHODS,
    REDUCTIONS,
    compute_rank,
    kernel_mean,
    mean_spectrum,
    rank_table,
    task_alignment,
    task_updates,
)
from kpflow_sk.operators import Trajectory, kp_operators

__all__ = ["KPDecomposition", "MEASURED_OPERATORS"]

#: name -> (description, how it is measured). Non-symmetric operators (J, P) are measured
#: through their Gram A A* (docs/conventions.md section 3).
MEASURED_OPERATORS = {
    "K": "parameter operator K = J J*",
    "P": "propagator P, measured through its Gram P P*",
    "PPt": "P P*",
    "Theta": "hidden-state NTK Theta = P K P*",
    "J": "parameter Jacobian J, measured through its Gram J J* (= K)",
}


class KPDecomposition:
    """The gradient-flow factorisation ``dZ/dtau = - P K P* err`` of a model on a batch.

    Parameters
    ----------
    cell : Cell
        The functional cell ``F`` (see :mod:`kpflow_sk.cells`).
    params : dict of str -> Tensor
        Cell parameters ``theta`` (the readout is not part of them: it does not move Z).
    X : array-like of shape (B, T, D)
        Analysis inputs.
    Z : array-like of shape (B, T, H), optional
        Hidden states; computed by unrolling the cell when omitted.
    h0 : array-like of shape (B, H), optional
    aux : Tensor, optional
        Adaptive-solver step grids (computed when omitted).
    loss_fn : callable, optional
        ``loss_fn(Z) -> scalar``, the training loss as a function of the hidden trajectory
        (readout, masks, weights and reduction included); ``err = dL/dZ`` is taken with Z as
        a leaf (the explicit, per-step gradient).
    err : array-like of shape (B, T, H), optional
        ``dL/dZ`` given directly instead of ``loss_fn``.
    task_ids : array-like of shape (B,), optional
        Task label of each trial (any sortable labels).
    strategy : {"auto", "materialized", "matrix_free"}, default="auto"
        How state Jacobians are held (see :class:`kpflow_sk.operators.Trajectory`).
    memory_budget : int, optional
        Bytes allowed for materialized state Jacobians.
    random_state : int or None
        Seed of every randomized estimate (each measure is reproducible).
    n_probes : int or None
        Operator applications allowed per randomized estimate (default: linalg's default).
    precision : {"highest", "medium"}, default="highest"
        Of K's and P's GEMMs: ``"medium"`` is bfloat16 operands for float32 models (see
        :class:`kpflow_sk.operators.ParameterOperator`, :class:`~kpflow_sk.operators.Propagator`).

    Attributes
    ----------
    loss : float or None
        ``loss_fn(Z)``, the loss ``err`` was taken from (None when ``err`` was given).
    X, Z, err, adjoint, dz : Tensor of shape (B, T, .)
        ``adjoint = P* err`` (the BPTT gradient dL/dZ through the recurrence) and
        ``dz = - Theta err`` (the hidden-trajectory velocity under gradient flow).
    J, P, Pinv : kpflow_sk.operators.TrajectoryOperator
    K, Theta, PPt : kpflow_sk.linalg.GramOperator
        Each knows its root: ``K.root`` is J, ``Theta.root`` is P J, ``PPt.root`` is P.
    trajectory : Trajectory

    Examples
    --------
    >>> import torch
    >>> from kpflow_sk.cells import get_cell
    >>> cell = get_cell("gru", input_size=3, hidden_size=8)
    >>> params = cell.init_params(torch.Generator().manual_seed(0))
    >>> D = KPDecomposition(cell, params, torch.randn(4, 10, 3), random_state=0)
    >>> (D.P @ torch.randn(4, 10, 8)).shape
    torch.Size([4, 10, 8])
    >>> D.effective_rank("K", axis="hidden", reduce="mean") > 0
    True
    >>> 0 < D.effective_rank("P", axis="time", convention="figure") <= 10
    True
    """

    def __init__(self, cell, params, X, Z=None, *, h0=None, aux=None, loss_fn=None, err=None,
                 task_ids=None, strategy="auto", memory_budget=None, random_state=None,
                 n_probes=None, precision="highest"):
        self.trajectory = Trajectory(cell, params, X, Z, h0=h0, aux=aux, strategy=strategy,
                                     memory_budget=memory_budget)
        traj = self.trajectory
        self._ops = kp_operators(traj, precision)
        self.random_state = random_state
        self.n_probes = n_probes
        self._ranks = {}  # seeded, hence reproducible: measures are computed once
        self._mean_grams = {}
        self.loss = None
        B = traj.shape[0]
        if loss_fn is not None and err is not None:
            raise ValueError("pass either loss_fn or err, not both")
        if loss_fn is not None:
            with torch.enable_grad():
                Zl = traj.Z.detach().clone().requires_grad_(True)
                loss = loss_fn(Zl)
                if not torch.is_tensor(loss) or loss.ndim != 0:
                    raise ValueError("loss_fn must return a scalar tensor")
                (err,) = torch.autograd.grad(loss, Zl)
            self.loss = float(loss.detach())
        if err is not None:
            err = torch.as_tensor(err).to(dtype=traj.dtype, device=traj.device)
            if tuple(err.shape) != traj.shape:
                raise ValueError(f"err must have the shape of Z {traj.shape}, got "
                                 f"{tuple(err.shape)}")
            if not torch.isfinite(err).all():
                raise ValueError("err (dL/dZ) contains NaN or inf")
        self.err = err
        if task_ids is not None:
            task_ids = np.asarray(task_ids)
            if task_ids.shape != (B,):
                raise ValueError(f"task_ids must have shape ({B},) (one label per trial), got "
                                 f"{task_ids.shape}")
        self.task_ids = task_ids
        if err is not None:
            self.adjoint = self.P.T @ err
            self.dz = -(self.Theta @ err)
        else:
            self.adjoint = self.dz = None

    # ------------------------------------------------------------------ data and operators
    @property
    def X(self):
        return self.trajectory.X

    @property
    def Z(self):
        return self.trajectory.Z

    @property
    def precision(self):
        return self._ops["K"].precision      # "highest" or "medium" (K holds it)

    def __getattr__(self, name):
        ops = self.__dict__.get("_ops")
        if ops is not None and name in ops:
            return ops[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def operator(self, name):
        """The operator called ``name`` (J, K, P, Pinv, Theta, PPt)."""
        if name not in self._ops:
            raise ValueError(f"unknown operator {name!r}; valid choices: {sorted(self._ops)}")
        return self._ops[name]

    def factor(self, name, convention="default", *, smaller_side=False):
        """The operator A whose Gram ``A A*`` a convention measures for ``name``.

        ``"default"``: K, P P*, Theta themselves, each a Gram that knows its root (J, P,
        P J); P and J are measured through their own Gram, so A is P or J. ``"reference"``
        and ``"figure"``: the Gram of the named operator itself (K^2, P P*, Theta^2), A is
        the operator. ``smaller_side``: ``A*`` when A has fewer inputs than outputs (``A A*``
        and ``A* A`` share their nonzero spectrum; whole-space measures use the smaller).
        """
        if name not in MEASURED_OPERATORS:
            raise ValueError(f"unknown operator {name!r}; valid choices: "
                             f"{sorted(MEASURED_OPERATORS)}")
        A = self._ops[name]
        if convention == "default" and isinstance(A, linalg.GramOperator):
            A = A.root
        if smaller_side and np.prod(A.in_shape) < np.prod(A.out_shape):
            A = A.T
        return A

    def _measured(self, name, whole_space):
        # (the former private name, kept for tests/linalg/test_kp_operators.py; use factor())
        return self.factor(name, smaller_side=whole_space)

    def mean_gram_eigenvalues(self, name, axis, convention="reference"):
        """Eigenvalues (descending, float64) of the operator ``convention`` measures for
        ``name`` (``"default"``: K, P P*, Theta; else their Gram), compressed onto ``axis``
        with ``reduce="mean"`` (exact, so cached), and the AxisReduction."""
        kind = "default" if convention == "default" else "gram"
        key = (kind, name, axis)
        if key not in self._mean_grams:
            red = kernel_mean(self._ops["K"], axis, kind == "gram") if name == "K" else None
            if red is None:
                red = linalg.reduce_to_axis(self.factor(name, convention), axis, "mean",
                                            gram=True)
            lam = torch.linalg.eigvalsh(red.matrix.double()).flip(0).cpu().numpy()
            self._mean_grams[key] = (lam, red)
        return self._mean_grams[key]

    # ------------------------------------------------------------------ measures
    def effective_rank(self, name, axis=None, reduce=None, method=None, *,
                       convention="default", ncomp=None, rtol=None, max_applications=None,
                       n_applications=None, exact=None, block_size=None,
                       return_result=False):
        """Effective rank of an operator under a named convention (docs/conventions.md section 3.1).

        Parameters
        ----------
        name : {"K", "P", "PPt", "Theta", "J"}
        axis : {None, "trial", "time", "hidden"}
            Whole trajectory space, or the operator reduced to one axis.
        reduce : {None, "trace", "mean"}
            Partial trace, or compression onto inputs constant along the other axes. None:
            ``"trace"`` under ``"default"``, ``"mean"`` (the only choice) otherwise.
        method : {None, "pr", "var95"}
            ``"default"`` only (None: ``"pr"``); the other conventions define their number.
        convention : {"default", "reference", "figure"}, default="default"
            - ``"default"`` (this package): K, P P*, Theta themselves, ``pr`` or ``var95``.
            - ``"reference"`` (the reference code's ``Operator.effdim``): ``pr`` of the
              mean-compressed Gram of the operator, K^2, P P*, Theta^2; reproduces its
              printed effdims (e.g. hidden-axis P K P* 35.98 on a GRU H=64, B=20, T=90).
            - ``"figure"`` (the paper's "effective rank over GD" figure, poster Fig. 4, on
              ``axis="time"``): the mean-compressed Gram measured by
              :func:`~kpflow_sk.analysis.figure_rank` over its top ``ncomp`` eigenvalues.
        ncomp : None, "all" or int
            ``"figure"`` only: leading eigenvalues kept. None: 20 for K (and J, Theta), 60
            for P (the authors' over-training script, the poster's right panel); ``"all"``
            for the before-training panel.
        rtol : float, optional
            Relative tolerance of a randomized estimate: its budget grows until the ~95%
            interval half-width is at most ``rtol * value``, up to ``max_applications``
            (default ``linalg.DEFAULT_RTOL`` = 2% unless a budget is given).
        max_applications : int, optional
            Cap of the adaptive estimate (linalg's default cap when None).
        n_applications : int, optional
            Fixed budget of the randomized estimate (without ``rtol``).
        exact : bool or None
            Force the dense path (True) or the randomized one (False).
        block_size : int, optional
            Krylov block width of the randomized estimate (wider = fewer sequential passes).
        return_result : bool, default=False
            Return the :class:`kpflow_sk.linalg.EffectiveRank` (value, standard error,
            interval, applications used, ``converged``, ``hit_cap``, ``bound``) instead of
            the float; ``linalg.format_estimate(result)`` renders it.

        Returns
        -------
        float or EffectiveRank
            Calls with the same arguments return the same (cached) result: every estimate
            is seeded with ``random_state``.
        """
        reduce, method = resolve_measure(convention, axis, reduce, method, ncomp)
        # the key of the measure as resolved (on the whole space no reduction applies)
        key = ("rank", name, axis, None if axis is None else reduce, method, convention,
               ncomp, rtol, max_applications, n_applications, exact, block_size)
        res = self._ranks.get(key)
        if res is None:
            res = compute_rank(self, name, axis, reduce, method, convention, ncomp,
                               n_applications, exact, block_size, rtol, max_applications)
            self._ranks[key] = res
        return res if return_result else float(res.value)

    def spectrum(self, name, k=20, axis=None, reduce=None, *, convention="default",
                 rtol=None, max_applications=None, return_result=False):
        """Top-k eigenvalues (descending) of the measured operator, whole space or one axis.

        Parameters
        ----------
        name, axis, reduce, convention
            As in :meth:`effective_rank`: ``"default"`` gives the eigenvalues of K, P P*,
            Theta; ``"reference"`` and ``"figure"`` those of the (mean-compressed) Gram
            K^2, P P*, Theta^2 that their ranks are computed from.
        k : int, default=20
        rtol, max_applications
            Accuracy of a randomized spectrum (see :meth:`effective_rank`).
        return_result : bool, default=False
            Return the :class:`kpflow_sk.linalg.Spectrum` (values, per-eigenvalue errors,
            applications, ``converged``, ``hit_cap``) instead of the array.

        Returns
        -------
        ndarray of shape (k,) or Spectrum
        """
        reduce, _ = resolve_measure(convention, axis, reduce, None, None)
        if convention != "default" and axis is not None:
            res = mean_spectrum(self, name, k, axis)
        else:
            key = ("spectrum", name, k, axis, reduce, convention, rtol, max_applications)
            res = self._ranks.get(key)
            if res is None:
                A = self.factor(name, convention, smaller_side=axis is None)
                res = linalg.spectrum(A, k=k, axis=axis, reduce=reduce, gram=True,
                                      random_state=self.random_state, rtol=rtol,
                                      max_applications=max_applications)
                self._ranks[key] = res
        return res if return_result else np.array(res.values, dtype=np.float64)

    def alignment(self, a, b, *, rtol=None, max_applications=None, return_result=False):
        """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` of two named operators.

        Parameters
        ----------
        a, b : str
            Operator names (see :meth:`operator`).
        rtol, max_applications
            Accuracy of the randomized estimate (default 2%, see :meth:`effective_rank`).
        return_result : bool, default=False
            Return the :class:`kpflow_sk.linalg.Alignment` (value, standard error, interval,
            applications) instead of the float.

        Returns
        -------
        float or Alignment
        """
        key = ("alignment", a, b, rtol, max_applications)
        res = self._ranks.get(key)
        if res is None:
            res = linalg.alignment(self.operator(a), self.operator(b),
                                   random_state=self.random_state, rtol=rtol,
                                   max_applications=max_applications)
            self._ranks[key] = res
        return res if return_result else float(res.value)

    def collapse_dim(self, *, rtol=None, return_result=False):
        """Collapse dimension (``collapse_dim_``): see :func:`kpflow_sk.analysis.collapse_dim`."""
        return collapse_dim(self, rtol=rtol, return_result=return_result)

    def task_updates(self):
        """Per-task updates ``dz_j = - Theta err_j``: see :func:`task_updates`."""
        return task_updates(self)

    def task_alignment(self):
        """``(n_tasks, n_tasks)`` cosines of the per-task updates ``dz_i`` and ``dz_j``.

        Ordered by sorted task label; None without task labels or without ``err``.
        """
        return task_alignment(self)

    def history_record(self):
        """The measured fields of a ``kp_history_`` record (see
        :data:`kpflow_sk.analysis.HISTORY_FIELDS`; without iteration and losses)."""
        from kpflow_sk.analysis._tracking import measures_record

        return measures_record(self)

    def table(self, names=("K", "P", "Theta"), axes=AXES, reductions=REDUCTIONS,
              methods=METHODS, *, convention="default", ncomp=None, rtol=None):
        """The table of effective ranks: conventions x operators x axes x reductions x methods.

        Parameters
        ----------
        names, axes, reductions, methods : sequences
            What the ``"default"`` convention measures (``reductions`` and ``methods`` are
            fixed by the other conventions).
        convention : str or sequence of str, default="default"
            One of ``"default"``, ``"reference"``, ``"figure"``, several, or ``"all"``.
            ``"figure"`` rows are on the time axis only (the paper's figure).
        ncomp : None, "all" or int
            ``ncomp`` of the ``"figure"`` rows (see :meth:`effective_rank`).
        rtol : float, optional
            Relative tolerance of the randomized entries (default 2%).

        Returns
        -------
        list of dict
            Records ``{"convention", "operator", "axis", "reduce", "method", "rank",
            "stderr", "interval", "n_applications", "exact", "converged", "hit_cap",
            "bound", "estimate", "ncomp"}``: ``estimate`` is
            ``linalg.format_estimate`` of the result (``"38.5 ± 0.4 (1%, ...)"``, ``"≥ ..."``
            for a bound, ``"hit cap"`` when the tolerance was not met within the cap);
            ``reduce`` is None on the whole space, ``ncomp`` None except for ``"figure"``.
            ``pandas.DataFrame(D.table())`` makes a table.
        """
        return rank_table(self, names, axes, reductions, methods, convention=convention,
                          ncomp=ncomp, rtol=rtol)

    def summary(self):
        """The headline numbers: shapes, loss, collapse dim, ranks of K, P, Theta (in the
        ``"default"`` convention, named by the ``convention`` field), task alignment."""
        B, T, H = self.trajectory.shape
        out = {"n_trials": B, "n_timesteps": T, "hidden_size": H,
               "n_params": self.trajectory.parameter_space.size, "loss": self.loss}
        out.update(self.history_record())
        if self.err is not None:
            out["loss_gradient_norm"] = float(self.err.norm())
            out["dz_norm"] = float(self.dz.norm())
        return out

    def __repr__(self):
        B, T, H = self.trajectory.shape
        return (f"KPDecomposition(cell={self.trajectory.cell!r}, B={B}, T={T}, H={H}, "
                f"strategy={self.trajectory.strategy!r})")


