"""`weights.npz` written and read back one block at a time, never whole.

The file is what `np.savez` writes (a zip of `.npy` members, stored, not
compressed: `np.load` reads it as always), but each member is written from
its array, or from a `Blocks` that yields its rows block by block, straight
into the file through `tf.io.gfile`: memory holds one block at a time, not
the checkpoint. `write` returns each member's sha256 and `digests` computes
them again from disk, block by block, so that what was written can be
proven without keeping it.

Example:
  digests = npz_stream.write(path, {'dense/kernel': kernel,
                                    'emb': Blocks('float32', (rows, 32),
                                                  read_rows)})
  assert npz_stream.digests(path) == digests
"""

from collections.abc import Callable, Iterator, Mapping
import dataclasses
import hashlib
import io
import zipfile

import numpy as np
import tensorflow as tf

# Bytes per block read or written.
BLOCK_BYTES = 64 << 20


@dataclasses.dataclass(frozen=True)
class Blocks:
  """An array too large to hold: its dtype, shape and a reader of its rows.

  `read(start, stop)` returns rows `[start, stop)` (C order, this dtype).
  """

  dtype: str
  shape: tuple[int, ...]
  read: Callable[[int, int], np.ndarray]

  def __array__(self, dtype=None, copy=None) -> np.ndarray:
    """The whole array, read now (for code that needs it in memory)."""
    del copy
    whole = (
        np.concatenate(list(self.row_blocks(BLOCK_BYTES)))
        if self.shape
        else self.read(0, 1)
    )
    return np.asarray(whole, dtype=dtype).reshape(self.shape)

  def row_blocks(self, block_bytes: int) -> Iterator[np.ndarray]:
    if not self.shape or not self.shape[0]:
      yield self.read(0, self.shape[0] if self.shape else 1)
      return
    row = np.dtype(self.dtype).itemsize * int(np.prod(self.shape[1:]))
    step = max(1, block_bytes // max(row, 1))
    for start in range(0, self.shape[0], step):
      yield self.read(start, min(self.shape[0], start + step))


class _Appending(io.RawIOBase):
  """A write-only stream over a GFile; zip writes it without seeking."""

  def __init__(self, raw):
    super().__init__()
    self._raw = raw
    self._position = 0

  def writable(self) -> bool:
    return True

  def write(self, data) -> int:
    data = bytes(data)
    self._raw.write(data)
    self._position += len(data)
    return len(data)

  def tell(self) -> int:
    return self._position

  def flush(self) -> None:
    self._raw.flush()


class _Hashing:
  """Writes through to `out` and hashes what passes."""

  def __init__(self, out):
    self._out = out
    self.digest = hashlib.sha256()

  def write(self, data) -> int:
    self.digest.update(data)
    return self._out.write(data)


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> dict:
  return {
      'descr': np.lib.format.dtype_to_descr(dtype),
      'fortran_order': False,
      'shape': tuple(int(n) for n in shape),
  }


def _c_order(value, dtype=None) -> np.ndarray:
  """`value` as a C-ordered array (0-d stays 0-d, unlike ascontiguousarray)."""
  array = np.asarray(value, dtype=dtype)
  return array if array.flags.c_contiguous else array.copy(order='C')


def _write_member(out, value, block_bytes: int) -> None:
  if isinstance(value, Blocks):
    dtype = np.dtype(value.dtype)
    np.lib.format.write_array_header_2_0(out, _header(dtype, value.shape))
    rows = value.shape[0] if value.shape else None
    written = 0
    for block in value.row_blocks(block_bytes):
      block = _c_order(block, dtype)
      if value.shape and block.shape[1:] != tuple(value.shape[1:]):
        raise ValueError(
            f'a block of shape {block.shape} for an array of {value.shape}'
        )
      written += block.shape[0] if value.shape else 1
      out.write(block.tobytes())
    if rows is not None and written != rows:
      raise ValueError(f'{written} rows read for an array of {value.shape}')
    return
  array = _c_order(value)
  np.lib.format.write_array_header_2_0(out, _header(array.dtype, array.shape))
  out.write(array.tobytes())


def write(
    path: str,
    arrays: Mapping[str, np.ndarray | Blocks],
    block_bytes: int = BLOCK_BYTES,
) -> dict[str, str]:
  """Writes `arrays` as the .npz `path`; returns each member's sha256.

  Values are arrays or `Blocks`; a `Blocks` is read one block at a time.
  """
  digests = {}
  with tf.io.gfile.GFile(path, 'wb') as raw:
    with zipfile.ZipFile(
        _Appending(raw), 'w', zipfile.ZIP_STORED, allowZip64=True
    ) as archive:
      for name, value in arrays.items():
        with archive.open(f'{name}.npy', 'w', force_zip64=True) as member:
          hashing = _Hashing(member)
          _write_member(hashing, value, block_bytes)
        digests[name] = hashing.digest.hexdigest()
  return digests


def digests(path: str, block_bytes: int = BLOCK_BYTES) -> dict[str, str]:
  """Each member's sha256, read back from `path` one block at a time.

  Raises:
    OSError, ValueError, zipfile.BadZipFile, tf.errors.OpError: `path`
      cannot be read as a zip (the caller names the file).
  """
  found = {}
  with tf.io.gfile.GFile(path, 'rb') as raw:
    with zipfile.ZipFile(raw) as archive:
      for info in archive.infolist():
        if not info.filename.endswith('.npy'):
          raise ValueError(f'member {info.filename!r} is not an array')
        digest = hashlib.sha256()
        with archive.open(info) as member:  # checks the member's CRC-32
          while block := member.read(block_bytes):
            digest.update(block)
        found[info.filename[: -len('.npy')]] = digest.hexdigest()
  return found
