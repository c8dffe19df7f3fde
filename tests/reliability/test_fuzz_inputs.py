"""Hypothesis-generated inputs through fit / predict / decompose of every cell.

Every run ends either in success (finite predictions of the right shape, a finite analysis)
or in a ValueError / TypeError whose message names the bad argument: never another exception
type, a hang (pytest-timeout) or NaN predictions. Tiny sizes, one or two epochs, a bounded,
derandomized number of examples; Hypothesis keeps no database (nothing written to the tree).
"""

import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from kpflow_sk import RecurrentClassifier, RecurrentRegressor
from kpflow_sk.cells import Cell

# no example database, and Hypothesis' other caches (e.g. .hypothesis/constants) in the
# system's temporary folder, not in the working tree
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "kpflow_sk-hypothesis")
FUZZ = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class TanhCell(Cell):
    """A user cell (autodiff linearization)."""

    def parameter_shapes(self):
        return {"weight_hh": (self.hidden_size, self.hidden_size),
                "weight_ih": (self.hidden_size, self.input_size)}

    def step(self, params, z_prev, x_t, aux=None):
        return torch.tanh(z_prev @ params["weight_hh"].T + x_t @ params["weight_ih"].T)


CELLS = ["rnn", "gru", "leaky_rnn", "node", TanhCell]
# special values and whether they must be refused: NaN / inf always; 1e39 overflows float32
# (and is refused there); 1e30 and 1e18 are legal but may overflow inside the network
SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 1e39, "big": 1e30,
            "large": 1e18}


def _inject(draw, a, name, must, may, dtype_name):
    kind = draw(st.sampled_from(["none"] * 12 + list(SPECIALS)))
    if kind == "none" or a.size == 0:
        return a
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    a = a.copy()
    idx = tuple(draw(st.integers(0, s - 1)) for s in a.shape)
    with np.errstate(over="ignore"):
        a[idx] = SPECIALS[kind]             # 1e39 in a float32 input is inf already
    if kind in ("nan", "inf", "-inf") or (kind == "huge" and (
            dtype_name == "float32" or a.dtype == np.float32)):
        must.add(name)
    else:
        may.add(name)
    return a


@st.composite
def problems(draw):
    """(X, y, task_ids, est_dtype, must_fail_names, may_fail_names)."""
    must, may = set(), set()
    dtype_name = draw(st.sampled_from(["float32", "float64"]))
    n, T, d = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    x_layout = draw(st.sampled_from(["3d"] * 6 + ["2d"] * 2 + ["1d", "4d", "empty"]))
    X = rng.normal(size=(n, T, d))
    if x_layout == "2d":
        X, T = X[:, 0], 1
    elif x_layout == "1d":
        X = X[:, 0, 0]
        must.add("X")
    elif x_layout == "4d":
        X = X[..., None]
        must.add("X")
    elif x_layout == "empty":
        X = X[:0]
        must.add("X")
    X = X.astype(draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_])))
    X = _inject(draw, X, "X", must, may, dtype_name)
    y_layout = draw(st.sampled_from(["seq"] * 4 + ["one", "multi", "bad_n", "bad_T"]))
    o = draw(st.integers(1, 2))
    if y_layout == "seq" and x_layout != "2d":
        y = rng.normal(size=(n, T, o))
    elif y_layout == "bad_n":
        y = rng.normal(size=(n + 1,))
        must.add("y")
    elif y_layout == "bad_T" and x_layout in ("3d",):
        y = rng.normal(size=(n, T + 1, o))
        must.add("y")
    elif y_layout == "multi":
        y = rng.normal(size=(n, o))
    else:
        y = rng.normal(size=(n,))
    y = _inject(draw, y, "y", must, may, dtype_name)
    t_kind = draw(st.sampled_from(["none"] * 3 + ["int", "str"] * 2 + [
        "ragged", "with_none", "mixed", "nan"]))
    task_ids = {"none": None, "int": list(rng.randint(0, 2, size=n)),
                "str": list(rng.choice(["a", "b"], size=n)), "ragged": [0] * (n + 1),
                "with_none": [0] * (n - 1) + [None], "mixed": [0] * (n - 1) + ["a"],
                "nan": [0.0] * (n - 1) + [np.nan]}[t_kind]
    if t_kind in ("ragged", "with_none", "mixed", "nan"):
        must.add("task_ids")
    extra = {}
    w_kind = draw(st.sampled_from(["none"] * 6 + ["ok", "nan", "negative", "zero", "short"]))
    if w_kind != "none":
        w = rng.uniform(0.5, 2.0, size=n + (w_kind == "short"))
        if w_kind == "nan":
            w[0] = np.nan
        elif w_kind == "negative":
            w[0] = -1.0
        elif w_kind == "zero":
            w[:] = 0.0
        extra["sample_weight"] = w
        if w_kind != "ok":
            must.add("sample_weight")
    m_kind = draw(st.sampled_from(["none"] * 6 + ["ok", "negative", "bad_shape", "inf"]))
    if m_kind != "none":
        m = rng.uniform(0.0, 1.0, size=(n, T + (m_kind == "bad_shape")))
        if m_kind == "negative":
            m[0, 0] = -1.0
        elif m_kind == "inf":
            m[0, 0] = np.inf
        extra["mask"] = m
        # a mask needs sequence-to-sequence targets; all-zero weights are refused too
        may.update({"mask", "y"})
        if m_kind != "ok":
            must.add("mask")
    return X, y, task_ids, extra, dtype_name, must, may


def _names(msg, names):
    return any(re.search(rf"\b{re.escape(nm)}\b", msg) for nm in names)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c if isinstance(c, str) else c.__name__)
@FUZZ
@given(problem=problems(), max_iter=st.integers(1, 2))
def test_fuzzed_inputs_fit_predict_decompose_succeed_or_name_the_argument(cell, problem,
                                                                          max_iter):
    X, y, task_ids, extra, dtype_name, must, may = problem
    _run(RecurrentRegressor, cell, X, y, task_ids, extra, dtype_name, must, may, max_iter)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("cell", ["gru", "leaky_rnn"])
@settings(FUZZ, max_examples=15)
@given(problem=problems(), max_iter=st.integers(1, 2))
def test_fuzzed_inputs_classifier_succeed_or_name_the_argument(cell, problem, max_iter):
    X, y, task_ids, extra, dtype_name, must, may = problem
    # labels: the sign of y (two classes when both occur; a single class must be refused)
    y = np.where(np.nan_to_num(np.asarray(y, dtype=float), nan=0.0) > 0, 1, 0)
    y = y[..., 0] if y.ndim == 3 else (y[:, 0] if y.ndim == 2 else y)
    if np.unique(y).size < 2:
        may.add("y")                     # "needs samples of at least 2 classes"
    must.discard("y")
    if y.shape[0] != np.shape(X)[0] or np.ndim(X) < 2:
        may.add("y")
    may.update({"y"} if y.ndim == 2 else set())
    _run(RecurrentClassifier, cell, X, y, task_ids, extra, dtype_name, must, may, max_iter)


def _run(cls, cell, X, y, task_ids, extra, dtype_name, must, may, max_iter):
    est = cls(cell=cell, hidden_size=3, max_iter=max_iter, device="cpu",
              dtype=dtype_name, random_state=0, learning_rate=1e-2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # convergence / divergence warnings are fine
            est.fit(X, y, task_ids=task_ids, **extra)
            pred = est.predict(X)
            D = est.decompose(X, y, task_ids=task_ids, **extra)
            cdim = D.collapse_dim()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert must or may, f"valid input refused: {type(exc).__name__}: {msg}"
        assert _names(msg, must | may), (
            f"{type(exc).__name__} does not name any of {sorted(must | may)}: {msg}")
        return
    assert not must, f"bad {sorted(must)} accepted"
    if cls is RecurrentRegressor:
        assert np.isfinite(pred).all(), "NaN/inf predictions"
    else:
        assert np.isfinite(est.predict_proba(X)).all(), "NaN/inf probabilities"
    assert pred.shape[0] == np.shape(X)[0]
    assert np.isfinite(cdim)
    assert torch.isfinite(D.Z).all()
