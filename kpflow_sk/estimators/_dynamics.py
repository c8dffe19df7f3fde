"""Estimator entry points to :mod:`kpflow_sk.dynamics`: fixed points and Lyapunov exponents of
the fitted network (thin wrappers: the math lives in the dynamics package)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from kpflow_sk import dynamics

__all__ = ["DynamicsMixin"]


class DynamicsMixin:
    """``fixed_points``, ``lyapunov_spectrum`` and ``finite_time_exponents`` of a fitted
    recurrent estimator (mixed into :class:`BaseRecurrentEstimator`)."""

    def _cell_and_params(self):
        check_is_fitted(self)
        params = {k: v.detach() for k, v in self.module_.cell_params().items()}
        return self.module_.cell, params

    def _inputs_tensor(self, X, dtype):
        X3 = self._check_X_predict(X)
        return torch.as_tensor(X3, dtype=dtype, device=self.device_)

    def fixed_points(self, x=None, X=None, *, n_inits=256, noise=0.0, random_state=None,
                     **options):
        """Fixed and slow points of the fitted cell under the constant input ``x``.

        The searches start from hidden states the network visits on ``X`` (default: the
        analysis batch of fit, ``kp_n_trials`` training trials).

        Parameters
        ----------
        x : array-like of shape (n_features,), optional
            The constant input (zeros when None), e.g. a task's fixation input.
        X : array-like of shape (n_samples, n_timesteps, n_features), optional
            Trials whose hidden states seed the searches.
        n_inits : int, default=256
            Number of initial states drawn from those trajectories.
        noise : float, default=0.0
            Standard deviation of Gaussian noise added to the initial states.
        random_state : int, RandomState or None
        **options
            Passed to :func:`kpflow_sk.dynamics.find_fixed_points` (``tol``, ``slow_tol``,
            ``optimizer``, ``max_iter``, ``unique_tol``, ...).

        Returns
        -------
        FixedPoints
        """
        cell, params = self._cell_and_params()
        if X is None:
            X3 = np.asarray(self._kp_batch["X"])
        else:
            X3 = self._check_X_predict(X)
        Z = self._forward_numpy(X3, "hidden")
        return dynamics.find_fixed_points(cell, params, x, Z, n_inits=n_inits, noise=noise,
                                          random_state=random_state, **options)

    def lyapunov_spectrum(self, X, *, k=None, burn_in=0, **options):
        """Lyapunov exponents of the fitted network along its trajectories on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features)
            Inputs driving the dynamics (zeros or a constant input: autonomous dynamics).
        k : int, optional
            Leading exponents to compute (default: all ``hidden_size``).
        burn_in : int, default=0
            Leading steps left out of the average.
        **options
            Passed to :func:`kpflow_sk.dynamics.lyapunov_spectrum`.

        Returns
        -------
        LyapunovSpectrum
            ``exponents`` of shape (n_samples, k), per step.
        """
        cell, params = self._cell_and_params()
        X = self._inputs_tensor(X, options.get("dtype") or torch.float64)
        return dynamics.lyapunov_spectrum(cell, params, X, k=k, burn_in=burn_in, **options)

    def finite_time_exponents(self, X, s=1, times=None, **options):
        """Finite-time exponents ``log sigma_i(Phi(t, s)) / (t - s)`` on ``X`` (from P's blocks).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features)
        s : int, default=1
            Start step (1-based, ``z_s``).
        times : array-like of int, optional
            End steps (default: every step after s).
        **options
            Passed to :func:`kpflow_sk.dynamics.finite_time_exponents` (``chunk``).

        Returns
        -------
        FiniteTimeExponents
        """
        from kpflow_sk.operators import Propagator, Trajectory

        cell, params = self._cell_and_params()
        params = {k: v.to(torch.float64) for k, v in params.items()}
        traj = Trajectory(cell, params, self._inputs_tensor(X, torch.float64))
        return dynamics.finite_time_exponents(Propagator(traj), s, times, **options)
