"""Model files written by ``fit`` and read by ``analyze``.

A model file holds the fitted estimator and its data recipe (:mod:`.data`), so that
``analyze`` can draw held-out trials of the task(s) the model was trained on.

Format: ``joblib.dump`` of ``{"format": FORMAT, "version": 1, "estimator": est, "recipe":
recipe}`` (the estimator pickles its weights as CPU tensors, see
``BaseRecurrentEstimator.__getstate__``). Loading a pickle runs code from the file: only
analyse model files you trust. The zoo's safetensors + JSON format (``kpflow_sk.zoo``) does
not unpickle; zoo models are read through it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from kpflow_sk._cli.errors import CLIError

__all__ = ["FORMAT", "save_model", "load_model", "load_zoo_model"]

FORMAT = "kpflow_sk.cli.model"


def save_model(est, path, recipe):
    """Write ``est`` and its data recipe to ``path`` (parents created)."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump({"format": FORMAT, "version": 1, "estimator": est, "recipe": recipe}, path)
    return path


def load_model(path):
    """Read a model file; ``CLIError`` (exit 1) with a one-line reason when it cannot.

    Returns
    -------
    est : fitted estimator
    recipe : dict
    """
    import joblib

    path = Path(path)
    if not path.exists():
        raise CLIError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise CLIError(f"model path {str(path)!r} is a directory, not a model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. fitted on CUDA, loaded on the CPU
            obj = joblib.load(path)
    except Exception as exc:  # any unpickling failure: truncated, foreign or corrupt file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CLIError(f"cannot read model file {str(path)!r}: not a kpflow_sk model file "
                       f"or corrupt ({type(exc).__name__}{': ' + reason if reason else ''})"
                       ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise CLIError(f"cannot read model file {str(path)!r}: it was not written by "
                       "`kpflow-sk fit`")
    est, recipe = obj.get("estimator"), obj.get("recipe")
    if not hasattr(est, "module_") or not isinstance(recipe, dict):
        raise CLIError(f"cannot read model file {str(path)!r}: it holds no fitted model")
    return est, recipe


def load_zoo_model(name):
    """A zoo model and its data recipe, or None when ``name`` is not a zoo model.

    ``kpflow_sk.zoo.load(name)`` returns the fitted estimator; the tasks it was trained on
    come from its model card (``tasks`` or ``task``, with ``rule_inputs`` and
    ``task_params`` when given).
    """
    from kpflow_sk._cli.zoo import zoo_card, zoo_module, zoo_names

    zoo = zoo_module(required=False)
    if zoo is None or name not in zoo_names(zoo):
        return None
    try:
        loaded = zoo.load(name)
    except Exception as exc:
        raise CLIError(f"cannot load zoo model {name!r}: {type(exc).__name__}: {exc}") from None
    est = loaded[0] if isinstance(loaded, tuple) else getattr(loaded, "estimator", loaded)
    card = zoo_card(zoo, name)
    tasks = card.get("tasks") or card.get("task")
    if isinstance(tasks, str):
        tasks = [tasks]
    recipe = None
    if tasks:
        from kpflow_sk._cli.data import make_recipe

        recipe = make_recipe(tasks, card.get("n_samples", 256),
                             card.get("random_state", 0),
                             rule_inputs=card.get("rule_inputs"),
                             task_params=card.get("task_params"))
    return est, recipe
