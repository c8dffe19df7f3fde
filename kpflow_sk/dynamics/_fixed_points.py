"""Fixed and slow points of a cell under a constant input (Sussillo & Barak 2013).

Minimise the speed ``q(z) = 1/2 |F(z, x) - z|^2`` (``1/2 |f(z, x)|^2`` for a flow) from many
initial states at once, keep the searches that end with ``q <= tol`` (fixed points) and, if
asked, those that end in a local minimum with ``tol < q <= slow_tol`` (slow points),
de-duplicate, and linearize the system at each point.

Optimiser. All searches run as one problem, the sum of their q's over a batch ``(N, H)``:
``torch.optim.LBFGS`` (strong-Wolfe line search) by default, ``torch.optim.Adam`` on request
(what Golub & Sussillo's fixed-point-finder uses). The searches are independent, so the
gradient of the sum is every search's own gradient, obtained with one backward pass for the
whole batch. First-order methods crawl where q is flat -- near fixed points with modes close to
the unit circle (memory networks are full of them), where ``J_r = A - I`` is nearly singular
-- so Levenberg-Marquardt steps follow (the standard method for nonlinear least squares, as in
MINPACK / ``scipy.optimize.least_squares``), batched over the searches with the exact Jacobians
the linearization needs anyway; each search keeps its own damping and only steps that lower its
q. This brings true fixed points to machine precision and leaves slow points (local minima of
q above zero) where no step lowers q. The batched step is hand-written (a few lines over
``torch.linalg.solve_ex``): scipy's solver runs one search at a time on NumPy arrays.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from kpflow_sk.dynamics._results import FixedPoints
from kpflow_sk.dynamics._system import CellSystem, check_states

__all__ = ["find_fixed_points", "sample_initial_states", "OPTIMIZERS"]

#: optimiser name -> (torch.optim class, default learning rate, extra options)
OPTIMIZERS = {
    "lbfgs": (torch.optim.LBFGS, 1.0, dict(history_size=50, line_search_fn="strong_wolfe",
                                            tolerance_grad=0.0, tolerance_change=0.0)),
    "adam": (torch.optim.Adam, 1e-2, {}),
}
# optimiser iterations between convergence checks
_CHECK_EVERY = 25


def _check_int(name, v, low):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _check_nonneg(name, v, allow_none=False):
    if v is None and allow_none:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = float("nan")
    if not (f >= 0 and math.isfinite(f)):
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return f


def sample_initial_states(Z, n_inits, *, noise=0.0, random_state=None):
    """Initial states for the search, drawn from a model's own trajectories.

    Parameters
    ----------
    Z : array-like of shape (B, T, H) or (n_states, H)
        Hidden states (e.g. ``est.transform(X)``).
    n_inits : int
        How many to draw (without replacement while there are enough states).
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to each drawn state.
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of shape (n_inits, H)
    """
    n_inits = _check_int("n_inits", n_inits, 1)
    noise = _check_nonneg("noise", noise)
    Zt = torch.as_tensor(np.asarray(Z.detach().cpu() if torch.is_tensor(Z) else Z,
                                    dtype=np.float64))
    H = Zt.shape[-1] if Zt.ndim in (2, 3) else -1
    states = check_states("Z", Zt, H, torch.float64, "cpu").numpy()
    rng = check_random_state(random_state)
    n = states.shape[0]
    idx = rng.choice(n, size=n_inits, replace=n_inits > n)
    out = states[idx].copy()
    if noise > 0:
        out += noise * rng.standard_normal(out.shape)
    return out


def _optimise(system, Z0, optimizer, learning_rate, max_iter, tol):
    """Run the batched optimiser; returns (states, n_iter)."""
    cls, lr0, extra = OPTIMIZERS[optimizer]
    lr = lr0 if learning_rate is None else learning_rate
    Z = Z0.clone().requires_grad_(True)
    n_iter = 0
    with torch.enable_grad():
        if optimizer == "lbfgs":
            opt = cls([Z], lr=lr, max_iter=_CHECK_EVERY, **extra)
        else:
            opt = cls([Z], lr=lr, **extra)

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = system.q(Z).sum()
            loss.backward()
            return loss

        previous = math.inf
        while n_iter < max_iter:
            if optimizer == "lbfgs":
                opt.param_groups[0]["max_iter"] = min(_CHECK_EVERY, max_iter - n_iter)
                opt.step(closure)
                state = opt.state[opt.param_groups[0]["params"][0]]
                done = int(state.get("n_iter", 0)) - n_iter
                n_iter += max(done, 1)
            else:
                for _ in range(min(_CHECK_EVERY, max_iter - n_iter)):
                    opt.step(closure)
                    n_iter += 1
            with torch.no_grad():
                q = system.q(Z)
            if not torch.isfinite(q).all():
                break
            total = float(q.sum())
            if bool((q <= tol).all()) or total >= previous * (1 - 1e-12):
                break
            previous = total
    return Z.detach(), n_iter


def _levenberg_marquardt(system, Z, steps, floor=0.0, n_tries=10):
    """Up to ``steps`` batched Levenberg-Marquardt steps on the residual r(z).

    Per search: ``dz = -(J_r^T J_r + mu I)^-1 J_r^T r`` with the damping ``mu`` (relative to
    the largest eigenvalue of ``J_r^T J_r``) raised tenfold until the step lowers q (at most
    ``n_tries`` times) and lowered tenfold after a success; mu -> 0 is Newton's step. One
    ``eigh`` of ``J_r^T J_r`` per step serves every trial damping. A search leaves the active
    set when no step lowers its q or when ``q <= floor``.
    """
    Z = Z.clone()
    with torch.no_grad():
        q = system.q(Z)
    mu = torch.full_like(q, 1e-6)
    active = torch.isfinite(q) & (q > floor)
    for _ in range(steps):
        idx = torch.nonzero(active).squeeze(-1)
        if idx.numel() == 0:
            break
        Za, qa, ma = Z[idx], q[idx], mu[idx]
        Jr = system.residual_jacobian(Za)
        with torch.no_grad():
            r = system.residual(Za)
            evals, V = torch.linalg.eigh(Jr.transpose(-1, -2) @ Jr)
            evals = evals.clamp_min(0.0)
            Vg = (V.transpose(-1, -2) @ (Jr.transpose(-1, -2) @ r.unsqueeze(-1))).squeeze(-1)
            scale = evals[:, -1:].clamp_min(1e-300)
            moved = torch.zeros_like(qa, dtype=torch.bool)
            Znew, qnew, mu_new = Za.clone(), qa.clone(), ma.clone()
            m = ma.clone()
            for _ in range(n_tries):
                dz = -(V @ (Vg / (evals + m[:, None] * scale)).unsqueeze(-1)).squeeze(-1)
                Zt = Za + dz
                qt = system.q(Zt)
                ok = ~moved & torch.isfinite(qt) & (qt < qa) & torch.isfinite(Zt).all(-1)
                Znew = torch.where(ok.unsqueeze(-1), Zt, Znew)
                qnew = torch.where(ok, qt, qnew)
                mu_new = torch.where(ok, (m / 10).clamp_min(1e-15), mu_new)
                moved |= ok
                if bool(moved.all()):
                    break
                m = torch.where(moved, m, m * 10)
            Z[idx], q[idx], mu[idx] = Znew, qnew, mu_new
            active[idx] = moved & (qnew > floor)
    return Z


def _unique(states, q, unique_tol):
    """Greedy de-duplication: lowest q first; a point within ``unique_tol`` of a kept one
    is merged into it. Returns (kept indices, merged counts). Hand-written (a few lines over
    ``torch.cdist``); clustering libraries would merge chains of nearby points."""
    order = torch.argsort(q)
    S = states[order]
    D = torch.cdist(S, S)
    owner = torch.full((S.shape[0],), -1, dtype=torch.long, device=S.device)
    kept = []
    for i in range(S.shape[0]):
        if owner[i] >= 0:
            continue
        near = (D[i] <= unique_tol) & (owner < 0)
        owner[near] = len(kept)
        kept.append(i)
    counts = torch.bincount(owner, minlength=len(kept))
    return order[torch.tensor(kept, dtype=torch.long, device=S.device)], counts


def find_fixed_points(cell, params, x, initial_states, *, n_inits=None, noise=0.0, tol=1e-12,
                      slow_tol=None, optimizer="lbfgs", learning_rate=None, max_iter=500,
                      refine_steps=20, unique_tol=1e-3, outlier_scale=10.0, stability_tol=1e-9,
                      dtype=torch.float64, random_state=None):
    """Fixed and slow points of ``z -> F(z, x)`` (or ``dz/dt = f(z, x)``) for a constant x.

    Parameters
    ----------
    cell : Cell
        Any cell (built-in or user); a cell with ``vector_field_fn`` (``node``) is a flow.
    params : dict of str -> Tensor
        The cell parameters.
    x : array-like of shape (D,) or None
        The constant input (e.g. a task's fixation or context input); None for zeros.
    initial_states : array-like of shape (N, H) or (B, T, H)
        Where the searches start, typically the model's own hidden states.
    n_inits : int, optional
        Draw this many of ``initial_states`` at random (default: use them all).
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the initial states.
    tol : float, default=1e-12
        A search that ends with ``q <= tol`` found a fixed point.
    slow_tol : float, optional
        Also keep searches that end with ``tol < q <= slow_tol`` as slow points.
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        ``torch.optim`` optimiser run on the batch (see the module docstring).
    learning_rate : float, optional
        Default 1.0 for L-BFGS (its line search scales the step), 1e-2 for Adam.
    max_iter : int, default=500
        Optimiser iterations.
    refine_steps : int, default=20
        Batched Levenberg-Marquardt steps after the optimiser (0 to skip).
    unique_tol : float, default=1e-3
        Points closer than this (Euclidean) are one point.
    outlier_scale : float or None, default=10.0
        Points farther from the initial states' centroid than ``outlier_scale`` times the
        initial states' mean distance to it are dropped as outliers (as in Golub & Sussillo's
        fixed-point-finder): q can fall towards 0 far outside the visited region where the
        gates saturate (GRUs), without a fixed point there. None keeps every point.
    stability_tol : float, default=1e-9
        A mode is unstable when ``|lambda| > 1 + stability_tol`` (``Re lambda >
        stability_tol`` for a flow).
    dtype : torch.dtype, default=torch.float64
        Precision of the search (the parameters are cast to it).
    random_state : int, RandomState or None
        Seeds the choice of initial states and the noise.

    Returns
    -------
    FixedPoints

    Raises
    ------
    ValueError
        Wrong shape of ``x`` or ``initial_states``, non-finite states, ``n_inits < 1``, or an
        unknown optimiser.

    Warns
    -----
    ConvergenceWarning
        When some searches did not reach ``q <= tol``; says how many did.

    Examples
    --------
    >>> import torch
    >>> from kpflow_sk.cells import get_cell
    >>> cell = get_cell("rnn", input_size=1, hidden_size=4)
    >>> p = {k: 0.5 * v for k, v in cell.init_params(torch.Generator().manual_seed(0)).items()}
    >>> fps = find_fixed_points(cell, p, [0.0], torch.randn(8, 4), random_state=0)
    >>> fps.counts()["stable"]
    1
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid choices: {sorted(OPTIMIZERS)}")
    if n_inits is not None:
        n_inits = _check_int("n_inits", n_inits, 1)
    noise = _check_nonneg("noise", noise)
    tol = _check_nonneg("tol", tol)
    slow_tol = _check_nonneg("slow_tol", slow_tol, allow_none=True)
    unique_tol = _check_nonneg("unique_tol", unique_tol)
    outlier_scale = _check_nonneg("outlier_scale", outlier_scale, allow_none=True)
    stability_tol = _check_nonneg("stability_tol", stability_tol)
    max_iter = _check_int("max_iter", max_iter, 0)
    refine_steps = _check_int("refine_steps", refine_steps, 0)
    if learning_rate is not None and not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    if not isinstance(params, dict) or not params:
        raise ValueError("params must be a non-empty dict of parameter tensors")
    p0 = next(iter(params.values()))
    params = {k: v.detach().to(dtype) for k, v in params.items()}
    system = CellSystem(cell, params, x)
    H = system.hidden_size
    Z0 = check_states("initial_states", initial_states, H, dtype, p0.device)
    rng = check_random_state(random_state)
    if n_inits is not None:
        idx = rng.choice(Z0.shape[0], size=n_inits, replace=n_inits > Z0.shape[0])
        Z0 = Z0[torch.as_tensor(idx, device=Z0.device)]
    if noise > 0:
        Z0 = Z0 + noise * torch.as_tensor(rng.standard_normal(tuple(Z0.shape)), dtype=dtype,
                                          device=Z0.device)
    N = Z0.shape[0]

    Z, n_iter = _optimise(system, Z0, optimizer, learning_rate, max_iter, tol)
    if refine_steps:
        # refine to |r| ~ 1e-6 sqrt(tol): far below the tolerance, at a fraction of the cost of
        # chasing the last bits of round-off
        Z = _levenberg_marquardt(system, Z, refine_steps, floor=tol * 1e-12)
    with torch.no_grad():
        q = system.q(Z)
    finite = torch.isfinite(q) & torch.isfinite(Z).all(-1)
    converged = finite & (q <= tol)
    n_converged = int(converged.sum())
    keep = converged if slow_tol is None else finite & (q <= max(slow_tol, tol))
    n_outliers = 0
    if outlier_scale is not None:
        centre = Z0.mean(0)
        spread = float((Z0 - centre).norm(dim=-1).mean())
        if spread > 0:
            far = finite & ((Z - centre).norm(dim=-1) > outlier_scale * spread)
            n_outliers = int((far & keep).sum())
            keep = keep & ~far
    if n_converged < N:
        qf = q[finite]
        best = f"{float(qf.min()):.3g}" if qf.numel() else "nan"
        warnings.warn(
            f"{n_converged} of {N} fixed-point searches met the tolerance q <= {tol:g} after "
            f"{n_iter} {optimizer} iterations and {refine_steps} Levenberg-Marquardt steps "
            f"(smallest q {best}); raise max_iter or tol, or pass slow_tol to keep slow points",
            ConvergenceWarning, stacklevel=2)

    Zk, qk = Z[keep], q[keep]
    if Zk.shape[0]:
        idx, counts = _unique(Zk, qk, unique_tol)
        Zu, qu = Zk[idx], qk[idx]
        J = system.jacobian(Zu)
        ev = torch.linalg.eigvals(J)
        key = ev.real if system.continuous else ev.abs()
        ev = torch.gather(ev, -1, torch.argsort(key, dim=-1, descending=True))
        n_unst = system.n_unstable(ev, stability_tol)
        labels = np.where(n_unst.cpu().numpy() == 0, "stable",
                          np.where(n_unst.cpu().numpy() == H, "unstable", "saddle"))
        labels = np.where((qu > tol).cpu().numpy(), "slow", labels).astype(object)
        out = (Zu, qu, J, ev, n_unst, counts)
        Zu, qu, J, ev, n_unst, counts = (t.detach().cpu().numpy() for t in out)
    else:
        Zu, qu = np.zeros((0, H)), np.zeros(0)
        J, ev = np.zeros((0, H, H)), np.zeros((0, H), dtype=complex)
        n_unst, counts, labels = np.zeros(0, int), np.zeros(0, int), np.zeros(0, object)
    return FixedPoints(
        states=Zu, q=qu, jacobians=J, eigenvalues=ev, n_unstable=n_unst.astype(int),
        labels=np.asarray(labels, dtype=object), n_inits=counts.astype(int),
        x=system.x.cpu().numpy(), continuous=system.continuous, tol=tol, n_initial_states=N,
        n_converged=n_converged, n_iter=n_iter, optimizer=optimizer, n_outliers=n_outliers,
        final_q=q.detach().cpu().numpy())
