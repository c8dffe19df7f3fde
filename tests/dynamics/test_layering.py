"""kpflow_sk.dynamics never imports kpflow_sk.estimators (docs/conventions.md section 5)."""

import ast
from pathlib import Path

import kpflow_sk.dynamics


def test_dynamics_does_not_import_estimators():
    root = Path(kpflow_sk.dynamics.__file__).parent
    files = sorted(root.glob("*.py"))
    assert len(files) >= 5
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for n in names:
                assert "estimators" not in n, f"{f.name} imports {n}"
