"""Shared fixtures of the CLI tests: tiny task sizes and one fitted model file."""

import matplotlib
import pytest

matplotlib.use("Agg")

#: memory_pro with 3-step epochs (T = 9): fits and analyses in about a second
TINY_TASK = ["--task-param", "stimulus_steps=3", "--task-param", "memory_steps=3",
             "--task-param", "response_steps=3"]
TINY_FIT = TINY_TASK + ["--n-samples", "16", "--n-test", "8", "--hidden-size", "8",
                        "--max-iter", "2", "--track-every", "1", "--kp-n-trials", "4",
                        "--spectra-k", "4", "--quiet"]


@pytest.fixture(scope="session")
def tiny_fit_args():
    return list(TINY_FIT)


@pytest.fixture(scope="session")
def tiny_task_args():
    return list(TINY_TASK)


@pytest.fixture(scope="session")
def fitted_model(tmp_path_factory):
    """``kpflow-sk fit`` on tiny memory_pro: (model file, report folder, stdout)."""
    import contextlib
    import io

    from kpflow_sk.cli import main

    out = tmp_path_factory.mktemp("fit")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["fit", "--task", "memory_pro", "--out", str(out), "--threads", "1"]
                  + TINY_FIT)
    assert rc == 0, buf.getvalue()
    return out / "model.safetensors", out, buf.getvalue()
