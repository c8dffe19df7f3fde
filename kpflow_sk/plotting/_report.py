"""A report folder: PNG figures, ``results.json`` and one self-contained ``report.html``.

The page reads top to bottom the way a researcher asks: the headline (what was fitted, the
main numbers, findings), what each measure means, the figures with captions saying what to
look at, detailed tables, and last, collapsed, the configuration and every recorded number.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["write_report", "to_jsonable"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; border-bottom: 1px solid #ccc; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; }
th.row { text-align: left; font-weight: 600; background: #fafafa; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; margin-top: .3em; max-width: 900px; }
footer { margin-top: 3em; font-size: .8em; color: #888; }
table.headline td { text-align: left; }
table.headline th.row { min-width: 14em; }
dl.glossary dt { font-weight: 600; margin-top: .6em; }
dl.glossary dd { margin-left: 1.5em; color: #333; }
p.finding { background: #f6f8fa; border-left: 4px solid #4a7; padding: .5em .8em; }
details { margin-top: 2em; }
summary { cursor: pointer; font-weight: 600; font-size: 1.1em; }
"""


def to_jsonable(obj, path="results"):
    """``obj`` as plain JSON types: numpy/torch arrays -> lists, NaN/inf -> None.

    Parameters
    ----------
    obj : object
        Nested dicts, lists, tuples, sets, numbers, strings, None, ``pathlib.Path``,
        numpy arrays and scalars, torch tensors.
    path : str
        Where ``obj`` sits, for the error message.

    Returns
    -------
    object
        Made of dict (str keys), list, str, int, float (finite), bool and None.

    Raises
    ------
    TypeError
        For any other type, naming the key path (e.g. ``results['params']['cell']``).
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        x = float(obj)
        return x if math.isfinite(x) else None  # JSON has no NaN / Infinity
    if hasattr(obj, "detach") and hasattr(obj, "tolist"):  # torch.Tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), path)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if isinstance(key, (np.generic, numbers.Number)):
                key = str(key.item() if isinstance(key, np.generic) else key)
            if not isinstance(key, str):
                raise TypeError(f"{path} has a key of type {type(key).__name__}; "
                                f"JSON keys must be strings or numbers")
            out[key] = to_jsonable(value, f"{path}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [to_jsonable(v, f"{path}[{k}]") for k, v in enumerate(items)]
    raise TypeError(f"{path} is a {type(obj).__name__}, which results.json cannot hold; "
                    f"convert it (e.g. with str or float) first")


def _shape(value):
    """Shape of a nested list, read along its first elements."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def _fmt(value):
    """One cell of an HTML table, from a JSON-able value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float, bool, str)) or v is None for v in value) \
                and len(value) <= 8:
            return "[" + ", ".join(_fmt(v) for v in value) + "]"
        if any(isinstance(v, dict) for v in value):
            return f"list of {len(value)} records"
        return f"array of shape {_shape(value)}"
    if isinstance(value, dict):
        return f"dict of {len(value)} items"
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _flatten(results, prefix=""):
    """``{"a": {"b": 1}}`` -> ``[("a.b", 1)]``, so nested results read as one table."""
    rows = []
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def _table_parts(table, name):
    """Any accepted table form -> ``(columns, rows, row_labels)`` of JSON-able cells."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas DataFrame
        split = table.to_dict("split")
        index = split["index"]
        default = list(range(len(index)))
        table = {"data": split["data"], "columns": split["columns"],
                 "index": None if list(index) == default else index}
    if isinstance(table, Mapping):
        if "data" not in table:
            raise ValueError(f"table {name!r}: a dict table needs a 'data' entry "
                             f"(with optional 'index' and 'columns')")
        data = to_jsonable(table["data"], f"tables[{name!r}]['data']")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise ValueError(f"table {name!r}: 'data' must be 2-D")
        ncols = len(data[0]) if data else 0
        if any(len(r) != ncols for r in data):
            raise ValueError(f"table {name!r}: 'data' rows have different lengths")
        index = table.get("index")
        columns = table.get("columns")
        if index is not None and len(index) != len(data):
            raise ValueError(f"table {name!r}: {len(index)} index labels for "
                             f"{len(data)} rows")
        if columns is not None and len(columns) != ncols:
            raise ValueError(f"table {name!r}: {len(columns)} column labels for "
                             f"{ncols} columns")
        cols = [str(c) for c in columns] if columns is not None else [
            str(j) for j in range(ncols)]
        labels = [str(r) for r in index] if index is not None else None
        return cols, data, labels
    if isinstance(table, (list, tuple)) and table and all(isinstance(r, Mapping)
                                                          for r in table):
        records = to_jsonable(list(table), f"tables[{name!r}]")
        cols = list(dict.fromkeys(k for r in records for k in r))
        return cols, [[r.get(c) for c in cols] for r in records], None
    a = np.asarray(table.detach().cpu().numpy() if hasattr(table, "detach") else table)
    if a.ndim != 2:
        raise ValueError(f"table {name!r} must be a list of dict records, a DataFrame, "
                         f"a dict with 'data', or a 2-D array; got shape {a.shape}")
    return _table_parts({"data": a}, name)


def _html_table(columns, rows, row_labels=None, corner=""):
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    first = f'<th class="row">{esc(corner)}</th>' if row_labels is not None else ""
    lines = [f"<table>\n<tr>{first}{head}</tr>"]
    for i, row in enumerate(rows):
        label = (f'<th class="row">{esc(row_labels[i])}</th>'
                 if row_labels is not None else "")
        cells = "".join(f"<td>{esc(_fmt(v))}</td>" for v in row)
        lines.append(f"<tr>{label}{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _figure_items(figures):
    """``figures`` -> list of ``(name, Figure, caption)``."""
    if isinstance(figures, Mapping):
        items = [(name, *(value if isinstance(value, tuple) else (value,)))
                 for name, value in figures.items()]
    else:
        items = [tuple(item) for item in figures]
    out = []
    for item in items:
        if len(item) not in (2, 3):
            raise ValueError("each figure must be given as (name, Figure) or "
                             "(name, Figure, caption)")
        name, fig = str(item[0]), item[1]
        if not hasattr(fig, "savefig"):
            raise ValueError(f"figure {name!r} is a {type(fig).__name__}, not a Figure")
        out.append((name, fig, str(item[2]) if len(item) == 3 else name))
    return out


def _file_stem(name):
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return stem or "figure"


def write_report(folder, *, title, figures, results, tables=None, dpi=120, headline=None,
                 findings=None, glossary=None, config=None):
    """Write a report folder: one PNG per figure, ``results.json`` and ``report.html``.

    ``report.html`` is self-contained: the PNGs are embedded as base64 ``data:`` URIs and
    the style sheet is inline, so the file opens offline and can be mailed on its own (no
    external resources, no JavaScript).

    Parameters
    ----------
    folder : str or path-like
        Created (with parents) if missing; files of the same names are overwritten.
    title : str
        Page title and heading.
    figures : dict of str -> Figure or (Figure, caption), or sequence of tuples
        ``{name: fig}`` / ``{name: (fig, caption)}``, or ``[(name, fig[, caption]), ...]``.
        Each is saved as ``<name>.png`` (characters other than letters, digits, ``_.-``
        become ``_``) and shown in order, captioned (by its name when no caption).
    results : dict
        Written to ``results.json`` after :func:`to_jsonable` (numpy arrays and scalars,
        torch tensors converted; NaN and inf become ``null``). Shown in the page as a
        quantity / value table, nested dicts flattened to dotted keys, long arrays
        summarised by their shape.
    tables : dict of str -> table, optional
        Extra tables, each under its name as a heading. A table is a list of dict records
        (columns = union of keys), a pandas DataFrame, a dict
        ``{"data": 2-D, "index": row labels, "columns": column labels}`` (labels
        optional; the form of ``DataFrame.to_dict("split")``), or a 2-D array.
    dpi : float, default=120
        Resolution of the PNGs.
    headline : dict of str -> value, optional
        The first table of the page ("Summary"): what was fitted and the main numbers.
    findings : sequence of (heading, text), optional
        Sentences shown under the headline (e.g. a verdict on a finding).
    glossary : dict of str -> str, optional
        "What the measures mean": one entry per measure shown.
    config : dict, optional
        Shown last, collapsed (``<details>``), as a quantity / value table; ``results``
        follows it there, also collapsed.

    Returns
    -------
    path : pathlib.Path
        The path of ``report.html``.

    Raises
    ------
    ValueError
        If two figures map to the same file name, a figure is not a Figure, or a table
        has an unsupported form or mismatched labels.
    TypeError
        If ``results`` holds a value JSON cannot represent.
    """
    folder = Path(folder)
    items = _figure_items(figures)
    stems = [_file_stem(name) for name, _, _ in items]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ValueError(f"figure names collide as file names: {dupes}")
    if not isinstance(results, Mapping):
        raise ValueError(f"results must be a dict, got {type(results).__name__}")
    payload = to_jsonable(results)
    parts = [(name, _table_parts(table, name)) for name, table in (tables or {}).items()]

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "results.json", "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, allow_nan=False)
        fh.write("\n")

    esc = html.escape
    body = [f"<h1>{esc(str(title))}</h1>"]
    if headline:
        hl = to_jsonable(dict(headline), "headline")
        body.append("<h2>Summary</h2>")
        body.append(_html_table(["value"], [[v] for v in hl.values()], list(hl),
                                corner="").replace("<table>", '<table class="headline">', 1))
    for heading, text in findings or ():
        body.append(f'<p class="finding"><strong>{esc(str(heading))}.</strong> '
                    f"{esc(str(text))}</p>")
    if glossary:
        body.append("<h2>What the measures mean</h2>\n<dl class=\"glossary\">")
        body.extend(f"<dt>{esc(str(k))}</dt><dd>{esc(str(v))}</dd>" for k, v in glossary.items())
        body.append("</dl>")

    if items:
        body.append("<h2>Figures</h2>")
    for (name, fig, caption), stem in zip(items, stems):
        png = folder / f"{stem}.png"
        fig.savefig(png, dpi=dpi, format="png")
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        body.append(f'<figure id="{esc(stem)}">\n<img src="data:image/png;base64,{data}" '
                    f'alt="{esc(name)}">\n<figcaption>{esc(caption)}</figcaption>\n'
                    f"</figure>")

    if parts:
        body.append("<h2>Tables</h2>")
    for name, (columns, cells, labels) in parts:
        body.append(f"<h3>{esc(str(name))}</h3>")
        body.append(_html_table(columns, cells, labels))

    rows = _flatten(payload)
    if config is not None:
        crow = _flatten(to_jsonable(dict(config), "config"))
        body.append("<details>\n<summary>Configuration</summary>")
        body.append(_html_table(["value"], [[v] for _, v in crow], [k for k, _ in crow],
                                corner="parameter"))
        body.append("</details>")
    body.append("<details>\n<summary>Results</summary>\n"
                "<p>Every number recorded in results.json.</p>")
    if rows:
        body.append(_html_table(["value"], [[v] for _, v in rows], [k for k, _ in rows],
                                corner="quantity"))
    else:
        body.append("<p>No results recorded.</p>")
    body.append("</details>")

    from kpflow_sk import __version__

    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(str(title))}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body)
            + f"\n<footer>Written by kpflow_sk {esc(__version__)}.</footer>\n"
            "</body>\n</html>\n")
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
