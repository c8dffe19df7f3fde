"""kpflow_sk: recurrent networks the scikit-learn way, analysed with KPFlow.

The public surface (the math and conventions are in ``docs/conventions.md``)::

    from kpflow_sk import RecurrentRegressor, KPDecomposition, load
    from kpflow_sk.datasets import list_tasks, make_task, make_multitask
    from kpflow_sk.preprocessing import TimeSeriesScaler
    from kpflow_sk.model_selection import task_scorer
    from kpflow_sk import zoo
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> module that defines it. Imported lazily so that `import kpflow_sk` stays
# cheap (torch is only loaded when an estimator or operator is used).
_PUBLIC = {
    "RecurrentRegressor": "kpflow_sk.estimators",
    "RecurrentClassifier": "kpflow_sk.estimators",
    "KPDecomposition": "kpflow_sk.analysis",
    "get_cell": "kpflow_sk.cells",
    "Cell": "kpflow_sk.cells",
    "load": "kpflow_sk.estimators",
}
_SUBMODULES = {"cells", "operators", "linalg", "analysis", "estimators", "datasets", "zoo",
               "plotting", "cli", "preprocessing", "model_selection"}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    if name in _SUBMODULES:
        return import_module(f"kpflow_sk.{name}")
    raise AttributeError(f"module 'kpflow_sk' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | _SUBMODULES)
