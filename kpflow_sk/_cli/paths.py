"""Output paths checked before any work: never overwrite without ``--force``, and find an
unwritable destination before training rather than after it.

Both failures are bad arguments, so they exit 2 (``UsageError``), like argparse's own errors.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kpflow_sk._cli.errors import UsageError

__all__ = ["check_output_dir", "check_output_file", "replace_atomically"]


def _nearest_existing(path):
    path = Path(os.path.abspath(path))
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    return path, missing[::-1]


def _probe_writable(folder, option):
    """Create the missing parents of ``folder`` and a scratch file in it, then remove them all
    (nothing stays on disk). ``UsageError`` naming ``option`` when that fails."""
    base, missing = _nearest_existing(folder)
    if not base.is_dir():
        raise UsageError(f"{option} {str(folder)!r}: {str(base)!r} is not a directory")
    created = []
    try:
        for d in missing:
            d.mkdir()
            created.append(d)
        fd, scratch = tempfile.mkstemp(prefix=".kpflow-sk-write-test-", dir=folder)
        os.close(fd)
        os.unlink(scratch)
    except OSError as exc:
        raise UsageError(f"{option} {str(folder)!r} is not writable: "
                         f"{exc.strerror or exc}") from None
    finally:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass


def check_output_dir(folder, files, *, force, option="--out"):
    """Check that ``folder`` can take ``files`` (names in it) before any work is done.

    Raises
    ------
    UsageError (exit 2)
        ``folder`` is a file, is not writable, or already holds one of ``files`` and
        ``force`` is false (the message names them and ``--force``).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {str(folder)!r} exists and is not a directory")
    if folder.is_dir() and not force:
        present = sorted(f for f in files if (folder / f).exists())
        if present:
            raise UsageError(
                f"{option} {str(folder)!r} already holds {', '.join(present)}; pass --force "
                f"to overwrite, or choose another {option}")
    _probe_writable(folder, option)


def check_output_file(path, *, force, option="--out"):
    """Check that the file ``path`` can be written before any work is done.

    Raises
    ------
    UsageError (exit 2)
        ``path`` is a directory, exists and ``force`` is false, or its folder is not
        writable.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a directory, not a file")
    if path.exists() or path.is_symlink():
        if not force:
            raise UsageError(f"{option} {str(path)!r} already exists; pass --force to "
                             f"overwrite it, or choose another {option}")
        if not path.is_file():
            raise UsageError(f"{option} {str(path)!r} is not a regular file")
    _probe_writable(path.parent, option)


def replace_atomically(path, write):
    """``write(tmp_path)`` into a scratch file next to ``path``, then rename it over ``path``:
    an interrupted or failed write leaves ``path`` as it was (no half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the usual file mode, not mkstemp's 0600
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
