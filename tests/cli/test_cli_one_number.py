"""`kpflow-sk fit` and `kpflow-sk compare` print the estimator's collapse_dim_ (one number)."""

import numpy as np

import kpflow_sk._cli.fit as cli_fit
import kpflow_sk.model_selection._compare as cmp
from kpflow_sk._cli.text import format_mean_sd, format_value
from kpflow_sk.cli import main

# 16 analysis trials x 9 steps x 48 units: Theta's whole-space rank is a randomized estimate
SIZES = ["--hidden-size", "48", "--max-iter", "2", "--kp-n-trials", "16", "--threads", "1"]


def _table_after(lines, title_start):
    """Header and rows of the table printed under the line starting with ``title_start``."""
    i = next(k for k, line in enumerate(lines) if line.startswith(title_start))
    header = lines[i + 1]
    rows = []
    for line in lines[i + 3:]:
        if not line.strip():
            break
        rows.append(line.split())
    return header, rows


def test_fit_prints_collapse_dim_(monkeypatch, tmp_path, capsys, tiny_task_args):
    built = []
    real = cli_fit.build_estimator

    def keep(*args, **kw):
        est = real(*args, **kw)
        built.append(est)
        return est

    monkeypatch.setattr(cli_fit, "build_estimator", keep)
    assert main(["fit", "--task", "memory_pro", "--out", str(tmp_path), "--n-samples", "24",
                 "--n-test", "4", "--track-every", "1", "--spectra-k", "0", "--no-report",
                 "--quiet"] + SIZES + tiny_task_args) == 0
    lines = capsys.readouterr().out.splitlines()
    (est,) = built
    assert not est.kp_decompose_.collapse_dim(return_result=True).exact
    expected = format_value(est.collapse_dim_)
    assert expected == format_value(est.kp_history_[-1]["collapse_dim"])
    header, rows = _table_after(lines, "KPFlow during training")
    assert header.split()[:7] == ["iteration", "loss", "rank", "K", "rank", "P", "P*"]
    assert rows[-1][0] == "2" and rows[-1][4] == expected  # 5th column: collapse dim
    header, rows = _table_after(lines, "End of training")
    assert header.split()[:2] == ["collapse", "dim"]
    assert rows[0][0] == expected


def test_compare_prints_collapse_dim_(monkeypatch, capsys, tiny_task_args):
    fitted = []
    real = cmp._run_fold

    def run_and_refit(estimator, fold_data):  # one tuple: it travels with the Dask task
        rec = real(estimator, fold_data)
        X, y, fit_params, train, test = fold_data
        # the same fit, by hand: same clone, same trials, same seed
        from sklearn.base import clone

        est = clone(estimator).fit(X[train], y[train],
                                   **{k: v[train] for k, v in fit_params.items()})
        fitted.append((est.cell, est.collapse_dim_, est.kp_history_[-1]["collapse_dim"],
                       rec["collapse_dim"]))
        return rec

    monkeypatch.setattr(cmp, "_run_fold", run_and_refit)
    assert main(["compare", "--cells", "gru", "--tasks", "memory_pro", "--cv", "2",
                 "--n-samples", "32", "--param", "kp_track_every=2"] + SIZES
                + tiny_task_args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(fitted) == 2
    for cell in ("gru",):
        folds = [f for f in fitted if f[0] == cell]
        for _, dim, last, rec in folds:
            assert dim == last == rec
        row = next(line for line in lines if line.split()[:2] == [cell, "memory_pro"])
        # cell, task, folds, score "m +- s", collapse dim "m +- s", ...
        printed = " ".join(row.split()[6:9])
        dims = np.array([f[2] for f in folds])
        assert printed == format_mean_sd(dims.mean(), dims.std(ddof=1), len(dims))
