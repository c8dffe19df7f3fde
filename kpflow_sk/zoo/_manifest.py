"""SHA-256 manifests of the model zoo (``sha256sum`` format).

Two levels: each model folder has a ``MANIFEST.sha256`` listing its files, and the zoo root has
a ``MANIFEST.sha256`` listing every model's manifest. A file is read once, its digest checked,
and only those checked bytes are parsed, so a file cannot change between check and use.
``cd zoo && sha256sum -c MANIFEST.sha256 && cd NAME && sha256sum -c MANIFEST.sha256`` does the
same check by hand. The manifests alone guard against corrupted or edited files, not against
someone who rewrites a file and both manifests consistently; for the packaged zoo the digest
of the top-level manifest is also pinned in the package (:mod:`kpflow_sk.zoo._pin`), which
closes that gap for the zoo the package ships with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["MANIFEST", "ZooIntegrityError", "packaged_root", "sha256_bytes", "parse_manifest",
           "shown_path", "format_manifest", "read_index", "read_verified",
           "verified_model_manifest", "write_manifest"]

MANIFEST = "MANIFEST.sha256"


class ZooIntegrityError(ValueError):
    """A zoo file is missing, unlisted, or does not match its SHA-256 manifest."""


def packaged_root():
    """The folder of the zoo shipped with the package (``kpflow_sk/zoo/_artifacts``)."""
    return Path(__file__).resolve().parent / "_artifacts"


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def shown_path(path, root):
    """How a file is named in messages: ``zoo/NAME/FILE`` in the packaged zoo, else its path."""
    path, root = Path(path), Path(root)
    if root.name == "_artifacts" and root.parent.name == "zoo":
        try:
            return f"zoo/{path.relative_to(root).as_posix()}"
        except ValueError:
            pass
    return str(path)


def parse_manifest(text, source):
    """``{relative path: hex digest}`` from ``sha256sum`` output; ``ZooIntegrityError`` if bad."""
    entries = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        digest = parts[0].lower()
        name = parts[1].strip().lstrip("*") if len(parts) == 2 else ""
        if (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name
                or name.startswith("/") or ".." in Path(name).parts):
            raise ZooIntegrityError(f"{source}: line {n} is not '<sha256>  <relative path>': "
                                    f"{line!r}")
        if name in entries:
            raise ZooIntegrityError(f"{source}: {name!r} is listed twice")
        entries[name] = digest
    return entries


def format_manifest(entries):
    return "".join(f"{entries[name]}  {name}\n" for name in sorted(entries))


def _read(path, root):
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ZooIntegrityError(f"{shown_path(path, root)} is missing") from None


def read_index(root, pin=None):
    """The entries of the top-level manifest ``root/MANIFEST.sha256``.

    Parameters
    ----------
    pin : str, optional
        Expected SHA-256 of that file (the packaged zoo's, :mod:`kpflow_sk.zoo._pin`).

    Raises
    ------
    ZooIntegrityError
        The manifest is missing, malformed, or its digest is not ``pin``.
    """
    root = Path(root)
    index_path = root / MANIFEST
    data = _read(index_path, root)
    if pin is not None:
        digest = sha256_bytes(data)
        if digest != pin:
            raise ZooIntegrityError(
                f"{shown_path(index_path, root)} has SHA-256 {digest}, but this package pins "
                f"{pin} (kpflow_sk/zoo/_pin.py): the zoo was rewritten or does not belong to "
                "this version of the package; refusing to use it (maintainers who rebuilt the "
                "zoo: `python -m kpflow_sk.zoo pin --write`)")
    return parse_manifest(data.decode("utf-8", "replace"), shown_path(index_path, root))


def verified_model_manifest(root, name, pin=None):
    """The verified entries of model ``name``'s manifest.

    Checks the root manifest (its digest against ``pin`` when given) lists
    ``NAME/MANIFEST.sha256`` with the digest of that file.

    Raises
    ------
    ZooIntegrityError
        Naming the manifest that is missing, malformed or altered.
    """
    root = Path(root)
    index_path = root / MANIFEST
    index = read_index(root, pin)
    key = f"{name}/{MANIFEST}"
    if key not in index:
        raise ZooIntegrityError(f"{shown_path(index_path, root)} does not list {key}: model "
                                f"{name!r} is not part of this zoo")
    path = root / name / MANIFEST
    data = _read(path, root)
    digest = sha256_bytes(data)
    if digest != index[key]:
        raise ZooIntegrityError(
            f"{shown_path(path, root)} has SHA-256 {digest}, but "
            f"{shown_path(index_path, root)} lists {index[key]}: the manifest was modified or "
            f"corrupted; refusing to load {name!r}")
    return parse_manifest(data.decode("utf-8", "replace"), shown_path(path, root))


def read_verified(root, name, filename, entries):
    """The bytes of ``root/name/filename`` after checking them against ``entries``.

    Raises
    ------
    ZooIntegrityError
        The file is not listed, is missing, or its digest differs (the message names it).
    """
    root = Path(root)
    path = root / name / filename
    shown = shown_path(path, root)
    if filename not in entries:
        raise ZooIntegrityError(f"{shown} is not listed in {name}/{MANIFEST}; refusing to read "
                                "an unverified file")
    data = _read(path, root)
    digest = sha256_bytes(data)
    if digest != entries[filename]:
        raise ZooIntegrityError(
            f"{shown} has SHA-256 {digest}, but {name}/{MANIFEST} lists {entries[filename]}: "
            "the file was modified or corrupted; refusing to load it")
    return data


def write_manifest(root, name):
    """(Re)write ``root/name/MANIFEST.sha256`` over the model's files and update the root list.

    Returns
    -------
    dict
        The model's entries.
    """
    root = Path(root)
    folder = root / name
    entries = {p.name: sha256_bytes(p.read_bytes()) for p in sorted(folder.iterdir())
               if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")}
    (folder / MANIFEST).write_text(format_manifest(entries))
    index_path = root / MANIFEST
    index = (parse_manifest(index_path.read_text(), str(index_path))
             if index_path.exists() else {})
    index[f"{name}/{MANIFEST}"] = sha256_bytes((folder / MANIFEST).read_bytes())
    index_path.write_text(format_manifest(index))
    return entries
