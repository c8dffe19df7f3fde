"""Collection rules of the whole repository (``tests/`` and the package's doctests).

``make test`` collects the docstring examples of ``kpflow_sk`` (``--doctest-modules``, see
setup.cfg). This file lives at the repository root, not inside the package, so it is not
shipped in the wheel. The test fixtures live in ``tests/conftest.py``.
"""

import importlib
from pathlib import Path

try:  # figures in docstring examples render off-screen (tests/conftest.py does the same)
    import matplotlib
except ImportError:  # a module that needs it is skipped below
    pass
else:
    matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "kpflow_sk"

# The test suite's conftest files are fixtures, not doctest modules: collecting them as
# modules under --doctest-modules imports two files named ``conftest`` (an import mismatch).
collect_ignore_glob = ["tests/*conftest.py"]

#: package modules left out of doctest collection: path -> the missing package
MISSING_DEPENDENCY = {}


def pytest_ignore_collect(collection_path, config):
    """Leave out a package module that cannot be imported because a package outside
    kpflow_sk is not installed (an optional dependency such as dask or neurogym, directly or
    through another module). Any other import error is collected and reported as usual."""
    path = Path(collection_path)
    if path.suffix != ".py" or PACKAGE not in path.parents or path.name == "__main__.py":
        return None
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    try:
        importlib.import_module(".".join(parts))
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top and top != PACKAGE.name:
            MISSING_DEPENDENCY[path.relative_to(ROOT).as_posix()] = top
            return True
    except Exception:  # noqa: BLE001 - the collector reports it with its traceback
        return None
    return None


def pytest_report_collectionfinish(config, start_path, items):
    if MISSING_DEPENDENCY:
        return [f"doctests skipped: {path} needs {name}, which is not installed"
                for path, name in sorted(MISSING_DEPENDENCY.items())]
    return []


