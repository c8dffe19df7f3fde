"""Model files written by ``fit`` (and ``zoo get``) and read by ``analyze``.

A model file is the package's safetensors format (:func:`kpflow_sk.estimators.save_estimator`,
public as ``est.save`` / ``kpflow_sk.load``, also the zoo's): the
fitted estimator's state as tensors plus JSON metadata, read back without unpickling
anything, so analysing a file from elsewhere cannot run code. Its metadata also holds the
data recipe (:func:`kpflow_sk.datasets.make_recipe`), so that ``analyze`` can draw held-out
trials of the task(s) the model was trained on.
"""

from __future__ import annotations

from pathlib import Path

from kpflow_sk._cli.errors import CLIError

__all__ = ["FORMAT", "SUFFIX", "save_model", "load_model"]

#: Tag in a model file's metadata (``extra.format``).
FORMAT = "kpflow_sk.cli.model/1"
SUFFIX = ".safetensors"


#: largest model file ``analyze`` reads (a GRU of 4096 units is about 0.4 GB)
MAX_MODEL_BYTES = 2 * 1024**3


def save_model(est, path, recipe):
    """Write ``est`` and its data recipe to ``path`` (parents created); returns the path.

    The file is written next to ``path`` and renamed over it, so an interrupted write never
    leaves a truncated model file.
    """
    from kpflow_sk._cli.paths import replace_atomically
    from kpflow_sk.estimators import save_estimator

    return replace_atomically(path, lambda tmp: save_estimator(
        tmp, est, extra_meta={"format": FORMAT, "recipe": recipe}))


def load_model(path):
    """Read a model file; ``CLIError`` (exit 1) with a one-line reason when it cannot.

    Returns
    -------
    est : fitted estimator (on the CPU)
    recipe : dict
    """
    from kpflow_sk.estimators import load_estimator, read_bytes

    path = Path(path)
    shown = str(path)
    if not path.exists():
        raise CLIError(f"model file {shown!r} does not exist")
    if path.is_dir():
        raise CLIError(f"model path {shown!r} is a directory, not a model file")
    data = _read_regular_file(path, shown)
    try:
        meta, tensors = read_bytes(data, shown)
    except Exception as exc:  # truncated, foreign or corrupt file
        raise CLIError(f"cannot read model file {shown!r}: not a kpflow_sk model file or "
                       f"corrupt ({_reason(exc, shown)})") from None
    extra = meta.get("extra") if isinstance(meta, dict) else None
    if not isinstance(extra, dict) or extra.get("format") != FORMAT:
        raise CLIError(f"cannot read model file {shown!r}: it was not written by "
                       "`kpflow-sk fit` (a zoo model is analysed by its name)")
    try:
        est, _ = load_estimator(meta, tensors, shown)
    except Exception as exc:
        raise CLIError(f"cannot read model file {shown!r}: corrupt model state "
                       f"({_reason(exc, shown)})") from None
    recipe = extra.get("recipe")
    if not isinstance(recipe, dict) or not recipe.get("tasks"):
        raise CLIError(f"cannot read model file {shown!r}: it has no data recipe")
    return est, recipe


def _read_regular_file(path, shown):
    """The bytes of a regular file of at most ``MAX_MODEL_BYTES``: a FIFO, a device (e.g.
    /dev/zero) or a socket is refused before it is opened, so reading cannot hang or run
    without limit."""
    import os
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        raise CLIError(f"cannot read model file {shown!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise CLIError(f"model path {shown!r} is {kind}; a model file must be a regular file")
    if st.st_size > MAX_MODEL_BYTES:
        raise CLIError(f"model file {shown!r} is {st.st_size} bytes, more than the "
                       f"{MAX_MODEL_BYTES} bytes a model file may have")
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open() does not
        # block; at most MAX_MODEL_BYTES + 1 bytes are read whatever it has become
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise CLIError(f"model path {shown!r} is not a regular file")
            data = fh.read(MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise CLIError(f"cannot read model file {shown!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_MODEL_BYTES:
        raise CLIError(f"model file {shown!r} is larger than {MAX_MODEL_BYTES} bytes")
    return data


def _reason(exc, shown):
    """``"ExcType: message"`` on one line, without the file name ``shown`` that it repeats."""
    text = " ".join(str(exc).split()).replace(f"{shown}: ", "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
