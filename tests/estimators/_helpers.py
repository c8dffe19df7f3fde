"""Small data sets shared by the estimator tests."""

import numpy as np


def seq_data(n=24, T=6, d=2, n_out=1, seed=0):
    """Sequence-to-sequence regression: running sums of the first input channels."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, d))
    y = 0.3 * np.cumsum(X[..., :n_out], axis=1)
    return X, y


def label_data(n=24, T=6, d=2, seed=0):
    """Per-sequence binary labels: sign of the summed first channel."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, d))
    y = (X[..., 0].sum(1) > 0).astype(int)
    return X, y


def state_dict_equal(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return sa.keys() == sb.keys() and all(bool((sa[k] == sb[k]).all()) for k in sa)
