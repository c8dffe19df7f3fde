"""Plain-text tables for the terminal (no pandas needed)."""

from __future__ import annotations

import math
import numbers

__all__ = ["format_value", "format_table", "format_matrix", "mean_sd"]


def format_value(value, digits=4):
    """One table cell: floats to ``digits`` significant digits, None and NaN as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        return "-" if not math.isfinite(x) else f"{x:.{digits}g}"
    return str(value)


def format_table(rows, headers, *, indent="  "):
    """Align ``rows`` (sequences of cells) under ``headers``; text left, numbers right.

    Returns
    -------
    str
        Header line, a rule, then one line per row (no trailing newline).
    """
    cells = [[format_value(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[j], numbers.Number) or row[j] is None for row in rows)
               and bool(rows) for j in range(len(headers))]
    widths = [max([len(str(h))] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]

    def line(items):
        parts = [s.rjust(w) if num else s.ljust(w)
                 for s, w, num in zip(items, widths, numeric)]
        return (indent + "  ".join(parts)).rstrip()

    out = [line([str(h) for h in headers]),
           indent + "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def format_matrix(matrix, labels, *, corner="", digits=2):
    """A square matrix with row and column labels (e.g. the task alignment)."""
    rows = [[labels[i]] + [round(float(v), digits) for v in row]
            for i, row in enumerate(matrix)]
    return format_table(rows, [corner] + list(labels))


def mean_sd(values, decimals=None):
    """``"m +- s"`` over the finite values (sample sd, ddof=1; ``m`` alone for one value).

    Significant digits by default (m: 4, s: 2); fixed ``decimals`` when given.
    """
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return "-"
    m = sum(xs) / len(xs)

    def fmt(x, digits):
        return f"{x:.{decimals}f}" if decimals is not None else format_value(x, digits)

    if len(xs) == 1:
        return fmt(m, 4)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return f"{fmt(m, 4)} +- {fmt(s, 2)}"
