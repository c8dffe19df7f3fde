"""Building zoo models from their recipes: train, measure, write artifacts, compare to the card.

``python -m kpflow_sk.zoo build NAME`` retrains ``NAME`` from its recipe into a scratch folder
and checks that the test score, collapse dim and final loss match the shipped card within the
recipe's tolerance. ``--write`` (maintainers) writes the artifacts into the zoo itself.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

import numpy as np
import torch

from kpflow_sk.estimators import save_estimator, write_tensors
from kpflow_sk.zoo import _recipe, _store
from kpflow_sk.zoo._manifest import MANIFEST, write_manifest

__all__ = ["build", "write_model", "render_card", "default_source_zoo", "check_model_name",
           "RecipeError", "ARTIFACTS"]

CARD_MD = "card.md"
#: the files a build writes into a model folder: the only ones it ever deletes
ARTIFACTS = frozenset({_store.RECIPE, _store.WEIGHTS, _store.CHECKPOINTS, _store.CARD, CARD_MD,
                       MANIFEST})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")


class RecipeError(ValueError):
    """The build cannot start: a missing or malformed recipe, a bad model name, an output
    folder that holds other files. Raised before any training."""


def check_model_name(name, source="model name"):
    """``name`` must be one safe path component (letters, digits, ``_ - .``, starting with a
    letter or digit, at most 100 characters): never ``.``, ``..``, ``a/b`` or an absolute path,
    so that ``root / name`` stays inside ``root``.

    Raises
    ------
    RecipeError
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise RecipeError(
            f"{source} {name!r} is not a valid zoo model name: it must be one folder name of "
            "letters, digits, '_', '-' and '.', starting with a letter or digit")
    return name


def _check_replaceable(folder):
    """A model folder may be replaced only if it holds nothing but a build's artifacts."""
    folder = Path(folder)
    if folder.is_symlink():
        raise RecipeError(f"{str(folder)!r} is a symbolic link; refusing to write through it")
    if not folder.exists():
        return
    if not folder.is_dir():
        raise RecipeError(f"{str(folder)!r} exists and is not a folder")
    foreign = sorted(p.name for p in folder.iterdir()
                     if p.name not in ARTIFACTS or p.is_symlink() or not p.is_file())
    if foreign:
        raise RecipeError(
            f"{str(folder)!r} holds files that a zoo build did not write ({', '.join(foreign)}"
            "); refusing to replace it: choose another --out or move them away")


def _clear_artifacts(folder):
    """Delete the artifacts of an earlier build (checked by ``_check_replaceable``); the folder
    and anything else stay (no ``rmtree``)."""
    _check_replaceable(folder)
    for name in sorted(ARTIFACTS):
        path = Path(folder) / name
        if path.is_file() and not path.is_symlink():
            path.unlink()


def default_source_zoo():
    """The repository's ``zoo/`` folder (what ``--write`` updates): the link target."""
    return _store.zoo_root().resolve()


def _checkpoint_tensors(checkpoints):
    tensors = {}
    for k, ck in enumerate(checkpoints):
        for key, v in ck["state_dict"].items():
            tensors[f"{k:03d}.{key}"] = v
    meta = {"iterations": [c["iteration"] for c in checkpoints],
            "losses": [c["loss"] for c in checkpoints]}
    return tensors, meta


def write_model(root, recipe, estimator, checkpoints, metrics, probe, seconds):
    """Write one model's folder ``root/NAME`` and update the manifests.

    Returns
    -------
    card : dict
        What was written to ``card.json``.
    """
    root = Path(root)
    name = check_model_name(recipe["name"], "recipe name")
    folder = root / name
    _clear_artifacts(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _store.RECIPE).write_text(_recipe.dumps(recipe))
    save_estimator(folder / _store.WEIGHTS, estimator,
                          extra_tensors={"probe.X": torch.from_numpy(probe["X"]),
                                         "probe.y_pred": torch.from_numpy(probe["y_pred"])},
                          extra_meta={"name": name})
    ck_info = None
    if checkpoints:
        tensors, meta = _checkpoint_tensors(checkpoints)
        write_tensors(folder / _store.CHECKPOINTS, tensors, meta)
        ck_info = meta
    card = {
        "name": name,
        "metrics": metrics,
        "training": {
            "seconds": round(float(seconds), 1),
            "threads": recipe["training"].get("threads"),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "checkpoints": ck_info,
        "tolerance": recipe["tolerance"],
    }
    (folder / _store.CARD).write_text(_recipe.dumps(card))
    (folder / CARD_MD).write_text(render_card(recipe, card))
    write_manifest(root, name)
    return card


def _fmt(x, digits=4):
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def render_card(recipe, card):
    """The markdown model card (``card.md``) from a recipe and its measured numbers."""
    m, tr, d = card["metrics"], card["training"], recipe["dataset"]
    est = recipe["estimator"]
    tol = recipe["tolerance"]
    tasks = ", ".join(f"`{t}`" for t in d["tasks"])
    lines = [
        f"# {card['name']}",
        "",
        recipe.get("description", ""),
        "",
        "| | |",
        "|---|---|",
        f"| Estimator | `{est['class']}` (`cell={est['params'].get('cell')!r}`, "
        f"`hidden_size={est['params'].get('hidden_size')}`) |",
        f"| Tasks | {tasks} (rule inputs: `{d['rule_inputs']}`) |",
        f"| Training set | {d['n_train']} trials, `random_state={d['train_seed']}` |",
        f"| Test set | {d['n_test']} trials, `random_state={d['test_seed']}` |",
        f"| Iterations (epochs) | {m['n_iter']} |",
        f"| **Test score** (mean `score_task`) | **{m['test_score']:.4f}** |",
    ]
    for task, s in m["task_scores"].items():
        lines.append(f"| &nbsp;&nbsp;{task} | {s:.4f} |")
    lines += [
        f"| Test R^2 (mask-weighted) | {m['test_r2']:.4f} |",
        f"| **Collapse dim** (`collapse_dim_`) | **{m['collapse_dim']:.3f}** |",
        f"| Final training loss | {m['final_loss']:.5g} |",
        f"| Training time | {tr['seconds']} s on {tr['threads']} CPU thread(s), torch "
        f"{tr['torch']}, Python {tr['python']} ({tr['machine']}) |",
    ]
    if card.get("checkpoints"):
        its = card["checkpoints"]["iterations"]
        lines.append(f"| Checkpoints | {len(its)} snapshots at iterations {its[0]}, {its[1]}, "
                     f"..., {its[-1]} (`zoo.load(name, checkpoints=True)`) |")
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(est["params"].items()))
    data_params = json.dumps(d["params"], sort_keys=True)
    lines += [
        "",
        "## Recipe",
        "",
        f"`{est['class']}({params})`, fit with "
        f"mask={recipe['fit'].get('mask')}, task_ids={recipe['fit'].get('task_ids')}; "
        f"dataset parameters {data_params}. Full recipe: `recipe.json`.",
        "",
        "## Reproduction",
        "",
        f"`python -m kpflow_sk.zoo build {card['name']}` retrains from `recipe.json`. On the same "
        "platform, torch version and thread count the rebuild is bit-identical. Elsewhere it "
        f"must match within: test score +/- {tol['test_score']} (absolute), collapse dim "
        f"+/- {tol['collapse_dim']:.0%}, final loss +/- {tol['final_loss']:.0%} (relative).",
        "",
        "## Measures",
        "",
        "- Test score: each task's own measure (`kpflow_sk.datasets.score_task`) on the "
        "held-out test set, averaged over tasks.",
        "- Collapse dim: participation ratio of the hidden-state NTK Theta = P K P* on the "
        f"estimator's analysis batch ({est['params'].get('kp_n_trials', 64)} training trials) "
        "at the end of fit (docs/conventions.md section 3).",
        "",
    ]
    return "\n".join(lines)


def _read_recipe_file(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe file {str(path)!r}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"recipe file {str(path)!r} is not valid JSON ({exc})") from None


def _print_rows(rows, out):
    print(f"{'quantity':<14}{'card':>12}{'rebuilt':>12}{'allowed':>12}  ok", file=out)
    for key, a, b, allowed, ok in rows:
        print(f"{key:<14}{a:>12.5g}{b:>12.5g}{allowed:>12.3g}  {'yes' if ok else 'NO'}",
              file=out)


def build(name, out=None, *, recipe=None, write=False, verbose=True, stream=None):
    """Retrain a zoo model from its recipe and compare with its card.

    Parameters
    ----------
    name : str
        The model (its recipe is read, verified, from the zoo unless ``recipe`` is given).
    out : path-like, optional
        Folder to write the rebuilt model into (default ``./zoo_build``); ignored with
        ``write=True``.
    recipe : dict or path-like, optional
        A recipe to build instead of the zoo's (a new model).
    write : bool, default=False
        Write into the source zoo (``zoo/`` of the checkout), replacing the model.
    verbose : bool, default=True

    Raises
    ------
    RecipeError (a ValueError)
        Before any training: unknown model, missing or malformed recipe, a name that is not
        one safe folder name, or an output model folder holding files a build did not write
        (only a build's own artifacts are ever replaced).

    Returns
    -------
    dict
        ``{"name", "folder", "card" (the rebuilt card), "comparison" (rows quantity, card,
        rebuilt, allowed, ok; None without a shipped card), "ok"}``.
    """
    stream = sys.stdout if stream is None else stream
    check_model_name(name)
    if recipe is None:
        if name not in _store.list_models():
            raise RecipeError(f"unknown zoo model {name!r}; available: "
                              f"{', '.join(_store.list_models())} (or pass a recipe)")
        recipe = _store.recipe(name)
    elif not isinstance(recipe, dict):
        recipe = _read_recipe_file(recipe)
    try:
        _recipe.check_recipe(recipe, f"recipe of {name!r}")
    except ValueError as exc:
        raise RecipeError(str(exc)) from None
    check_model_name(recipe["name"], "recipe name")
    if recipe["name"] != name:
        raise RecipeError(f"the recipe is for {recipe['name']!r}, not {name!r}")
    shipped = None
    try:
        if name in _store.list_models():
            shipped = _store.card(name)
    except FileNotFoundError:
        shipped = None
    root = default_source_zoo() if write else Path("zoo_build" if out is None else out)
    if root.exists() and not root.is_dir():
        raise RecipeError(f"--out {str(root)!r} exists and is not a folder")
    _check_replaceable(root / name)  # before training, not after
    if verbose:
        print(f"building {name} -> {root / name}", file=stream, flush=True)
    est, checkpoints, seconds = _recipe.train(recipe, verbose=verbose)
    if verbose:
        print(f"trained in {seconds:.1f} s; measuring", file=stream, flush=True)
    metrics, probe = _recipe.evaluate(est, recipe, threads=recipe["training"].get("threads"))
    root.mkdir(parents=True, exist_ok=True)
    card = write_model(root, recipe, est, checkpoints, metrics, probe, seconds)
    rows = None
    ok = True
    if shipped is not None:
        rows = _recipe.compare(shipped["metrics"], metrics, recipe["tolerance"])
        ok = all(r[-1] for r in rows)
        if verbose:
            _print_rows(rows, stream)
            print("reproduced within tolerance" if ok else "NOT within tolerance",
                  file=stream, flush=True)
    elif verbose:
        print(f"test score {metrics['test_score']:.4f}, collapse dim "
              f"{metrics['collapse_dim']:.3f}, final loss {metrics['final_loss']:.5g} "
              "(no shipped card to compare with)", file=stream, flush=True)
    return {"name": name, "folder": str(root / name), "card": card, "comparison": rows,
            "ok": ok}
