"""Result records of the dynamics routines: fixed points, Lyapunov spectra, finite-time
exponents."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FixedPoints", "LyapunovSpectrum", "FiniteTimeExponents", "LABELS"]

#: point labels: "stable" (no unstable mode), "saddle" (some), "unstable" (all modes
#: unstable), "slow" (a local minimum of q above the fixed-point tolerance)
LABELS = ("stable", "saddle", "unstable", "slow")


@dataclass(frozen=True)
class FixedPoints:
    """Fixed and slow points of a cell under a constant input (one row per unique point).

    Attributes
    ----------
    states : ndarray of shape (n_points, H)
        The points ``z*``, sorted by ``q``.
    q : ndarray of shape (n_points,)
        ``q(z*) = 1/2 |F(z*, x) - z*|^2`` (``1/2 |f(z*, x)|^2`` for a flow).
    jacobians : ndarray of shape (n_points, H, H)
        ``dF/dz`` at the points (``df/dz`` for a flow).
    eigenvalues : ndarray of shape (n_points, H), complex
        Eigenvalues of the Jacobians, sorted by decreasing modulus (real part for a flow).
    n_unstable : ndarray of int of shape (n_points,)
        Modes outside the unit circle (right of the imaginary axis for a flow).
    labels : ndarray of str of shape (n_points,)
        One of :data:`LABELS`.
    n_inits : ndarray of int of shape (n_points,)
        Initial states whose search ended at this point (after de-duplication).
    x : ndarray of shape (D,)
        The constant input.
    continuous : bool
        True when the points are zeros of a vector field (``node``).
    tol : float
        The fixed-point tolerance on q.
    n_initial_states : int
        Searches run.
    n_converged : int
        Searches that ended with ``q <= tol`` (before de-duplication).
    n_iter : int
        Optimiser iterations used.
    optimizer : str
    n_outliers : int
        Searches that met the tolerance (or ``slow_tol``) but ended far outside the initial
        states and were dropped (see ``outlier_scale``).
    final_q : ndarray of shape (n_initial_states,)
        q where each search ended.
    """

    states: np.ndarray
    q: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    n_unstable: np.ndarray
    labels: np.ndarray
    n_inits: np.ndarray
    x: np.ndarray
    continuous: bool
    tol: float
    n_initial_states: int
    n_converged: int
    n_iter: int
    optimizer: str
    n_outliers: int = 0
    final_q: np.ndarray = field(repr=False, default=None)

    def __len__(self):
        return int(self.states.shape[0])

    @property
    def is_stable(self):
        """Boolean mask of the stable points (ndarray of shape (n_points,))."""
        return self.labels == "stable"

    def counts(self):
        """``{label: number of points}`` for every label in :data:`LABELS`."""
        return {lab: int((self.labels == lab).sum()) for lab in LABELS}

    def select(self, mask):
        """A FixedPoints with the rows where ``mask`` is True."""
        mask = np.asarray(mask)
        return FixedPoints(
            self.states[mask], self.q[mask], self.jacobians[mask], self.eigenvalues[mask],
            self.n_unstable[mask], self.labels[mask], self.n_inits[mask], self.x,
            self.continuous, self.tol, self.n_initial_states, self.n_converged, self.n_iter,
            self.optimizer, self.n_outliers, self.final_q)

    def to_frame(self):
        """One row per point: ``label, n_unstable, q, max_abs_eig`` (or ``max_real_eig``),
        ``n_inits`` and the state's coordinates ``z0 .. z{H-1}``.

        Requires pandas (an optional dependency: ``pip install pandas``).

        Returns
        -------
        pandas.DataFrame
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("FixedPoints.to_frame() needs pandas (pip install pandas)") from exc
        cols = {"label": self.labels, "n_unstable": self.n_unstable, "q": self.q}
        if self.continuous:
            cols["max_real_eig"] = (self.eigenvalues.real.max(-1) if len(self)
                                    else np.zeros(0))
        else:
            cols["max_abs_eig"] = (np.abs(self.eigenvalues).max(-1) if len(self)
                                   else np.zeros(0))
        cols["n_inits"] = self.n_inits
        frame = pd.DataFrame(cols)
        H = self.states.shape[1]
        coords = pd.DataFrame(self.states, columns=[f"z{i}" for i in range(H)])
        return pd.concat([frame, coords], axis=1)

    def __repr__(self):
        c = self.counts()
        parts = ", ".join(f"{v} {k}" for k, v in c.items() if v)
        return (f"FixedPoints({len(self)} points: {parts or 'none'}; {self.n_converged}/"
                f"{self.n_initial_states} searches reached q <= {self.tol:g})")


@dataclass(frozen=True)
class LyapunovSpectrum:
    """Lyapunov exponents along trajectories (Benettin's QR method), per trial.

    Attributes
    ----------
    exponents : ndarray of shape (B, k)
        Per trial, descending: ``(1 / n) sum_t log |R_t[i, i]|`` over the ``n`` steps after
        ``burn_in``, in units of 1 / step (per observation interval).
    local : ndarray of shape (B, T, k)
        ``log |R_t[i, i]|`` at every step (the burn-in steps included), so running
        averages (the exponents' time course) can be formed.
    burn_in : int
        Steps whose ``R_t`` are left out of the average (the frame still evolves over them).
    """

    exponents: np.ndarray
    local: np.ndarray
    burn_in: int

    @property
    def mean(self):
        """Exponents averaged over trials, shape (k,)."""
        return self.exponents.mean(0)

    def running(self):
        """Running estimates ``(1 / (t - burn_in)) sum_{burn_in < s <= t} log|R_s|``,
        shape (B, T - burn_in, k)."""
        L = self.local[:, self.burn_in:]
        n = np.arange(1, L.shape[1] + 1)[None, :, None]
        return np.cumsum(L, axis=1) / n


@dataclass(frozen=True)
class FiniteTimeExponents:
    """Finite-time Lyapunov exponents ``log sigma_i(Phi(t, s)) / (t - s)`` from P's blocks.

    ``Phi(t, s) = A_t ... A_{s+1}`` is the block (t, s) of the propagator P (docs/conventions.md
    section 2); steps are 1-based like ``z_t`` (``Z[:, t-1] = z_t``).

    Attributes
    ----------
    s : int
        The start step.
    times : ndarray of int of shape (n_times,)
        End steps ``t > s``.
    exponents : ndarray of shape (B, n_times, H)
        Per trial and end step, descending.
    singular_values : ndarray of shape (B, n_times, H)
        ``sigma_i(Phi(t, s))``, descending.
    """

    s: int
    times: np.ndarray
    exponents: np.ndarray
    singular_values: np.ndarray

    @property
    def mean(self):
        """Exponents averaged over trials, shape (n_times, H) (the time course)."""
        return self.exponents.mean(0)
