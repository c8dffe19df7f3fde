"""The model zoo: reference models trained on the package's tasks, with their recipes.

>>> from kpflow_sk import zoo
>>> names = zoo.list()                      # e.g. ["gru_fourtask", "gru_memory_pro", ...]
>>> est = zoo.load("gru_memory_pro")        # a fitted RecurrentRegressor (checksums verified)
>>> snaps = zoo.load("gru_fourtask", checkpoints=True)   # [Checkpoint(iteration, loss, est)]
>>> zoo.card("gru_memory_pro")["metrics"]["test_score"]  # doctest: +SKIP

Every model is a folder of the top-level ``zoo/`` directory (shipped inside the wheel):
``recipe.json``, ``weights.safetensors``, ``card.json`` / ``card.md``, optionally
``checkpoints.safetensors``, and a ``MANIFEST.sha256``. Loading verifies the SHA-256 of every
file it reads and never unpickles anything. ``python -m kpflow_sk.zoo build NAME`` retrains a
model from its recipe and checks the card's numbers.
"""

from kpflow_sk.zoo._manifest import ZooIntegrityError
from kpflow_sk.zoo._store import (
    Checkpoint,
    card,
    list_models,
    load,
    probe,
    recipe,
    verify,
    zoo_root,
)


def build(name, out=None, **kwargs):
    """Retrain a model from its recipe and compare with its card (see ``_build.build``)."""
    from kpflow_sk.zoo._build import build as _build

    return _build(name, out, **kwargs)


#: ``zoo.list()``: the model names (the public name shadows the builtin inside this module only).
list = list_models

__all__ = ["list", "load", "card", "recipe", "probe", "verify", "build", "Checkpoint",
           "ZooIntegrityError", "zoo_root"]
