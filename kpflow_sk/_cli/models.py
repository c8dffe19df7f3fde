"""Model files written by ``fit`` (and ``zoo get``) and read by ``analyze``.

A model file is the model zoo's safetensors format (:mod:`kpflow_sk.zoo._codec`): the
fitted estimator's state as tensors plus JSON metadata, read back without unpickling
anything, so analysing a file from elsewhere cannot run code. Its metadata also holds the
data recipe (:mod:`.data`), so that ``analyze`` can draw held-out trials of the task(s) the
model was trained on.
"""

from __future__ import annotations

from pathlib import Path

from kpflow_sk._cli.errors import CLIError

__all__ = ["FORMAT", "SUFFIX", "save_model", "load_model", "load_zoo_model"]

#: Tag in a model file's metadata (``extra.format``).
FORMAT = "kpflow_sk.cli.model/1"
SUFFIX = ".safetensors"


def save_model(est, path, recipe):
    """Write ``est`` and its data recipe to ``path`` (parents created); returns the path."""
    from kpflow_sk.zoo import _codec

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _codec.save_estimator(path, est, extra_meta={"format": FORMAT, "recipe": recipe})
    return path


def load_model(path):
    """Read a model file; ``CLIError`` (exit 1) with a one-line reason when it cannot.

    Returns
    -------
    est : fitted estimator (on the CPU)
    recipe : dict
    """
    from kpflow_sk.zoo import _codec

    path = Path(path)
    shown = str(path)
    if not path.exists():
        raise CLIError(f"model file {shown!r} does not exist")
    if path.is_dir():
        raise CLIError(f"model path {shown!r} is a directory, not a model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CLIError(f"cannot read model file {shown!r}: {exc.strerror or exc}") from None
    try:
        meta, tensors = _codec.read_bytes(data, shown)
    except Exception as exc:  # truncated, foreign or corrupt file
        raise CLIError(f"cannot read model file {shown!r}: not a kpflow_sk model file or "
                       f"corrupt ({_reason(exc, shown)})") from None
    extra = meta.get("extra") if isinstance(meta, dict) else None
    if not isinstance(extra, dict) or extra.get("format") != FORMAT:
        raise CLIError(f"cannot read model file {shown!r}: it was not written by "
                       "`kpflow-sk fit` (a zoo model is analysed by its name)")
    try:
        est, _ = _codec.load_estimator(meta, tensors, shown)
    except Exception as exc:
        raise CLIError(f"cannot read model file {shown!r}: corrupt model state "
                       f"({_reason(exc, shown)})") from None
    recipe = extra.get("recipe")
    if not isinstance(recipe, dict) or not recipe.get("tasks"):
        raise CLIError(f"cannot read model file {shown!r}: it has no data recipe")
    return est, recipe


def _reason(exc, shown):
    text = " ".join(str(exc).split()).replace(f"{shown}: ", "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_zoo_model(name):
    """A zoo model and its data recipe, or None when ``name`` is not a zoo model.

    The held-out trials are the zoo recipe's test set (its ``n_test`` and ``test_seed``).
    """
    from kpflow_sk._cli.zoo import zoo_names

    if name not in zoo_names(required=False):
        return None
    from kpflow_sk import zoo

    try:
        est = zoo.load(name)
        d = zoo.recipe(name)["dataset"]
    except Exception as exc:  # e.g. ZooIntegrityError: a file altered or missing
        raise CLIError(f"cannot load zoo model {name!r}: {_reason(exc, name)}") from None
    from kpflow_sk._cli.data import make_recipe

    recipe = make_recipe(d["tasks"], d["n_train"], d["train_seed"],
                         rule_inputs=d.get("rule_inputs"), task_params=d.get("params"))
    recipe["test_seed"] = d.get("test_seed")
    return est, recipe
