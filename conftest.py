"""Collection rules of the whole repository (``tests/`` and the package's doctests).

``make test`` collects the docstring examples of ``kpflow_sk`` (``--doctest-modules``, see
setup.cfg). This file lives at the repository root, not inside the package, so it is not
shipped in the wheel. The test fixtures live in ``tests/conftest.py``.
"""

import ast
import importlib.util
from pathlib import Path

import matplotlib

# Figures in docstring examples render off-screen (tests/conftest.py does the same for tests).
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent

# The test suite's conftest files are fixtures, not doctest modules: collecting them as
# modules under --doctest-modules imports two files named ``conftest`` (an import mismatch).
collect_ignore_glob = ["tests/*conftest.py"]


def _missing_top_level_imports(path):
    """Top-level packages a module imports at module level that are not installed."""
    missing = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "kpflow_sk" and importlib.util.find_spec(top) is None:
                missing.add(top)
    return missing


# A module that needs an optional dependency at import time (dask, neurogym, ...) is left out
# of doctest collection where that dependency is not installed, instead of failing to import.
collect_ignore = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "kpflow_sk").rglob("*.py"))
                  if _missing_top_level_imports(p)]
