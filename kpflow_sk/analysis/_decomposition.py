"""``KPDecomposition``: the KPFlow operators of a model on a batch, and their measures."""

from __future__ import annotations

import numpy as np
import torch

from kpflow_sk import linalg
from kpflow_sk.operators import Trajectory, kp_operators

__all__ = ["KPDecomposition", "MEASURED_OPERATORS"]

#: name -> (description, how it is measured). Non-symmetric operators (J, P) are measured
#: through their Gram A A* (DESIGN.md section 3).
MEASURED_OPERATORS = {
    "K": "parameter operator K = J J*",
    "P": "propagator P, measured through its Gram P P*",
    "PPt": "P P*",
    "Theta": "hidden-state NTK Theta = P K P*",
    "J": "parameter Jacobian J, measured through its Gram J J* (= K)",
}
AXES = (None, "trial", "time", "hidden")
# operator applications per whole-space rank while tracking (accuracy: a few percent)
_TRACKING_BUDGET = 32
REDUCTIONS = ("trace", "mean")
METHODS = ("pr", "var95")


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

    Attributes
    ----------
    X, Z, err, adjoint, dz : Tensor of shape (B, T, .)
        ``adjoint = P* err`` (the BPTT gradient dL/dZ through the recurrence) and
        ``dz = - Theta err`` (the hidden-trajectory velocity under gradient flow).
    J, K, P, Pinv, Theta, PPt : TrajectoryOperator
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
    """

    def __init__(self, cell, params, X, Z=None, *, h0=None, aux=None, loss_fn=None, err=None,
                 task_ids=None, strategy="auto", memory_budget=None, random_state=None,
                 n_probes=None):
        self.trajectory = Trajectory(cell, params, X, Z, h0=h0, aux=aux, strategy=strategy,
                                     memory_budget=memory_budget)
        traj = self.trajectory
        self._ops = kp_operators(traj)
        self.random_state = random_state
        self.n_probes = n_probes
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

    def _measured(self, name, whole_space):
        """The factor A with G = A A* for a measured operator (the smaller side for axis=None)."""
        if name not in MEASURED_OPERATORS:
            raise ValueError(f"unknown operator {name!r}; valid choices: "
                             f"{sorted(MEASURED_OPERATORS)}")
        ops = self._ops
        A = {"K": ops["J"], "J": ops["J"], "P": ops["P"], "PPt": ops["P"],
             "Theta": ops["Theta"].PJ}[name]
        if whole_space and np.prod(A.in_shape) < np.prod(A.out_shape):
            # A A* and A* A share their nonzero spectrum: measure on the smaller space
            A = A.T
        return A

    def _kw(self, n_applications, block_size=None):
        kw = {"random_state": self.random_state}
        n = n_applications if n_applications is not None else self.n_probes
        if n is not None:
            kw["n_applications"] = n
        if block_size is not None:
            kw["block_size"] = block_size
        return kw

    # ------------------------------------------------------------------ measures
    def effective_rank(self, name, axis=None, reduce="trace", method="pr", *,
                       n_applications=None, exact=None, block_size=None):
        """Effective rank of an operator (DESIGN.md section 3).

        Parameters
        ----------
        name : {"K", "P", "PPt", "Theta", "J"}
        axis : {None, "trial", "time", "hidden"}
            Whole trajectory space, or the operator reduced to one axis.
        reduce : {"trace", "mean"}
            Partial trace, or compression onto inputs constant along the other axes.
        method : {"pr", "var95"}
        n_applications : int, optional
            Budget of the randomized estimate.
        exact : bool or None
            Force the dense path (True) or the randomized one (False).
        block_size : int, optional
            Krylov block width of the randomized estimate (wider = fewer sequential passes).

        Returns
        -------
        float
        """
        A = self._measured(name, axis is None)
        res = linalg.effective_rank(A, method=method, axis=axis, reduce=reduce, gram=True,
                                    exact=exact, **self._kw(n_applications, block_size))
        return float(res.value)

    def spectrum(self, name, k=20, axis=None, reduce="trace"):
        """Top-k eigenvalues (descending) of the operator's Gram, whole space or one axis.

        Returns
        -------
        ndarray of shape (k,)
        """
        A = self._measured(name, axis is None)
        res = linalg.spectrum(A, k=k, axis=axis, reduce=reduce, gram=True,
                              random_state=self.random_state)
        return np.array(res.values, dtype=np.float64)

    def alignment(self, a, b):
        """Frobenius cosine ``tr(A B*) / sqrt(tr(A A*) tr(B B*))`` of two named operators."""
        res = linalg.alignment(self.operator(a), self.operator(b),
                               random_state=self.random_state)
        return float(res.value)

    def collapse_dim(self):
        """Participation ratio of Theta on the whole trajectory space (``collapse_dim_``)."""
        return self.effective_rank("Theta", axis=None, method="pr")

    def task_updates(self):
        """Per-task hidden-trajectory updates ``dz_j = - Theta err_j``.

        Returns
        -------
        labels : ndarray of shape (n_tasks,)
            Sorted task labels.
        dz : Tensor of shape (n_tasks, B, T, H)
        """
        if self.task_ids is None or self.err is None:
            return None, None
        labels = np.unique(self.task_ids)
        masks = torch.as_tensor(self.task_ids[None, :] == labels[:, None],
                                device=self.err.device)
        E = self.err.unsqueeze(0) * masks[:, :, None, None].to(self.err.dtype)
        dz = -(self.Theta @ E.movedim(0, -1)).movedim(-1, 0)
        return labels, dz

    def task_alignment(self):
        """``(n_tasks, n_tasks)`` cosines of the per-task updates ``dz_i`` and ``dz_j``.

        Ordered by sorted task label; None without task labels or without ``err``.
        """
        labels, dz = self.task_updates()
        if labels is None:
            return None
        flat = dz.reshape(len(labels), -1)
        norms = flat.norm(dim=1).clamp_min(torch.finfo(flat.dtype).tiny)
        cos = (flat @ flat.T) / (norms[:, None] * norms[None, :])
        cos = 0.5 * (cos + cos.T)
        cos.fill_diagonal_(1.0)
        return cos.detach().cpu().numpy()

    def history_record(self, n_applications=None):
        """The quantities tracked during fit (``kp_history_`` fields, without iteration/loss).

        Whole-space ranks use a tracking budget (``n_applications``, default ``n_probes`` or
        32 operator applications, in one wide Krylov block plus Hutchinson probes: a few
        sequential passes instead of dozens); time-axis ranks (``reduce="mean"``) are exact.
        """
        budget = n_applications or self.n_probes or _TRACKING_BUDGET
        rec = {}
        for name in ("K", "P", "Theta"):
            # exact=False: never densify while tracking (the Krylov space covers a small space
            # exactly within the budget anyway)
            rec[f"rank_{name}"] = self.effective_rank(
                name, axis=None, method="pr", n_applications=budget, exact=False,
                block_size=max(1, budget // 4))
            rec[f"rank_{name}_time"] = self.effective_rank(name, axis="time", reduce="mean")
        rec["collapse_dim"] = rec["rank_Theta"]
        ta = self.task_alignment()
        rec["task_alignment"] = None if ta is None else ta.tolist()
        return rec

    def table(self, names=("K", "P", "Theta"), axes=AXES, reductions=REDUCTIONS,
              methods=METHODS):
        """The full table of effective ranks: operators x axes x reductions x definitions.

        Returns
        -------
        list of dict
            Records ``{"operator", "axis", "reduce", "method", "rank"}`` (``reduce`` is None
            on the whole space); ``pandas.DataFrame(D.table())`` makes a table.
        """
        rows = []
        for name in names:
            for axis in axes:
                for reduce in ((None,) if axis is None else reductions):
                    for method in methods:
                        r = self.effective_rank(name, axis=axis, reduce=reduce or "trace",
                                                method=method)
                        rows.append({"operator": name, "axis": axis or "all",
                                     "reduce": reduce, "method": method, "rank": r})
        return rows

    def summary(self):
        """The headline numbers: shapes, collapse dim, ranks of K, P, Theta, task alignment."""
        B, T, H = self.trajectory.shape
        out = {"n_trials": B, "n_timesteps": T, "hidden_size": H,
               "n_params": self.trajectory.parameter_space.size}
        out.update(self.history_record())
        if self.err is not None:
            out["loss_gradient_norm"] = float(self.err.norm())
            out["dz_norm"] = float(self.dz.norm())
        return out

    def __repr__(self):
        B, T, H = self.trajectory.shape
        return (f"KPDecomposition(cell={self.trajectory.cell!r}, B={B}, T={T}, H={H}, "
                f"strategy={self.trajectory.strategy!r})")


