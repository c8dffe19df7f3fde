"""Gaussian input noise for the task generators, drawn straight into float32 arrays.

- :func:`add_noise` adds ``scale * rng.standard_normal(shape)`` to an array (numpy's own draw,
  in row blocks; used by the small tasks).
- :func:`normal_rows_into` writes N(0, scale^2) float32 samples into the leading ``lengths[i]``
  entries of each row of a 2-D array (the steps of each padded trial), used by the Yang et al.
  tasks, whose ~10^8 noise values per 10,000 trials dominate the cost of generating them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NORMAL_CHUNK", "add_noise", "normal_rows_into"]

#: Normal pairs drawn per chunk: the scratch rows (one float64 and four float32 of this length,
#: about 0.75 MiB) stay in the L2 cache between the passes over them.
NORMAL_CHUNK = 1 << 15

_TWO_POW_24 = float(1 << 24)


def add_noise(arr, rng, scale, chunk_elements=1 << 20):
    """Add ``scale * rng.standard_normal(arr.shape)`` to the float32 array ``arr``, in place.

    Draws float64 normals for blocks of rows (about ``chunk_elements`` values each) and adds
    them in float32, so no float64 array of the size of ``arr`` is made. Consecutive draws of a
    numpy Generator continue one stream, so the result equals the unchunked
    ``arr += (scale * rng.standard_normal(arr.shape)).astype(np.float32)`` bit for bit.
    """
    if scale <= 0:
        return arr
    per_row = int(np.prod(arr.shape[1:], dtype=np.int64)) if arr.ndim > 1 else 1
    rows = max(1, chunk_elements // max(per_row, 1))
    for lo in range(0, arr.shape[0], rows):
        block = arr[lo:lo + rows]
        block += (scale * rng.standard_normal(block.shape)).astype(np.float32)
    return arr


class _Scratch:
    """The chunk buffers of :func:`normal_rows_into` (allocated once per call)."""

    def __init__(self, pairs):
        self.bits = np.empty(pairs, dtype=np.float64)
        self.high = np.empty(pairs, dtype=np.float64)
        self.radius = np.empty(pairs, dtype=np.float32)
        self.phase = np.empty(pairs, dtype=np.float32)
        self.trig = np.empty(pairs, dtype=np.float32)


def _box_muller_radius_phase(rng, pairs, scale, s):
    """Radius ``scale sqrt(-2 ln u1)`` and phase ``2 pi u2`` of ``pairs`` Box-Muller pairs.

    Both uniforms come from one float64 draw ``k 2^-53`` of ``rng`` (53 random bits): its top 24
    bits give ``u1`` in (0, 1] (a multiple of 2^-24, exact in float32, so ``ln`` is finite and
    ``|z| <= 5.8 scale``) and its low 29 bits give ``u2`` in [0, 1). One generator call per pair
    instead of two: the calls cost more than the transform itself.
    """
    bits, high = s.bits[:pairs], s.high[:pairs]
    radius, phase = s.radius[:pairs], s.phase[:pairs]
    rng.random(out=bits)
    bits *= _TWO_POW_24                                   # k 2^-29: top 24 bits . low 29 bits
    np.floor(bits, out=high)                               # (np.modf is several times slower)
    bits -= high
    np.subtract(_TWO_POW_24, high, out=radius, casting="same_kind")   # integers in (0, 2^24]
    radius *= np.float32(1.0 / _TWO_POW_24)                # u1 in (0, 1], exact
    np.multiply(bits, 2.0 * np.pi, out=phase, casting="same_kind")
    np.log(radius, out=radius)
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)
    return radius, phase


def normal_rows_into(rows, lengths, rng, scale):
    """Write N(0, scale^2) float32 samples into ``rows[i, :lengths[i]]`` for every row ``i``.

    Parameters
    ----------
    rows : ndarray of shape (n, L), float32, C-contiguous rows
        Written in place; entries past ``lengths[i]`` are not touched (so the padding of a
        freshly ``np.zeros``-allocated array is never even paged in).
    lengths : array-like of shape (n,), int
        Number of leading entries of each row to fill, in [0, L].
    rng : numpy.random.Generator
    scale : float
        Standard deviation, >= 0 (0 writes zeros).

    Notes
    -----
    Hand-written Box-Muller transform in float32 (numpy's float32 ziggurat
    ``standard_normal(dtype=np.float32)`` costs several times more per sample on our CPUs, and
    has no "fill these row segments" form). The stream of the concatenated row segments is
    drawn in chunks of :data:`NORMAL_CHUNK` pairs; the cosine half of a chunk fills its first
    half of the stream and the sine half the rest, each written straight into the rows (no
    intermediate copy). The samples are exact Gaussians up to float32 rounding of the
    transform and the 24/29-bit grids of the two uniforms.

    The uniforms are drawn from numpy's SFC64 bit generator seeded by one draw of ``rng`` (so
    the same ``rng`` state gives the same values, and ``rng`` advances by that one draw): its
    calls cost about half those of the default PCG64, and they are the largest part of the cost.
    """
    lengths = [int(v) for v in np.asarray(lengths).ravel()]
    if rows.ndim != 2 or rows.dtype != np.float32 or len(lengths) != rows.shape[0]:
        raise ValueError("rows must be a 2-D float32 array with one length per row")
    if lengths and (min(lengths) < 0 or max(lengths) > rows.shape[1]):
        raise ValueError(f"lengths must lie in [0, {rows.shape[1]}] (the row length)")
    total = sum(lengths)
    if total == 0:
        return rows
    chunk = min(NORMAL_CHUNK, (total + 1) // 2)
    s = _Scratch(chunk)
    bulk = np.random.Generator(np.random.SFC64(rng.integers(0, 2**63, size=2)))
    cursor = [0, 0]                                       # (row, offset) of the next value
    left = total
    while left > 0:
        k = min(2 * chunk, left)
        pairs = (k + 1) // 2
        radius, phase = _box_muller_radius_phase(bulk, pairs, scale, s)
        trig = s.trig[:pairs]
        np.cos(phase, out=trig)
        _write(rows, lengths, cursor, radius, trig)
        np.sin(phase, out=trig)
        _write(rows, lengths, cursor, radius[:k - pairs], trig[:k - pairs])
        left -= k
    return rows


def _write(rows, lengths, cursor, radius, trig):
    """``radius * trig`` into the next ``radius.size`` values of the row segments at ``cursor``."""
    row, offset = cursor
    pos, k = 0, radius.size
    while pos < k:
        take = min(lengths[row] - offset, k - pos)
        if take > 0:
            np.multiply(radius[pos:pos + take], trig[pos:pos + take],
                        out=rows[row, offset:offset + take])
            pos += take
            offset += take
        if offset == lengths[row]:
            row, offset = row + 1, 0
    cursor[0], cursor[1] = row, offset
