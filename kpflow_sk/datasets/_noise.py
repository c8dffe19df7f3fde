"""Gaussian input noise for the task generators, drawn straight into float32 arrays.

- :func:`add_noise` adds ``scale * rng.standard_normal(shape)`` to an array (numpy's own draw,
  in row blocks; used by the small tasks).
- :func:`normal_rows_into` writes N(0, scale^2) float32 samples into the leading ``lengths[i]``
  entries of each row of a 2-D array (the steps of each padded trial), used by the Yang et al.
  tasks, whose ~10^8 noise values per 10,000 trials dominate the cost of generating them.
- :func:`fault_in_rows` maps the memory of those row segments in one quick pass (one store per
  page) before they are filled.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NORMAL_CHUNK", "add_noise", "fault_in_rows", "normal_rows_into"]

#: Normal pairs drawn per chunk: the scratch (one uint64 and one float32 row of this length,
#: 768 KiB) stays in the L2 cache between the passes over it.
NORMAL_CHUNK = 1 << 16

#: float32 values per 4 KiB page: the stride of :func:`fault_in_rows`.
_PAGE_VALUES = 1024

#: Exponent bits of the float32 1.0: ``(bits >> 9) | _ONE_BITS`` is a float32 in [1, 2).
_ONE_BITS = np.uint32(0x3F800000)


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


def _box_muller_radius_phase(bulk, pairs, scale):
    """Radius ``scale sqrt(-2 ln u1)`` and phase ``2 pi (1 + u2)`` of ``pairs`` Box-Muller pairs.

    One 64-bit draw of ``bulk`` per pair, as two 32-bit words (the first ``pairs`` words give
    ``u1``, the next ``pairs`` give ``u2``). Each word keeps its top 23 bits as the mantissa of
    a float32 ``f`` in [1, 2) (bit operations: no integer-to-float conversion); ``u1 = 2 - f``
    lies in (0, 1] (a multiple of 2^-23, exact, so ``ln`` is finite and ``|z| <= 5.65 scale``)
    and the phase ``2 pi f`` lies in [2 pi, 4 pi) (cosine and sine do not mind the offset).
    Returns two float32 views of one fresh ``2 * pairs`` buffer.
    """
    words = bulk.integers(0, 2**64, size=pairs, dtype=np.uint64).view(np.uint32)
    np.right_shift(words, 9, out=words)
    np.bitwise_or(words, _ONE_BITS, out=words)
    f = words.view(np.float32)
    radius, phase = f[:pairs], f[pairs:]
    np.subtract(np.float32(2.0), radius, out=radius)     # u1 in (0, 1]
    np.log(radius, out=radius)
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)
    phase *= np.float32(2.0 * np.pi)
    return radius, phase


def fault_in_rows(rows, lengths):
    """Map the memory of ``rows[i, :lengths[i]]`` for every row ``i``, leaving it unchanged.

    Multiplies by 1 (a store that keeps every value) one entry per 4 KiB page of each segment
    (the first, then every :data:`_PAGE_VALUES`-th, and the last), so the kernel maps those
    pages now, in one quick pass, instead of one at a time while a slower loop fills them;
    entries past ``lengths[i]`` are not touched. ``rows`` is (n, L) with C-contiguous rows,
    ``lengths`` (n,) ints in [0, L].
    """
    lengths = np.asarray(lengths, dtype=np.int64).ravel()
    if rows.shape[1] == 0:
        return rows
    probes = rows[:, ::_PAGE_VALUES]
    inside = np.arange(probes.shape[1])[None, :] * _PAGE_VALUES < lengths[:, None]
    np.multiply(probes, rows.dtype.type(1), out=probes, where=inside)
    last = np.flatnonzero(lengths > 0)
    rows[last, lengths[last] - 1] *= rows.dtype.type(1)
    return rows


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
    ``standard_normal(dtype=np.float32)`` costs several times more per sample on our CPUs,
    ``torch.randn`` about 25% more, and neither has a "fill these row segments" form). The
    stream of the concatenated row segments is drawn in chunks of :data:`NORMAL_CHUNK` pairs;
    the cosine half of a chunk fills its first half of the stream and the sine half the rest,
    each written straight into the rows (no intermediate copy). The samples are exact
    Gaussians up to float32 rounding of the transform and the 23-bit grids of the two
    uniforms (see :func:`_box_muller_radius_phase`).

    The bits are drawn from numpy's SFC64 bit generator seeded by one draw of ``rng`` (so the
    same ``rng`` state gives the same values, and ``rng`` advances by that one draw), 64 bits
    per pair: its calls cost about half those of the default PCG64 and are still about 40% of
    the cost.
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
    trig_buffer = np.empty(chunk, dtype=np.float32)
    bulk = np.random.Generator(np.random.SFC64(rng.integers(0, 2**63, size=2)))
    cursor = [0, 0]                                       # (row, offset) of the next value
    left = total
    while left > 0:
        k = min(2 * chunk, left)
        pairs = (k + 1) // 2
        radius, phase = _box_muller_radius_phase(bulk, pairs, scale)
        trig = trig_buffer[:pairs]
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
