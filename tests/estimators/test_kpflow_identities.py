"""``kp_decompose_`` on a fitted estimator satisfies docs/conventions.md s. 2, checked against dense
autograd through the estimator's own loss (mask and sample weights included), float64."""

import numpy as np
import pytest
import torch
from torch.func import jvp, vjp

pytest.importorskip("kpflow_sk.analysis")

from kpflow_sk.cells import rollout  # noqa: E402
from kpflow_sk.estimators import RecurrentClassifier, RecurrentRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

B, T, D, H = 6, 5, 2, 4


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(B, T, D))
    y = np.stack([np.cumsum(X[..., 0], 1), X[..., 1]], axis=-1) * 0.5
    mask = (rng.rand(B, T) > 0.3).astype(float)
    mask[:, -1] = 1.0
    sw = rng.uniform(0.5, 2.0, size=B)
    tasks = np.array(["go", "anti", "go", "anti", "wait", "go"])
    return X, y, mask, sw, tasks


CASES = {
    "gru": dict(cell="gru"),
    "rnn": dict(cell="rnn"),
    "leaky_rnn": dict(cell="leaky_rnn", alpha=0.5),
    "node": dict(cell="node", ode_solver="rk4", ode_step_size=0.5),
}


def _fit(case, cls=RecurrentRegressor, target="seq"):
    X, y, mask, sw, tasks = _data()
    kw = dict(hidden_size=H, max_iter=3, learning_rate=1e-2, random_state=0, device="cpu",
              dtype="float64", kp_n_trials=B, **CASES[case])
    if cls is RecurrentClassifier:
        y = (y[..., 0] > 0).astype(int)          # per-step labels
    if target == "last":
        y, mask = y[:, -1], None
    est = cls(**kw).fit(X, y, task_ids=tasks, sample_weight=sw, mask=mask)
    return est, X, y, mask, sw, tasks


def _own_loss(est, X, y, mask, sw):
    """L(theta): the estimator's training loss on the batch, through the functional cell."""
    Xt = torch.from_numpy(X)
    target, seq2seq = est._validate_targets(y, X, 3, reset=False)
    w = est._combine_weights(sw, mask, seq2seq, X.shape[1])
    target = torch.from_numpy(target)
    w = torch.from_numpy(w)
    W, b = est.module_.readout.weight.detach(), est.module_.readout.bias.detach()

    def loss_of_Z(Z):
        y_hat = (Z if seq2seq else Z[:, -1]) @ W.T + b
        return est.get_loss(y_hat, target, w)

    def loss_of_theta(params):
        Z, _ = rollout(est.module_.cell, params, Xt)
        return loss_of_Z(Z)

    return loss_of_Z, loss_of_theta, Xt


def _theta(est):
    return {k: v.detach().clone() for k, v in est.module_.cell_params().items()}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cls, target", [(RecurrentRegressor, "seq"),
                                         (RecurrentRegressor, "last"),
                                         (RecurrentClassifier, "seq")])
def test_identities_on_fitted_model(case, cls, target):
    est, X, y, mask, sw, tasks = _fit(case, cls, target)
    Dk, Z, err, theta, loss_of_theta, Xt = check_trajectory_identities(est, X, y, mask, sw)
    cell = est.module_.cell

    # dz = - Theta err with Theta = J_Z J_Z^T (J_Z = dZ/dtheta through the unrolled network)
    def Z_of(params):
        return rollout(cell, params, Xt)[0]

    _, pull = vjp(Z_of, theta)
    (g,) = pull(err)                                  # J_Z^T err
    _, push = jvp(Z_of, (theta,), (g,))               # J_Z J_Z^T err
    torch.testing.assert_close(Dk.dz, -push, rtol=1e-9, atol=1e-12)

    # one small plain-GD step on theta moves Z by eta * dz to first order
    leaf = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    grads = torch.autograd.grad(loss_of_theta(leaf), list(leaf.values()))
    residuals = []
    for eta in (1e-3, 1e-4):
        stepped = {k: v - eta * gk for (k, v), gk in zip(theta.items(), grads)}
        dZ = Z_of(stepped) - Z
        residuals.append(float((dZ - eta * Dk.dz).norm() / (eta * Dk.dz.norm())))
    assert residuals[1] < 2e-3
    assert residuals[1] < 0.2 * residuals[0]         # the error is O(eta)


def check_trajectory_identities(est, X, y, mask, sw):
    """The trajectory-side identities of ``est.kp_decompose_`` against autograd of the
    estimator's own loss: Z, err = dL/dZ, P* err = BPTT (shared with the node tests).

    Returns
    -------
    Dk, Z, err, theta, loss_of_theta, Xt
        What the parameter-side checks (dz, the GD step) need.
    """
    Dk = est.kp_decompose_
    loss_of_Z, loss_of_theta, Xt = _own_loss(est, X, y, mask, sw)
    theta = _theta(est)
    cell = est.module_.cell
    B, T, H = Dk.Z.shape

    # Z: the analysis trajectory is the trained network's
    Z = torch.from_numpy(est.transform(X))
    torch.testing.assert_close(Dk.Z, Z, rtol=0, atol=1e-12)

    # err = dL/dZ (Z a leaf) of the estimator's own loss
    Zl = Z.clone().requires_grad_(True)
    (err,) = torch.autograd.grad(loss_of_Z(Zl), Zl)
    torch.testing.assert_close(Dk.err, err, rtol=1e-10, atol=1e-12)

    # adjoint = BPTT gradient: total derivative of L w.r.t. z_t through the recurrence,
    # obtained as dL/d(forcing) of z_t = F(z_{t-1}, x_t) + forcing_t at forcing = 0
    def unroll_forced(forcing):
        z = Xt.new_zeros(B, H)
        zs = []
        for t in range(T):
            a = cell.prepare(theta, z, Xt[:, t])
            z = cell.step(theta, z, Xt[:, t], a) + forcing[:, t]
            zs.append(z)
        return torch.stack(zs, 1)

    forcing = torch.zeros(B, T, H, dtype=torch.float64, requires_grad=True)
    (bptt,) = torch.autograd.grad(loss_of_Z(unroll_forced(forcing)), forcing)
    torch.testing.assert_close(Dk.adjoint, bptt, rtol=1e-9, atol=1e-12)
    return Dk, Z, err, theta, loss_of_theta, Xt


def test_task_alignment_matches_per_task_updates():
    est, X, y, mask, sw, tasks = _fit("gru")
    ta = est.task_alignment_
    labels = np.unique(tasks)                          # sorted: anti, go, wait
    assert ta.shape == (3, 3)
    np.testing.assert_allclose(ta, ta.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(ta), 1.0)
    Dk = est.kp_decompose_
    dz = []
    for lab in labels:
        e = Dk.err * torch.from_numpy(tasks == lab)[:, None, None]
        dz.append(-(Dk.Theta @ e).reshape(-1))
    dz = torch.stack(dz)
    cos = (dz @ dz.T) / (dz.norm(dim=1)[:, None] * dz.norm(dim=1)[None, :])
    np.testing.assert_allclose(ta, cos.numpy(), rtol=1e-8, atol=1e-10)
    # the per-task updates add up to the full update
    torch.testing.assert_close(dz.sum(0), Dk.dz.reshape(-1), rtol=1e-9, atol=1e-12)


def test_task_alignment_none_without_task_ids():
    X, y, mask, sw, _ = _data()
    est = RecurrentRegressor(hidden_size=H, max_iter=2, random_state=0, dtype="float64",
                             device="cpu").fit(X, y, mask=mask)
    assert est.task_alignment_ is None


def test_collapse_dim_is_participation_ratio_of_theta():
    est, X, y, mask, sw, tasks = _fit("gru")
    cell, theta, Xt = est.module_.cell, _theta(est), torch.from_numpy(X)
    names = list(theta)
    flat = torch.cat([theta[n].reshape(-1) for n in names])

    def Z_flat(v):
        params, i = {}, 0
        for n in names:
            m = theta[n].numel()
            params[n] = v[i:i + m].reshape(theta[n].shape)
            i += m
        return rollout(cell, params, Xt)[0].reshape(-1)

    JZ = torch.autograd.functional.jacobian(Z_flat, flat)
    Theta = JZ @ JZ.T
    pr = float(torch.trace(Theta) ** 2 / (Theta * Theta).sum())
    assert est.collapse_dim_ == pytest.approx(pr, rel=1e-6)


def test_analysis_batch_is_stratified_by_task():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3, 2))
    y = rng.normal(size=(40, 3, 1))
    tasks = np.repeat([0, 1, 2, 3], [4, 8, 12, 16])
    est = RecurrentRegressor(hidden_size=3, max_iter=1, random_state=0, kp_n_trials=10,
                             device="cpu").fit(X, y, task_ids=tasks)
    picked = est._kp_batch["task_ids"]
    assert len(picked) == 10
    np.testing.assert_array_equal(np.bincount(picked), [1, 2, 3, 4])
    assert est.kp_decompose_.Z.shape == (10, 3, 3)


def test_decompose_on_new_data():
    est, X, y, mask, sw, tasks = _fit("gru")
    Dk = est.decompose(X, y, tasks, sample_weight=sw, mask=mask)
    torch.testing.assert_close(Dk.err, est.kp_decompose_.err, rtol=1e-12, atol=1e-14)
    X2 = X[:3]
    D2 = est.decompose(X2, y[:3])
    assert D2.Z.shape == (3, T, H) and D2.task_alignment() is None


@pytest.mark.parametrize("case", ["gru", "leaky_rnn"])
def test_estimator_sgd_step_moves_Z_by_eta_dz(case):
    """The estimator's own training step (plain SGD, full batch) realises eta * dz."""
    X, y, mask, sw, tasks = _data()
    eta = 1e-4
    kw = dict(hidden_size=H, optimizer="sgd", learning_rate=eta, batch_size=B,
              random_state=0, device="cpu", dtype="float64", kp_n_trials=B, **CASES[case])
    fit = dict(task_ids=tasks, sample_weight=sw, mask=mask)
    before = RecurrentRegressor(max_iter=2, **kw).fit(X, y, **fit)
    after = RecurrentRegressor(max_iter=3, **kw).fit(X, y, **fit)
    dZ = torch.from_numpy(after.transform(X) - before.transform(X))
    dz = before.kp_decompose_.dz
    assert float((dZ - eta * dz).norm() / (eta * dz.norm())) < 1e-3


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_decomposition_matches_cpu():
    """Training and analysis on the GPU; the same weights analysed on the CPU agree."""
    import pickle

    X, y, mask, sw, tasks = _data()
    est = RecurrentRegressor(hidden_size=H, max_iter=3, random_state=0, device="cuda",
                             dtype="float64", kp_n_trials=B).fit(X, y, task_ids=tasks,
                                                                  sample_weight=sw, mask=mask)
    assert est.kp_decompose_.dz.is_cuda
    cpu = pickle.loads(pickle.dumps(est))
    cpu.device_ = torch.device("cpu")
    cpu.module_ = cpu.module_.to("cpu")
    torch.testing.assert_close(est.kp_decompose_.dz.cpu(), cpu.kp_decompose_.dz,
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(est.task_alignment_, cpu.task_alignment_, rtol=1e-8, atol=1e-10)
    assert est.collapse_dim_ == pytest.approx(cpu.collapse_dim_, rel=1e-6)
