"""The layouts the ESN steps read, built from W in CSR once per weights.

* one sequence: SELL-8-sigma in column blocks (``to_sell``). The rows are cut into
  one contiguous range per thread; within a range they are sorted by length and cut
  into slices of 8; a slice stores its entries column-major, so its 8 row sums are
  the 8 lanes of one vector FMA (``_simd.sell_slice_sums``) and padding stays small.
  The columns are cut into blocks whose part of x stays in L1, with indices local to
  the block.
* a batch of B sequences: CSR in column blocks, stored block after block
  (``to_column_blocks``), over a state held as (n, B) in buffers that start on a
  cache line (``cache_line_aligned_zeros``).

The builders' loops are compiled kernels (parallel over rows): a layout of a large
reservoir is built in about the time of a few steps.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ...config import settings
from ._compile import announce


@announce("the layouts of a large reservoir")
@njit(parallel=True, cache=True)
def _column_block_starts(indptr, indices, block_columns, n_blocks):
    """starts[b, row]: first entry of `row` whose column is in block b (columns sorted per row);
    starts[n_blocks, row] is the row's end."""
    n = indptr.shape[0] - 1
    starts = np.empty((n_blocks + 1, n), dtype=np.int64)
    for row in prange(n):
        k = indptr[row]
        for block in range(n_blocks):
            starts[block, row] = k
            limit = (block + 1) * block_columns
            while k < indptr[row + 1] and indices[k] < limit:
                k += 1
        starts[n_blocks, row] = indptr[row + 1]
    return starts


@njit(parallel=True, cache=True)
def _fill_column_blocks(starts, indices, data, block_columns, segment_ptr, local_indices, block_data):
    """Copy CSR entries into block-major segments: segment (b, row), the entries
    starts[b, row]:starts[b + 1, row], goes to segment_ptr[b * n + row] with columns
    local to block b."""
    n = starts.shape[1]
    for row in prange(n):
        for block in range(starts.shape[0] - 1):
            position = segment_ptr[block * n + row]
            for k in range(starts[block, row], starts[block + 1, row]):
                local_indices[position] = indices[k] - block_columns[block]
                block_data[position] = data[k]
                position += 1


@njit(parallel=True, cache=True)
def _fill_sell(
    row_start, row_stop, indices, data, first_column, row_of, first_slice, last_slice, slice_ptr, columns, values
):
    """Copy one column block's entries (row i: row_start[i]:row_stop[i] of the CSR) into its slices."""
    for s in prange(first_slice, last_slice):
        width = (slice_ptr[s + 1] - slice_ptr[s]) // 8
        for r in range(8):
            row = row_of[s * 8 + r]
            start = row_start[row] if row >= 0 else 0
            length = row_stop[row] - start if row >= 0 else 0
            last = 0
            for j in range(width):
                slot = slice_ptr[s] + j * 8 + r
                if j < length:
                    last = indices[start + j] - first_column
                    columns[slot] = last
                    values[slot] = data[start + j]
                else:  # padding: weight 0 on a column already being read
                    columns[slot] = last


def column_blocks(W: sp.csr_array, width: int):
    """W's columns cut into blocks of `width` (the last one shorter, none empty):
    (block_columns, starts), block b covering columns block_columns[b]:block_columns[b + 1]
    and starts[b, row] the first entry of `row` in it (starts[-1] the rows' ends)."""
    n_blocks = -(-W.shape[1] // width)
    starts = _column_block_starts(W.indptr.astype(np.int64), W.indices, width, n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * width, W.shape[1]), starts


def _column_dtype(n_columns: int):
    return np.uint16 if n_columns <= np.iinfo(np.uint16).max + 1 else np.uint32


def to_column_blocks(W: sp.csr_array, width: int):
    """(block_columns, segment_ptr, indices, data): W as one CSR per block of `width` columns,
    stored block after block, columns local to their block (uint16 while a block has at most
    65,536): segment (b, row) is data[segment_ptr[b * n + row]:segment_ptr[b * n + row + 1]].

    A step that sweeps one column block over all rows before the next then streams its
    entries contiguously; with row-major CSR and per-block offsets, a sweep read a short
    piece of every row, which was slower than no blocks at all once the matrix no longer
    fitted in L3.
    """
    n_rows, n_columns = W.shape
    block_columns, starts = column_blocks(W, width)
    n_blocks = len(block_columns) - 1
    segment_ptr = np.zeros(n_blocks * n_rows + 1, dtype=np.int64)
    np.cumsum(np.diff(starts, axis=0).ravel(), out=segment_ptr[1:])
    indices = np.empty(W.nnz, dtype=_column_dtype(min(width, n_columns)))
    data = np.empty_like(W.data)
    _fill_column_blocks(starts, W.indices, W.data, block_columns, segment_ptr, indices, data)
    return block_columns, segment_ptr, indices, data


def to_sell(W: sp.csr_array, slice_rows: int, parts: int = 1):
    """Column-blocked SELL-8-sigma, the layout of the one-sequence step, its rows cut
    into `parts` contiguous ranges of about equal nonzeros (one per thread).

    The columns are cut into blocks whose part of x fits in half of L1
    (``settings.sell_block_bytes``): the random reads x[column] of a block then hit
    L1 instead of L2. Each block is its own SELL matrix: within each row range, rows
    sorted by their length in the block (longest first), slices of 8 rows, entries of a
    slice column-major and padded with zero weights, column indices local to the block
    (uint16 while a block has at most 65,536 columns). A thread that takes one row range
    in every block sums and finishes its own rows, so a parallel step needs one region
    and no thread reads another's sums.

    Returns (block_columns, block_slices, slice_ptr, columns, values, row_of,
    part_slices, part_rows): block b covers columns block_columns[b]:block_columns[b + 1]
    and slices block_slices[b]:block_slices[b + 1], of which part_slices[b, p]:
    part_slices[b, p + 1] hold the rows part_rows[p]:part_rows[p + 1]; slice s holds the
    rows row_of[8 s: 8 s + 8] (-1 for padding) and the entries slice_ptr[s]:slice_ptr[s + 1].
    """
    if slice_rows != 8:
        raise ValueError("the SELL kernel is written for slices of 8 rows")
    n_rows, n_columns = W.shape
    itemsize = W.data.dtype.itemsize
    n_blocks = -(-n_columns * itemsize // settings.sell_block_bytes)
    # A block needs enough entries per row to amortise its slice overhead and a pass over x.
    n_blocks = int(max(1, min(n_blocks, W.nnz // (8 * max(n_rows, 1)))))
    width = -(-n_columns // n_blocks)
    block_columns, starts = column_blocks(W, width)
    n_blocks = len(block_columns) - 1
    part_rows = sell_part_rows(W, parts)
    blocks = []
    part_counts = np.zeros((n_blocks, len(part_rows) - 1), dtype=np.int64)
    for block in range(n_blocks):
        lengths = starts[block + 1] - starts[block]
        pieces = []
        for part in range(len(part_rows) - 1):
            first, last = part_rows[part], part_rows[part + 1]
            n_slices = -(-(last - first) // slice_rows)
            rows = np.full(n_slices * slice_rows, -1, dtype=np.int64)
            rows[: last - first] = first + np.argsort(-lengths[first:last], kind="stable")
            pieces.append(rows.reshape(n_slices, slice_rows))
            part_counts[block, part] = n_slices
        rows = np.concatenate(pieces)
        padded_lengths = np.where(rows >= 0, lengths[np.maximum(rows, 0)], 0)
        blocks.append((rows.ravel(), padded_lengths.max(axis=1)))
    widths = np.concatenate([block_widths for _, block_widths in blocks])
    slice_ptr = np.zeros(widths.size + 1, dtype=np.int64)
    np.cumsum(widths * slice_rows, out=slice_ptr[1:])
    block_slices = np.zeros(n_blocks + 1, dtype=np.int64)
    np.cumsum([block_widths.size for _, block_widths in blocks], out=block_slices[1:])
    part_slices = np.zeros((n_blocks, part_counts.shape[1] + 1), dtype=np.int64)
    part_slices[:, 1:] = np.cumsum(part_counts, axis=1)
    part_slices += block_slices[:-1, None]
    row_of = np.concatenate([rows for rows, _ in blocks])
    columns = np.zeros(slice_ptr[-1], dtype=_column_dtype(width))
    values = np.zeros(slice_ptr[-1], dtype=W.data.dtype)
    for block in range(n_blocks):
        _fill_sell(
            starts[block],
            starts[block + 1],
            W.indices,
            W.data,
            block_columns[block],
            row_of,
            block_slices[block],
            block_slices[block + 1],
            slice_ptr,
            columns,
            values,
        )
    return block_columns, block_slices, slice_ptr, columns, values, row_of, part_slices, part_rows


def sell_part_rows(W: sp.csr_array, parts: int) -> np.ndarray:
    """Row boundaries (parts + 1 of them, fewer when rows run out) that cut W into
    contiguous row ranges of about equal nonzeros."""
    n_rows = W.shape[0]
    shares = np.linspace(0, W.nnz, max(1, int(parts)) + 1)[1:-1]
    inner = np.searchsorted(W.indptr[1:], shares, side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(inner, 1, max(n_rows - 1, 1)), [n_rows]])).astype(np.int64)


def cache_line_aligned_zeros(shape, dtype, line_bytes: int = 64) -> np.ndarray:
    """Zeros whose data starts on a cache line.

    For the batched state, whose rows are gathered as whole vectors. NumPy and Numba
    promise 16- or 32-byte alignment only; off a line, every other 32-byte load splits
    across two lines and a 128-byte row touches three.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buffer = np.zeros(count * dtype.itemsize + line_bytes, dtype=np.uint8)
    start = -buffer.ctypes.data % line_bytes
    return buffer[start : start + count * dtype.itemsize].view(dtype).reshape(shape)
