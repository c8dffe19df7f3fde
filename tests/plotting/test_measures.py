"""What a model report measures (kpflow_sk.plotting.report_measures and its parts)."""

import pytest


@pytest.mark.parametrize("hidden, probes", [(6, None), (48, 24)])
def test_collapse_estimate_is_collapse_dim_with_its_uncertainty(hidden, probes):
    import warnings

    from kpflow_sk import RecurrentRegressor
    from kpflow_sk.datasets import make_task
    from kpflow_sk.plotting import collapse_estimate

    b = make_task("memory_pro", 16, stimulus_steps=3, memory_steps=3, response_steps=3,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = RecurrentRegressor(hidden_size=hidden, max_iter=2, kp_n_trials=8,
                                 kp_probes=probes, random_state=0).fit(b.X, b.y)
    e = collapse_estimate(est.kp_decompose_)
    assert e["value"] == est.collapse_dim_          # the same number, plus its uncertainty
    assert e["half_width"] >= 0 and "applications" in e["text"]
