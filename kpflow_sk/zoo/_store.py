"""Reading the model zoo: list models, verify them, load fitted estimators and checkpoints.

The artifacts live in the top-level ``zoo/`` folder of the repository; the package reaches them
through ``kpflow_sk/zoo/_artifacts`` (a link to ``../../zoo`` in a source checkout, a copy in
a built wheel), so the same code loads from a checkout and from an installed wheel.

One model is a folder ``zoo/NAME/`` with

- ``recipe.json``: how to retrain it (see :mod:`kpflow_sk.zoo._recipe`);
- ``weights.safetensors``: the fitted estimator's state (see
  :func:`kpflow_sk.estimators.save_estimator`) and
  a probe batch with the predictions recorded at build time;
- ``checkpoints.safetensors`` (some models): network weights at regular iterations of training;
- ``card.json`` / ``card.md``: the measured numbers (test score, collapse dim, ...);
- ``MANIFEST.sha256``: SHA-256 of the files above (itself listed in ``zoo/MANIFEST.sha256``).
"""

from __future__ import annotations

import json
import os
from collections import namedtuple
from pathlib import Path

from kpflow_sk.estimators import load as load_model_file
from kpflow_sk.estimators import load_estimator, read_bytes
from kpflow_sk.zoo import _pin
from kpflow_sk.zoo._manifest import (
    MANIFEST,
    ZooIntegrityError,
    packaged_root,
    read_index,
    read_verified,
    shown_path,
)
from kpflow_sk.zoo._manifest import verified_model_manifest as _verified_model_manifest

__all__ = ["Checkpoint", "zoo_root", "list_models", "verify", "load", "recipe", "card",
           "probe"]

WEIGHTS = "weights.safetensors"
CHECKPOINTS = "checkpoints.safetensors"
RECIPE = "recipe.json"
CARD = "card.json"

#: One snapshot of a checkpoint trajectory: the iteration (epochs done), the training loss at
#: that iteration, and the network as a fitted estimator.
Checkpoint = namedtuple("Checkpoint", ["iteration", "loss", "estimator"])


_packaged_root = packaged_root


def zoo_root():
    """The folder holding the zoo's models (``zoo/`` of the checkout, or the wheel's copy)."""
    return _packaged_root()


def _pin_for(root):
    """The pinned digest of the top-level manifest for the packaged zoo; None for another."""
    try:
        packaged = Path(root).resolve() == _packaged_root().resolve()
    except OSError:
        packaged = False
    return _pin.ZOO_MANIFEST_SHA256 if packaged else None


def verified_model_manifest(root, name):
    """The verified entries of ``name``'s manifest (the top-level one pinned if packaged)."""
    return _verified_model_manifest(root, name, pin=_pin_for(root))


def _root(root):
    root = zoo_root() if root is None else Path(root)
    if not (root / MANIFEST).is_file():
        raise FileNotFoundError(
            f"no model zoo at {str(root)!r} (it has no {MANIFEST}); the zoo ships in "
            "kpflow_sk/zoo/_artifacts (a link to the repository's zoo/ folder)")
    return root


def list_models(root=None):
    """Names of the models in the zoo, sorted.

    Parameters
    ----------
    root : path-like, optional
        A zoo folder (default: the packaged zoo).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from kpflow_sk import zoo
    >>> "gru_memory_pro" in zoo.list()
    True
    """
    root = _root(root)
    index = read_index(root, pin=_pin_for(root))
    return sorted(k.split("/", 1)[0] for k in index if k.endswith(f"/{MANIFEST}"))


def _is_path(name):
    """A path-like, or a str that names a model file rather than a zoo model."""
    if isinstance(name, os.PathLike):
        return True
    return isinstance(name, str) and (name.endswith(".safetensors") or os.sep in name
                                      or ("/" in name) or Path(name).is_file())


def _check_name(name, root):
    if not isinstance(name, str):
        raise TypeError(f"a zoo model name is a str, got {type(name).__name__}")
    names = list_models(root)
    if name not in names:
        raise ValueError(f"unknown zoo model {name!r}; available: {names} (or pass the path "
                         "of a model file)")


def _verified_json(root, name, filename, entries):
    data = read_verified(root, name, filename, entries)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{shown_path(Path(root) / name / filename, root)}: not valid JSON "
                         f"({exc})") from None


def verify(name=None, root=None):
    """Check every file of one model (or of all models) against the SHA-256 manifests.

    Returns
    -------
    dict
        ``{model: {file: sha256}}`` of what was verified.

    Raises
    ------
    ZooIntegrityError (a ValueError)
        Naming the first file that is missing, unlisted or altered.
    """
    root = _root(root)
    names = list_models(root) if name is None else [name]
    out = {}
    for n in names:
        _check_name(n, root)
        entries = verified_model_manifest(root, n)
        for filename in entries:
            read_verified(root, n, filename, entries)
        for required in (RECIPE, CARD, WEIGHTS):
            if required not in entries:
                raise ZooIntegrityError(f"{n}/{MANIFEST} does not list {required}")
        out[n] = dict(entries)
    return out


def recipe(name, root=None):
    """The (verified) recipe of a model, as a dict."""
    root = _root(root)
    _check_name(name, root)
    return _verified_json(root, name, RECIPE, verified_model_manifest(root, name))


def card(name, root=None):
    """The (verified) model card numbers of a model, as a dict (``card.json``)."""
    root = _root(root)
    _check_name(name, root)
    return _verified_json(root, name, CARD, verified_model_manifest(root, name))


def _read_weights(root, name, entries):
    source = f"{name}/{WEIGHTS}"
    meta, tensors = read_bytes(read_verified(root, name, WEIGHTS, entries),
                                            source)
    return load_estimator(meta, tensors, source)


def probe(name, root=None):
    """The probe batch stored with a model and the predictions recorded when it was built.

    Returns
    -------
    X : ndarray of shape (n_probe, n_timesteps, n_features)
    y_pred : ndarray
        ``estimator.predict(X)`` at build time.
    """
    root = _root(root)
    _check_name(name, root)
    _, extra = _read_weights(root, name, verified_model_manifest(root, name))
    t = extra["tensors"]
    return t["probe.X"].numpy(), t["probe.y_pred"].numpy()


def load(name, checkpoints=False, *, root=None):
    """Load a zoo model as a fitted estimator, after verifying its checksums.

    Nothing is unpickled: weights and fitted state are read from safetensors files and JSON,
    and the estimator class comes from a fixed list.

    Parameters
    ----------
    name : str or path-like
        One of :func:`list_models`, or the path of a model file (written by ``est.save``,
        ``kpflow-sk fit`` or a zoo build), read with :func:`kpflow_sk.load`.
    checkpoints : bool, default=False
        Return the model's checkpoint trajectory instead of the final model (zoo names only).
    root : path-like, optional
        A zoo folder (default: the packaged zoo), e.g. the output of ``build``.

    Returns
    -------
    estimator : fitted estimator (``checkpoints=False``)
        On the CPU, ready to ``predict``, ``transform``, ``score``, ``decompose``; its
        ``kp_decompose_`` / ``collapse_dim_`` use the analysis batch of the original fit. The
        optimizer state is not stored: ``warm_start`` continues with a fresh optimizer.
    checkpoints : list of Checkpoint (``checkpoints=True``)
        ``Checkpoint(iteration, loss, estimator)`` in increasing ``iteration``; each
        ``estimator`` has the weights of that iteration, ``n_iter_ == iteration`` and
        ``loss_curve_`` up to it (the analysis batch is the final model's).

    Raises
    ------
    ValueError
        Unknown name; a file that is missing, altered or not listed in the manifest
        (:class:`ZooIntegrityError`, naming the file); ``checkpoints=True`` for a model
        without checkpoints.

    Examples
    --------
    >>> from kpflow_sk import zoo
    >>> est = zoo.load("gru_memory_pro")
    >>> est.n_outputs_
    3
    """
    if _is_path(name):
        if checkpoints:
            raise ValueError("checkpoints=True needs a zoo model name; a model file "
                             f"({str(name)!r}) holds one estimator")
        return load_model_file(name)
    root = _root(root)
    _check_name(name, root)
    entries = verified_model_manifest(root, name)
    if not checkpoints:
        est, _ = _read_weights(root, name, entries)
        return est
    if CHECKPOINTS not in entries:
        with_ckpt = [n for n in list_models(root)
                     if CHECKPOINTS in verified_model_manifest(root, n)]
        raise ValueError(f"zoo model {name!r} has no checkpoint trajectory; models with one: "
                         f"{with_ckpt}")
    source = f"{name}/{CHECKPOINTS}"
    meta, ck_tensors = read_bytes(
        read_verified(root, name, CHECKPOINTS, entries), source)
    try:
        iterations = [int(i) for i in meta["iterations"]]
        losses = [float(v) for v in meta["losses"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{source}: metadata lacks iterations / losses") from None
    if len(iterations) != len(losses):
        raise ValueError(f"{source}: {len(iterations)} iterations but {len(losses)} losses")
    weights_source = f"{name}/{WEIGHTS}"
    wmeta, wtensors = read_bytes(read_verified(root, name, WEIGHTS, entries),
                                        weights_source)
    out = []
    for k, (it, loss) in enumerate(zip(iterations, losses)):
        est, _ = load_estimator(wmeta, wtensors, weights_source)
        prefix = f"{k:03d}."
        sd = {key[len(prefix):]: v for key, v in ck_tensors.items() if key.startswith(prefix)}
        try:
            est.module_.load_state_dict(sd)
        except RuntimeError as exc:
            raise ValueError(f"{source}: snapshot {k} does not fit the network ({exc})") from None
        _rewind(est, it)
        out.append(Checkpoint(it, loss, est))
    return out


def _rewind(est, iteration):
    """Make the public fitted attributes describe the estimator after ``iteration`` epochs."""
    final = max(int(est.n_iter_), 1)
    curve = list(est.loss_curve_)[:iteration]
    est.loss_curve_ = curve
    est.best_loss_ = min(curve) if curve else float("inf")
    est.t_ = int(round(est.t_ * iteration / final))
    est.n_iter_ = int(iteration)
    if getattr(est, "kp_history_", None):
        est.kp_history_ = [r for r in est.kp_history_ if r.get("iteration", 0) <= iteration]
