"""Zoo recipes: the data, the estimator and the training schedule of one model, as JSON.

A recipe (``zoo/NAME/recipe.json``) is everything needed to retrain a model::

    {
      "name": "gru_memory_pro",
      "description": "...",
      "dataset": {"tasks": ["memory_pro"], "rule_inputs": null, "params": {},
                  "n_train": 512, "train_seed": 0, "n_test": 512, "test_seed": 1,
                  "n_probe": 4, "probe_seed": 2},
      "estimator": {"class": "RecurrentRegressor", "params": {"cell": "gru", ...}},
      "fit": {"mask": true, "task_ids": false},
      "training": {"threads": 1, "checkpoint_every": null},
      "tolerance": {"test_score": 0.1, "collapse_dim": 0.15, "final_loss": 0.5}
    }

- ``dataset``: one task without rule inputs is ``make_task(tasks[0], n, random_state=seed,
  **params)``; otherwise ``make_multitask(tasks, n, rule_inputs=..., random_state=seed,
  **params)``. The train, test and probe sets differ only in ``n`` and the seed.
- ``estimator.params``: the estimator's constructor arguments (``random_state`` an int, so the
  fit is reproducible); ``params["max_iter"]`` is the number of iterations (epochs).
- ``fit``: whether ``fit`` gets the data set's ``mask`` and ``task_ids``.
- ``training.threads``: torch CPU threads during training (results can depend on it).
  ``training.checkpoint_every``: when set, training runs as ``max_iter / checkpoint_every``
  warm-started fits of ``checkpoint_every`` iterations each, and the weights after each one are
  kept (the gradient-descent checkpoint trajectory). Full-batch training
  (``batch_size >= n_train``) makes that identical to one long fit.
- ``tolerance``: how close a rebuild must come to the card: absolute for ``test_score``
  (fraction of trials correct), relative for ``collapse_dim`` and ``final_loss``.
"""

from __future__ import annotations

import json
import time

import numpy as np

from kpflow_sk.estimators import estimator_class, state_to_cpu, torch_threads

__all__ = ["check_recipe", "make_dataset", "make_estimator", "train", "evaluate"]

_REQUIRED = {
    "name": str, "dataset": dict, "estimator": dict, "fit": dict, "training": dict,
    "tolerance": dict,
}
_DATASET_KEYS = {"tasks", "rule_inputs", "params", "n_train", "train_seed", "n_test",
                 "test_seed", "n_probe", "probe_seed"}
_TOLERANCES = {"test_score", "collapse_dim", "final_loss"}


def check_recipe(recipe, source="recipe"):
    """Validate the structure of a recipe dict; returns it. ``ValueError`` naming the problem."""
    if not isinstance(recipe, dict):
        raise ValueError(f"{source}: a recipe is a JSON object")
    for key, kind in _REQUIRED.items():
        if not isinstance(recipe.get(key), kind):
            raise ValueError(f"{source}: missing or bad {key!r} (expected {kind.__name__})")
    missing = _DATASET_KEYS - set(recipe["dataset"])
    if missing:
        raise ValueError(f"{source}: dataset lacks {sorted(missing)}")
    est = recipe["estimator"]
    if not isinstance(est.get("params"), dict) or "class" not in est:
        raise ValueError(f"{source}: estimator needs 'class' and 'params'")
    estimator_class(est["class"])
    if not isinstance(est["params"].get("random_state"), int):
        raise ValueError(f"{source}: estimator.params.random_state must be an int (a zoo model "
                         "is reproducible)")
    every = recipe["training"].get("checkpoint_every")
    if every is not None and (not isinstance(every, int) or every < 1
                              or est["params"].get("max_iter", 200) % every):
        raise ValueError(f"{source}: training.checkpoint_every must be a positive int dividing "
                         "max_iter")
    missing = _TOLERANCES - set(recipe["tolerance"])
    if missing:
        raise ValueError(f"{source}: tolerance lacks {sorted(missing)}")
    return recipe


def make_dataset(recipe, split):
    """The ``"train"``, ``"test"`` or ``"probe"`` Bunch of a recipe."""
    from kpflow_sk import datasets

    d = recipe["dataset"]
    n, seed = int(d[f"n_{split}"]), int(d[f"{split}_seed"])
    return datasets.make_dataset(list(d["tasks"]), n, rule_inputs=d["rule_inputs"],
                                 random_state=seed, **dict(d["params"]))


def make_estimator(recipe):
    """An unfitted estimator with the recipe's parameters."""
    est = recipe["estimator"]
    return estimator_class(est["class"])(**est["params"])


def _fit_kwargs(recipe, bunch):
    f = recipe["fit"]
    return {"mask": bunch.mask if f.get("mask") else None,
            "task_ids": bunch.task_ids if f.get("task_ids") else None}


def train(recipe, verbose=False):
    """Train a recipe's model from scratch.

    Returns
    -------
    estimator : fitted estimator
    checkpoints : list of dict
        ``{"iteration", "loss", "state_dict"}`` after every ``checkpoint_every`` iterations
        (empty without checkpoints); the last one is the final model.
    seconds : float
        Wall-clock training time (excluding data generation).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    bunch = make_dataset(recipe, "train")
    est = make_estimator(recipe)
    kw = _fit_kwargs(recipe, bunch)
    threads = recipe["training"].get("threads")
    every = recipe["training"].get("checkpoint_every")
    max_iter = int(est.get_params()["max_iter"])
    checkpoints = []
    start = time.perf_counter()
    with torch_threads(int(threads) if threads else None):
        with warnings.catch_warnings():
            # a fixed iteration budget is the recipe; "not converged" is expected, not news
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not every:
                est.fit(bunch.X, bunch.y, **kw)
            else:
                est.set_params(max_iter=every, warm_start=True)
                for _ in range(max_iter // every):
                    est.fit(bunch.X, bunch.y, **kw)
                    checkpoints.append({"iteration": int(est.n_iter_),
                                        "loss": float(est.loss_curve_[-1]),
                                        "state_dict": state_to_cpu(est.module_.state_dict())})
                    if verbose:
                        print(f"  iteration {est.n_iter_}: loss {est.loss_curve_[-1]:.5f}",
                              flush=True)
                # the stored model carries the recipe's own parameters
                est.set_params(max_iter=max_iter, warm_start=recipe["estimator"]["params"].get(
                    "warm_start", False))
    return est, checkpoints, time.perf_counter() - start


def task_scores(est, bunch):
    """``{task: score_task(task, est.predict(X), bunch)}`` for every task of ``bunch``."""
    from kpflow_sk.datasets import score_task

    y_pred = est.predict(bunch.X)
    return {name: float(score_task(name, y_pred, bunch)) for name in bunch.task_names}


def evaluate(est, recipe, threads=None):
    """The card's numbers for a fitted recipe model.

    Returns
    -------
    metrics : dict
        ``test_score`` (mean over tasks of ``score_task`` on the held-out test set),
        ``task_scores``, ``test_r2`` (the estimator's ``score``, mask-weighted),
        ``collapse_dim`` (``collapse_dim_``), ``final_loss`` (last training loss),
        ``n_iter``.
    probe : dict of ndarray
        ``X`` (the probe batch) and ``y_pred`` (the model's predictions on it).
    """
    test = make_dataset(recipe, "test")
    with torch_threads(int(threads) if threads else None):
        scores = task_scores(est, test)
        r2 = float(est.score(test.X, test.y, mask=test.mask))
        collapse = float(est.collapse_dim_)
        probe = make_dataset(recipe, "probe")
        probe_pred = est.predict(probe.X)
    metrics = {
        "test_score": float(np.mean(list(scores.values()))),
        "task_scores": scores,
        "test_r2": r2,
        "collapse_dim": collapse,
        "final_loss": float(est.loss_curve_[-1]),
        "n_iter": int(est.n_iter_),
    }
    probe = {"X": np.asarray(probe.X, dtype=np.float32),
             "y_pred": np.asarray(probe_pred, dtype=np.float64)}
    return metrics, probe


def compare(card_metrics, metrics, tolerance):
    """Rows ``(quantity, card, rebuilt, allowed difference, ok)`` of a rebuild check."""
    rows = []
    for key, relative in (("test_score", False), ("collapse_dim", True), ("final_loss", True)):
        a, b = float(card_metrics[key]), float(metrics[key])
        tol = float(tolerance[key])
        allowed = tol * abs(a) if relative else tol
        rows.append((key, a, b, allowed, bool(abs(a - b) <= allowed + 1e-12)))
    return rows


def dumps(obj):
    """Stable JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"
