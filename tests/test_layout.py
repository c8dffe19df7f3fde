"""The package layout rules of issue #13 (DESIGN.md section 5), checked statically.

Every module of ``kpflow_sk`` is read with :mod:`ast` (nothing is imported), and

- no module is over 400 lines (the Yang et al. task families in ``datasets/_yang*.py``
  excepted: the issue exempts them where a split would scatter one family);
- the module import graph has no cycle;
- no module imports a private (``_name``) module or attribute of another package;
- ``operators``, ``linalg``, ``analysis`` and ``dynamics`` never reach ``estimators``.

The import graph has one edge per import of a ``kpflow_sk`` module: module-level,
function-level (lazy) and ``importlib.import_module("kpflow_sk...")`` imports, and string
constants that are exactly the dotted name of a ``kpflow_sk`` module. A package's lazy
table (``{"Name": "kpflow_sk.x"}`` in its ``__init__``, as in ``kpflow_sk/__init__.py``) is
an edge of each import of that name instead. ``from kpflow_sk.a import b`` is an edge to the
module ``kpflow_sk.a.b`` where it exists, to ``kpflow_sk.a`` otherwise; importing
``kpflow_sk.a.b`` also runs ``kpflow_sk/a/__init__.py``, an edge too unless that package
contains the importing module (it is then already being imported).

A *package* is the first name below ``kpflow_sk``: ``kpflow_sk.linalg`` for every module in
``linalg/``; a top-level module (``kpflow_sk._interrupt``, ``kpflow_sk.compare``) is a
package of its own; ``cli.py``, ``_cli/`` and ``__main__.py`` are one package, the command
line (DESIGN.md section 5 lists them together); ``kpflow_sk/__init__.py`` is ``kpflow_sk``.
A name is private when it starts with one underscore (dunders such as ``__version__`` are
not). Private names are also caught through a module alias (``import kpflow_sk.cells as c;
c._node``).

The analyser is tested on small synthetic packages first (each rule must fire), then run on
the package itself.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "kpflow_sk"
MAX_LINES = 400
#: path glob (relative to the repository) -> why it may be longer than MAX_LINES
LONG_MODULES = {
    "kpflow_sk/datasets/_yang*.py": "the Yang et al. (2019) task families: issue #13 exempts "
                                    "them where a split would scatter one family",
}
#: packages that never import estimators (DESIGN.md section 5, "Data flows one way")
BELOW_ESTIMATORS = ("operators", "linalg", "analysis", "dynamics")
#: top-level names that form the command-line package
CLI_NAMES = {"cli", "_cli", "__main__"}
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass(frozen=True)
class Edge:
    """``source`` loads ``target`` (both module names) at ``path:line``; ``how`` says why."""

    source: str
    target: str
    path: str
    line: int
    how: str

    def where(self):
        return f"{self.path}:{self.line} ({self.how})"


@dataclass(frozen=True)
class Reference:
    """``source`` names the dotted ``name`` (an import or a module-alias attribute)."""

    source: str
    name: str
    path: str
    line: int


class Layout:
    """The modules of one package folder, their import graph and their dotted references.

    Parameters
    ----------
    root : Path
        The repository (the folder that holds the package folder).
    package : str
        The package's import name (its folder name).
    """

    def __init__(self, root, package=PACKAGE):
        self.root = Path(root)
        self.package = package
        self.files = {}                     # module name -> path
        for folder, dirs, names in os.walk(self.root / package):  # links are not followed
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for fname in sorted(names):
                if fname.endswith(".py"):
                    path = Path(folder) / fname
                    parts = list(path.relative_to(self.root).with_suffix("").parts)
                    if parts[-1] == "__init__":
                        parts.pop()
                    self.files[".".join(parts)] = path
        self.edges = []
        self.references = []
        # lazy attribute tables of package __init__ files: {"Name": "pkg.module"} entries
        self.lazy = {m: self._lazy_table(p) for m, p in self.files.items() if self.is_package(m)}
        for module, path in self.files.items():
            self._read(module, path)

    # -- names ---------------------------------------------------------------------------
    def is_package(self, module):
        return self.files[module].name == "__init__.py"

    def resolve(self, dotted):
        """The longest prefix of ``dotted`` that is a module of the package (or None)."""
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            name = ".".join(parts[:n])
            if name in self.files:
                return name
        return None

    def package_of(self, dotted):
        """The package (see the module docstring) that ``dotted`` belongs to."""
        parts = dotted.split(".")
        if len(parts) == 1 or f"{parts[0]}.{parts[1]}" not in self.files:
            return parts[0]                 # the top-level package or one of its attributes
        if parts[1] in CLI_NAMES:
            return f"{parts[0]}.cli"
        return f"{parts[0]}.{parts[1]}"

    def _relative_base(self, module, level):
        parts = module.split(".")
        if not self.is_package(module):
            parts.pop()
        return ".".join(parts[:len(parts) - (level - 1)] if level > 1 else parts)

    # -- reading -------------------------------------------------------------------------
    def _lazy_table(self, path):
        table = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                            and isinstance(value, ast.Constant) and value.value in self.files):
                        table[key.value] = value.value
        return table

    def _read(self, module, path):
        rel = path.relative_to(self.root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        function_lines = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                function_lines.update(id(n) for n in ast.walk(node) if n is not node)
        aliases = {}                        # local name -> dotted package name it is bound to

        def add_edges(dotted, line, how):
            target = self.resolve(dotted)
            if target is None:
                return
            # importing a.b.c runs a/__init__ and a/b/__init__ first: those are loads too,
            # unless the package holds the importer (it is already being imported)
            parts = target.split(".")
            for n in range(1, len(parts) + 1):
                name = ".".join(parts[:n])
                if n < len(parts) and (module == name or module.startswith(name + ".")):
                    continue
                if name != module:
                    self.edges.append(Edge(module, name, rel, line, how))

        for node in ast.walk(tree):
            how = "function-level" if id(node) in function_lines else "module-level"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] != self.package:
                        continue
                    add_edges(alias.name, node.lineno, how)
                    self.references.append(Reference(module, alias.name, rel, node.lineno))
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = self._relative_base(module, node.level) + (
                        f".{node.module}" if node.module else "")
                if base.split(".")[0] != self.package:
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        add_edges(base, node.lineno, how)
                        continue
                    full = f"{base}.{alias.name}"
                    add_edges(full if full in self.files else base, node.lineno, how)
                    if alias.name in self.lazy.get(base, {}):     # a lazily loaded attribute
                        add_edges(self.lazy[base][alias.name], node.lineno, how + ", lazy")
                    self.references.append(Reference(module, full, rel, node.lineno))
                    if full in self.files:
                        aliases[alias.asname or alias.name] = full
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and _DOTTED.fullmatch(node.value) and node.value in self.files):
                # import_module("kpflow_sk.x"); in a package's lazy table {"Name": "...x"}
                # the module loads when the name is imported (an edge of that import)
                if node.value not in self.lazy.get(module, {}).values():
                    add_edges(node.value, node.lineno, "by name")
                self.references.append(Reference(module, node.value, rel, node.lineno))

        # private names reached through a module alias: c._node, kpflow_sk.cells._node.X
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain, base = [], node
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                dotted = ".".join([aliases[base.id]] + chain[::-1])
                self.references.append(Reference(module, dotted, rel, node.lineno))

    # -- rules ---------------------------------------------------------------------------
    def graph(self):
        out = {m: {} for m in self.files}
        for e in self.edges:
            out[e.source].setdefault(e.target, e)
        return out

    def long_modules(self, max_lines=MAX_LINES, exempt=LONG_MODULES):
        found = []
        for path in self.files.values():
            rel = path.relative_to(self.root).as_posix()
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > max_lines and not any(fnmatch.fnmatch(rel, g) for g in exempt):
                found.append(f"{rel}: {n} lines (over {max_lines})")
        return found

    def cycles(self):
        """One line per strongly connected component: its shortest cycle, edge by edge."""
        graph = self.graph()
        index, low, stack, on_stack, comps = {}, {}, [], set(), []

        def strongconnect(v):               # Tarjan's algorithm (recursion depth <= modules)
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in graph[v]:
                if w not in index:
                    strongconnect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(comp)

        for v in sorted(graph):
            if v not in index:
                strongconnect(v)
        found = []
        for comp in sorted(comps, key=min):
            start = min(comp)
            cycle = self._shortest_path(graph, start, start, within=comp)
            steps = " -> ".join(f"{e.target} [{e.where()}]" for e in cycle)
            found.append(f"cycle of {len(comp)} modules {sorted(comp)}: {start} -> {steps}")
        return found

    @staticmethod
    def _shortest_path(graph, start, goal, within=None):
        """Edges of a shortest path start -> ... -> goal (BFS), or None."""
        prev, queue, seen = {}, deque([start]), set()
        while queue:
            v = queue.popleft()
            for w, edge in sorted(graph[v].items()):
                if within is not None and w not in within:
                    continue
                if w == goal:
                    path = [edge]
                    while v != start:
                        path.append(prev[v])
                        v = prev[v].source
                    return path[::-1]
                if w not in seen:
                    seen.add(w)
                    prev[w] = edge
                    queue.append(w)
        return None

    def private_imports(self):
        """One line per (file, private name of another package): first line, all lines."""
        lines = {}
        for ref in self.references:
            parts = ref.name.split(".")
            for n in range(2, len(parts) + 1):
                if _is_private(parts[n - 1]):
                    name = ".".join(parts[:n])
                    if self.package_of(name) != self.package_of(ref.source):
                        lines.setdefault((ref.path, ref.source, name), set()).add(ref.line)
                    break
        return [f"{path}:{min(at)}: {source} uses {name} (private to {self.package_of(name)})"
                + (f"; also lines {sorted(at)[1:]}" if len(at) > 1 else "")
                for (path, source, name), at in sorted(lines.items())]

    def reaches(self, sources, forbidden):
        """For each module of ``sources`` packages, a path to a ``forbidden``-package module."""
        graph = self.graph()
        bad = f"{self.package}.{forbidden}"
        found = []
        for src in sorted(m for m in self.files
                          if any(self.package_of(m) == f"{self.package}.{s}" for s in sources)):
            for dst in sorted(m for m in self.files if m == bad or m.startswith(bad + ".")):
                path = self._shortest_path(graph, src, dst)
                if path is not None:
                    steps = " -> ".join(f"{e.target} [{e.where()}]" for e in path)
                    found.append(f"{src} -> {steps}")
                    break
        return found


# -- the analyser on synthetic packages ------------------------------------------------------

def _write(root, files):
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Layout(root, "pkg")


def test_analyser_finds_cycles_through_function_level_and_relative_imports(tmp_path):
    lay = _write(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from pkg.a.mod import f\n",
        "a/mod.py": "def f():\n    from ..b import g\n    return g\n",
        "b/__init__.py": "from .impl import g\n",
        "b/impl.py": "import pkg.a\n\ndef g():\n    pass\n",
        "c.py": "import pkg.b.impl\n",
    })
    (cycle,) = lay.cycles()
    assert "cycle of 4 modules ['pkg.a', 'pkg.a.mod', 'pkg.b', 'pkg.b.impl']" in cycle
    assert "pkg/a/mod.py:2 (function-level)" in cycle
    assert "pkg.c" not in cycle


def test_analyser_acyclic_package_and_own_package_imports_pass(tmp_path):
    lay = _write(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "from pkg.a._x import f\n",
        "a/_x.py": "from pkg.a import _y\nfrom pkg.b import g\n\ndef f():\n    pass\n",
        "a/_y.py": "",
        "b/__init__.py": "def g():\n    pass\n",
        "_cli/__init__.py": "",
        "_cli/run.py": "from pkg._cli import _helpers\n",
        "_cli/_helpers.py": "",
        "cli.py": "from pkg._cli.run import main\nfrom pkg import __version__\n",
    })
    assert lay.cycles() == []
    assert lay.private_imports() == []
    assert lay.reaches(["a"], "b") != [] and lay.reaches(["b"], "a") == []


def test_analyser_finds_private_names_of_other_packages(tmp_path):
    lay = _write(tmp_path, {
        "__init__.py": "_LAZY = {'load': 'pkg.est._persist'}\n",
        "_interrupt.py": "",
        "cells/__init__.py": "",
        "cells/_node.py": "TABLEAUS = {}\n",
        "cells/public.py": "_SECRET = 1\n",
        "est/__init__.py": "",
        "est/_persist.py": "",
        "est/base.py": ("from pkg.cells._node import TABLEAUS\n"
                        "from pkg.cells import public as pub\n"
                        "import pkg.cells\n"
                        "from pkg import _interrupt\n"
                        "x = pub._SECRET + len(pkg.cells._node.TABLEAUS)\n"),
    })
    found = "\n".join(lay.private_imports())
    assert "pkg/est/base.py:4: pkg.est.base uses pkg._interrupt" in found
    assert "pkg/est/base.py:5: pkg.est.base uses pkg.cells.public._SECRET" in found
    assert "pkg/est/base.py:1: pkg.est.base uses pkg.cells._node (private to pkg.cells); " \
        "also lines [5]" in found
    assert "pkg/__init__.py:1: pkg uses pkg.est._persist" in found
    assert len(lay.private_imports()) == 4


def test_analyser_finds_long_modules_and_paths_to_estimators(tmp_path):
    lay = _write(tmp_path, {
        "__init__.py": "",
        "estimators/__init__.py": "",
        "linalg/__init__.py": "",
        "linalg/big.py": "x = 1\n" * 401,
        "linalg/ok.py": "x = 1\n" * 400,
        "linalg/lazy.py": ("def f():\n    import importlib\n"
                           "    return importlib.import_module('pkg.estimators')\n"),
        "datasets/__init__.py": "",
        "datasets/_yang_family.py": "x = 1\n" * 900,
    })
    assert lay.long_modules(exempt={"pkg/datasets/_yang*.py": "families"}) == [
        "pkg/linalg/big.py: 401 lines (over 400)"]
    (path,) = lay.reaches(["linalg"], "estimators")
    assert path == "pkg.linalg.lazy -> pkg.estimators [pkg/linalg/lazy.py:3 (by name)]"


def test_analyser_follows_lazy_tables_only_for_the_names_imported(tmp_path):
    lay = _write(tmp_path, {
        "__init__.py": "_PUBLIC = {'Est': 'pkg.estimators'}\n__version__ = '1'\n",
        "estimators/__init__.py": "",
        "analysis/__init__.py": "",
        "analysis/ok.py": "from pkg import __version__\n",
        "analysis/bad.py": "def f():\n    from pkg import Est\n    return Est\n",
    })
    assert lay.reaches(["analysis"], "estimators") == [
        "pkg.analysis.bad -> pkg.estimators [pkg/analysis/bad.py:2 (function-level, lazy)]"]


# -- the package itself --------------------------------------------------------------------

@pytest.fixture(scope="module")
def layout():
    return Layout(ROOT)


def test_no_module_over_400_lines(layout):
    found = layout.long_modules()
    assert not found, "modules over the limit:\n" + "\n".join(found)


def test_no_import_cycle(layout):
    found = layout.cycles()
    assert not found, "import cycles:\n" + "\n".join(found)


def test_no_private_import_across_packages(layout):
    found = layout.private_imports()
    assert not found, "private names used across packages:\n" + "\n".join(found)


def test_operators_linalg_analysis_dynamics_never_import_estimators(layout):
    found = layout.reaches(BELOW_ESTIMATORS, "estimators")
    assert not found, "imports that reach estimators:\n" + "\n".join(found)


def test_long_module_exemptions_name_existing_modules(layout):
    rels = [p.relative_to(layout.root).as_posix() for p in layout.files.values()]
    stale = [g for g in LONG_MODULES if not any(fnmatch.fnmatch(r, g) for r in rels)]
    assert not stale, f"exemptions that match no module: {stale}"
