"""`weights.npz` written and read back one block at a time, never whole.

The file is what `np.savez` writes (a zip of `.npy` members, stored, not
compressed: `np.load` reads it as always), but each member is written from
its array, or from a `Blocks` that yields its rows block by block, straight
into the file (a local file unbuffered, any other through `tf.io.gfile`):
memory holds one block at a time, not the checkpoint. Every byte is hashed
once on its way to the file, so `write` returns the file's sha256 without
reading it again, and `sha256` reads it back, block by block, so that what
was written can be proven without keeping it.

Example:
  digest = npz_stream.write(path, {'dense/kernel': kernel,
                                   'emb': Blocks('float32', (rows, 32),
                                                 read_rows)})
  assert npz_stream.sha256(path) == digest
"""

from collections.abc import Callable, Iterator, Mapping
import dataclasses
import hashlib
import io
import zipfile

import numpy as np
import tensorflow as tf

from estimator_migrate.checkpoints import files

# Bytes per block read or written.
BLOCK_BYTES = 64 << 20
# Bytes read at a time to hash a file: one buffer, reused, that stays in
# the CPU's cache between the read and the hash.
_HASH_BYTES = 4 << 20


@dataclasses.dataclass(frozen=True)
class Blocks:
  """An array too large to hold: its dtype, shape and a reader of its rows.

  `read(start, stop)` returns rows `[start, stop)` (C order, this dtype).
  `bounds`: rows where a stored piece begins (a sliced checkpoint tensor);
  no block crosses one, so that each block is one ranged read, returned
  without a copy.
  """

  dtype: str
  shape: tuple[int, ...]
  read: Callable[[int, int], np.ndarray]
  bounds: tuple[int, ...] = ()

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
    rows = self.shape[0]
    row = np.dtype(self.dtype).itemsize * int(np.prod(self.shape[1:]))
    step = max(1, block_bytes // max(row, 1))
    bounds = sorted({b for b in self.bounds if 0 < b < rows} | {rows})
    start, edge = 0, 0
    while start < rows:
      while bounds[edge] <= start:
        edge += 1
      stop = min(start + step, bounds[edge])
      yield self.read(start, stop)
      start = stop


class _Appending(io.RawIOBase):
  """A write-only stream over a file that hashes every byte it passes on.

  zip writes it without seeking (a data descriptor after each member), so
  the bytes hashed are the file's, in order: `digest` is the file's sha256
  without reading it again. Data is passed on as it comes (memoryviews of
  arrays, never copied).
  """

  def __init__(self, raw):
    super().__init__()
    self._raw = raw
    self._position = 0
    self.digest = hashlib.sha256()

  def writable(self) -> bool:
    return True

  def write(self, data) -> int:
    data = memoryview(data).cast('B')
    self.digest.update(data)
    if isinstance(self._raw, io.RawIOBase):  # may write less than asked
      done = 0
      while done < data.nbytes:
        done += self._raw.write(data[done:])
    else:  # a GFile takes bytes only
      self._raw.write(bytes(data))
    self._position += data.nbytes
    return data.nbytes

  def tell(self) -> int:
    return self._position

  def flush(self) -> None:
    self._raw.flush()


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


def _bytes(array: np.ndarray) -> memoryview:
  """The raw bytes of a C-ordered array, in place (no copy)."""
  return memoryview(array.reshape(-1).view(np.uint8)) if array.size else b''


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
      out.write(_bytes(block))
    if rows is not None and written != rows:
      raise ValueError(f'{written} rows read for an array of {value.shape}')
    return
  array = _c_order(value)
  np.lib.format.write_array_header_2_0(out, _header(array.dtype, array.shape))
  out.write(_bytes(array))


def write(
    path: str,
    arrays: Mapping[str, np.ndarray | Blocks],
    block_bytes: int = BLOCK_BYTES,
) -> str:
  """Writes `arrays` as the .npz `path`; returns the file's sha256.

  Values are arrays or `Blocks`; a `Blocks` is read one block at a time.
  The digest is of the bytes as they were written (each byte is hashed
  once, on its way to the file); `sha256(path)` reads them back.
  """
  with _opened(path, 'wb') as raw:
    stream = _Appending(raw)
    with zipfile.ZipFile(
        stream, 'w', zipfile.ZIP_STORED, allowZip64=True
    ) as archive:
      for name, value in arrays.items():
        with archive.open(f'{name}.npy', 'w', force_zip64=True) as member:
          _write_member(member, value, block_bytes)
  return stream.digest.hexdigest()


def _opened(path: str, mode: str):
  """A local file unbuffered (no copy of each block), else a GFile."""
  if files.is_local(path):
    return open(path, mode, buffering=0)  # noqa: SIM115 (returned)
  return tf.io.gfile.GFile(path, mode)


def sha256(path: str, block_bytes: int = BLOCK_BYTES) -> str:
  """The sha256 of the file `path`, read back one block at a time.

  Raises:
    OSError, tf.errors.OpError: `path` cannot be read (the caller names
      the file).
  """
  digest = hashlib.sha256()
  with _opened(path, 'rb') as f:
    if isinstance(f, io.RawIOBase):  # read into one buffer, reused
      buffer = memoryview(bytearray(min(block_bytes, _HASH_BYTES)))
      while count := f.readinto(buffer):
        digest.update(buffer[:count])
    else:
      while block := f.read(block_bytes):
        digest.update(block)
  return digest.hexdigest()
