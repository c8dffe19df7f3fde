"""The SHA-256 of the zoo's top-level ``MANIFEST.sha256`` that this package ships with.

The manifests alone are self-signed: whoever rewrites a model file can rewrite both manifests
to match. The digest below is code, so a zoo folder rewritten consistently (files and both
manifests) no longer matches it, and the packaged zoo is refused
(:class:`~kpflow_sk.zoo.ZooIntegrityError`). A zoo passed as ``root=`` (e.g. a ``build``
output) is the caller's own and is not pinned.

After rebuilding or adding a model (``python -m kpflow_sk.zoo build NAME --write``), update
the pin with one command, and commit this file with the zoo::

    python -m kpflow_sk.zoo pin --write

(``python -m kpflow_sk.zoo pin`` only compares; exit 1 on a mismatch.)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["ZOO_MANIFEST_SHA256", "current_digest", "write_pin"]

ZOO_MANIFEST_SHA256 = "ba207fff9d00f4983f04f9a549a0a722dfe0b4e0df6e58ef02de30575a8a23a0"


def current_digest(root=None):
    """SHA-256 of ``root/MANIFEST.sha256`` (default: the packaged zoo)."""
    from kpflow_sk.zoo._manifest import MANIFEST, packaged_root

    root = packaged_root() if root is None else Path(root)
    return hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()


def write_pin(digest):
    """Rewrite the constant in this file (a source checkout); returns the file's path."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
    path = Path(__file__)
    text = path.read_text(encoding="utf-8")
    new, n = re.subn(r'^ZOO_MANIFEST_SHA256 = "[0-9a-f]{64}"$',
                     f'ZOO_MANIFEST_SHA256 = "{digest}"', text, flags=re.M)
    if n != 1:
        raise ValueError(f"{path}: cannot find the ZOO_MANIFEST_SHA256 line")
    path.write_text(new, encoding="utf-8")
    global ZOO_MANIFEST_SHA256
    ZOO_MANIFEST_SHA256 = digest
    return path
