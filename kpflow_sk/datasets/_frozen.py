"""Frozen reference splits: small checksummed ``.npz`` files under the top-level ``datasets/``.

Each split is one recipe (a fixed call of :func:`make_task` / :func:`make_multitask` with
``random_state=0``) written by :func:`write_frozen` and read back by :func:`load_frozen`, which
checks its SHA-256 against ``MANIFEST.sha256`` (``sha256sum`` format, so ``cd datasets &&
sha256sum -c MANIFEST.sha256`` works too). The zip archives are written with fixed timestamps, so
regenerating a split on the same platform reproduces its checksum.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._base import make_task
from ._multitask import make_multitask
from ._registry import TASKS

__all__ = ["FROZEN", "load_frozen", "write_frozen", "default_root"]

MANIFEST = "MANIFEST.sha256"
KPFLOW_TASKS = ["memory_pro", "memory_anti", "delay_pro", "delay_anti"]
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _yang_tasks():
    return [name for name, spec in TASKS.items() if spec.family == "yang19"]


#: Split name -> (function returning its Bunch, one-line description).
FROZEN = {
    "kpflow": (lambda: make_multitask(KPFLOW_TASKS, 32, rule_inputs="context", random_state=0),
               "KPFlow 4-task mix (context encoding), 8 trials per task"),
    "flipflop": (lambda: make_task("flipflop", 32, random_state=0),
                 "3-bit flip-flop, KPFlow defaults, 32 trials"),
    "context_integration": (lambda: make_task("context_integration", 64, random_state=0),
                            "context-dependent integration (Dubreuil et al. encoding), 64 trials"),
    "sine_wave": (lambda: make_task("sine_wave", 32, random_state=0),
                  "sine-wave generation from a static frequency cue, 32 trials"),
    "ready_set_go": (lambda: make_task("ready_set_go", 40, random_state=0),
                     "Ready-Set-Go interval reproduction, 40 trials"),
    # Noise-free inputs keep the file small (Yang's own code adds input noise in the network).
    "yang19": (lambda: make_multitask(_yang_tasks(), 40, rule_inputs="onehot", noise=False,
                                      random_state=0),
               "the 20 Yang et al. 2019 tasks (one-hot rules, noise-free), 2 trials per task"),
}


def default_root():
    """The ``datasets/`` directory of a source checkout (next to the ``kpflow_sk`` package)."""
    return Path(__file__).resolve().parents[2] / "datasets"


def _resolve_root(root):
    root = default_root() if root is None else Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"frozen-dataset directory {str(root)!r} does not exist; pass root= pointing at the "
            f"repository's datasets/ folder"
        )
    return root


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_plain_filename(filename):
    """One path component, no separators, not ``.`` / ``..``: stays inside the folder."""
    return (bool(filename) and filename not in (".", "..") and "/" not in filename
            and "\\" not in filename and "\0" not in filename
            and Path(filename).name == filename and not Path(filename).is_absolute())


def _read_manifest(root):
    """``{filename: digest}``; ``ValueError`` naming a line that is malformed or points out of
    ``root`` (``../evil.npz``, an absolute path, a sub-folder)."""
    path = root / MANIFEST
    if not path.exists():
        return {}
    entries = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        filename = parts[1].strip().lstrip("*") if len(parts) == 2 else ""
        if len(parts) != 2 or not _is_plain_filename(filename):
            raise ValueError(f"{str(path)!r} line {n}: expected '<sha256>  <file name>' with a "
                             f"plain file name in that folder, got {line!r}; refusing to read "
                             "files outside it")
        entries[filename] = parts[0].lower()
    return entries


def _write_manifest(root, entries):
    lines = [f"{entries[f]}  {f}\n" for f in sorted(entries)]
    (root / MANIFEST).write_text("".join(lines))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _to_arrays(bunch):
    """Flatten a Bunch into named arrays (no pickled objects)."""
    arrays = {
        "X": bunch.X, "y": bunch.y, "mask": bunch.mask, "task_ids": bunch.task_ids,
        "task_names": np.array(bunch.task_names, dtype=str),
    }
    for p, value in bunch.periods.items():
        arrays[f"period__{p}"] = value
    for key, value in bunch.meta.items():
        if value.dtype == object:
            try:
                value = np.array([np.nan if v is None else v for v in value], dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"meta[{key!r}] cannot be frozen without pickling") from None
        arrays[f"meta__{key}"] = value
    info = {"params": bunch.get("params", {}), "layout": bunch.get("layout", {})}
    if "rule_inputs" in bunch:
        info["rule_inputs"] = bunch.rule_inputs
    arrays["info_json"] = np.array(json.dumps(_jsonable(info), sort_keys=True))
    return arrays


def _write_npz(path, arrays):
    # np.savez stamps the current time into the zip; fixed timestamps keep checksums stable.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def _from_arrays(arrays):
    info = json.loads(str(arrays["info_json"]))
    layout = {
        name: {key: (tuple(v) if key in ("input", "output", "steps") else v)
               for key, v in lay.items()}
        for name, lay in info["layout"].items()
    }
    bunch = Bunch(
        X=arrays["X"], y=arrays["y"], mask=arrays["mask"], task_ids=arrays["task_ids"],
        task_names=[str(s) for s in arrays["task_names"]],
        periods={k[len("period__"):]: v for k, v in arrays.items() if k.startswith("period__")},
        meta={k[len("meta__"):]: v for k, v in arrays.items() if k.startswith("meta__")},
        params=info["params"], layout=layout,
    )
    if "rule_inputs" in info:
        bunch.rule_inputs = info["rule_inputs"]
    return bunch


def write_frozen(names=None, root=None):
    """(Re)generate frozen splits and update the manifest.

    Parameters
    ----------
    names : list of str, optional
        Keys of :data:`FROZEN`; default all whose tasks are registered.
    root : path-like, optional
        Target directory; default :func:`default_root` (created if missing).

    Returns
    -------
    paths : dict of str -> pathlib.Path
        The files written.
    """
    available = [n for n in FROZEN if n != "yang19" or _yang_tasks()]
    if names is None:
        names = available
    elif isinstance(names, str):
        names = [names]
    for name in names:
        if name not in FROZEN:
            raise ValueError(f"unknown frozen split {name!r}; valid names: {list(FROZEN)}")
        if name not in available:
            raise ValueError(f"frozen split {name!r} needs tasks that are not registered")
    root = default_root() if root is None else Path(root)
    root.mkdir(parents=True, exist_ok=True)
    entries = _read_manifest(root)
    paths = {}
    for name in names:
        path = root / f"{name}.npz"
        _write_npz(path, _to_arrays(FROZEN[name][0]()))
        entries[path.name] = _sha256(path)
        paths[name] = path
    _write_manifest(root, entries)
    return paths


def load_frozen(name, root=None):
    """Load a frozen reference split after checking its SHA-256.

    Parameters
    ----------
    name : str
        Split name (a file ``<name>.npz`` listed in ``MANIFEST.sha256``), e.g. ``"kpflow"``.
    root : path-like, optional
        Directory holding the splits and the manifest; default the ``datasets/`` folder of the
        source checkout.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Same fields as :func:`make_task` / :func:`make_multitask` return.

    Raises
    ------
    ValueError
        Unknown name, the file's checksum does not match the manifest, or a name or manifest
        entry that would leave ``root`` (``../evil.npz``, a sub-folder, a link out of it).
    """
    root = _resolve_root(root)
    if not isinstance(name, str) or not _is_plain_filename(name) or name.startswith("."):
        raise ValueError(f"frozen split name {name!r} is not a plain name (no path "
                         f"separators, '.' or '..'); refusing to read files outside "
                         f"{str(root)!r}")
    entries = _read_manifest(root)
    filename = f"{name}.npz"
    if filename not in entries:
        known = sorted(f[:-4] for f in entries if f.endswith(".npz"))
        raise ValueError(f"unknown frozen split {name!r}; valid names: {known}")
    path = root / filename
    if path.is_symlink() and path.resolve().parent != root.resolve():
        raise ValueError(f"frozen split file {str(path)!r} is a link out of {str(root)!r}; "
                         "refusing to follow it")
    if not path.exists():
        raise FileNotFoundError(f"frozen split file {str(path)!r} is listed in the manifest "
                                f"but missing")
    digest = _sha256(path)
    if digest != entries[filename]:
        raise ValueError(f"checksum mismatch for {str(path)!r}: SHA-256 {digest} but "
                         f"{MANIFEST} says {entries[filename]}; the file is corrupt or was "
                         f"modified (regenerate it with write_frozen([{name!r}]))")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return _from_arrays(arrays)
