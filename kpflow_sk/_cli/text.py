"""Plain-text tables for the terminal (no pandas needed)."""

from __future__ import annotations

import math
import numbers

__all__ = ["format_value", "format_table", "format_matrix", "format_mean_sd"]


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


def format_mean_sd(mean, sd, n, decimals=None):
    """``"m +- s"`` of a mean and a standard deviation over ``n`` values (``m`` alone when
    ``n == 1``; ``-`` when the mean is missing or not finite).

    Significant digits by default (m: 4, s: 2); fixed ``decimals`` when given.

    >>> format_mean_sd(0.6, 0.1414, 2), format_mean_sd(2.0, 0.0, 1), format_mean_sd(None, None, 0)
    ('0.6 +- 0.14', '2', '-')
    """
    if mean is None or not math.isfinite(float(mean)):
        return "-"

    def fmt(x, digits):
        return f"{x:.{decimals}f}" if decimals is not None else format_value(x, digits)

    if n == 1 or sd is None or not math.isfinite(float(sd)):
        return fmt(float(mean), 4)
    return f"{fmt(float(mean), 4)} +- {fmt(float(sd), 2)}"
