"""Reads rows of checkpoint tensors straight from the data files.

TF's RestoreV2 reads the whole stored tensor (or stored slice) that overlaps
a requested slice, then copies the region out: reading a 2 GB table 64 MB at
a time would hold 2 GB and read it 32 times. Numeric tensors are stored as
raw little-endian row-major bytes at the offset the index gives, so a block
of rows is one ranged read of exactly its bytes.

Nothing read is trusted: as TF's own reader does, every stored tensor's bytes
are checked against the CRC-32C the index keeps for it. A tensor read whole is
checked at once; one read block by block in order is checked as its last
block arrives; any other is re-read and checked by `finish()`.

What TF's layout does not allow reading by ranges (string tensors, a
big-endian bundle) goes through TF's `RestoreV2`, which checks the CRC-32C
itself. One `RangeReader` serves a whole conversion: the source's (see
`source.Source.reader`) and the verification of the written target.
"""

import dataclasses

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors
from estimator_migrate.checkpoints.bundle import format as bundle_format
from estimator_migrate.checkpoints.bundle import index as index_lib

_CHECK_BYTES = 16 << 20  # block size of finish()'s re-reads


@dataclasses.dataclass
class _Check:
  """How far a stored piece has been read in order, and its CRC so far."""

  piece: index_lib.Stored
  name: str
  position: int = 0
  crc: int = 0
  in_order: bool = True


def spec(shape: tuple[int, ...], start: int, stop: int) -> str:
  """TF's shape-and-slice spec of rows [start, stop): '' when whole."""
  if not shape or (start == 0 and stop == shape[0]):
    return ''
  dims = ' '.join(str(d) for d in shape)
  rest = ':'.join('-' for _ in shape[1:])
  return f'{dims} {start},{stop - start}' + (f':{rest}' if rest else '')


class RangeReader:
  """Reads row blocks of the tensors of one checkpoint."""

  def __init__(self, prefix: str, index: index_lib.Index | None = None):
    """Reads `prefix`'s data files; `index` is its parsed index if at hand."""
    self._prefix = prefix
    self._index = index if index is not None else index_lib.read_index(prefix)
    header = self._index.header
    self._shards = max(header.num_shards, 1)
    self._little = (
        header.endianness == tensor_bundle_pb2.BundleHeaderProto.LITTLE
    )
    self._files = {}
    self._checks: dict[tuple[int, int], _Check] = {}

  def _file(self, shard: int):
    """(handle, path, local?) of a data file, opened once."""
    if shard not in self._files:
      path = bundle_format.data_file(self._prefix, shard, self._shards)
      local = '://' not in path
      try:
        # Local files: plain readinto() into the output buffer, at page-cache
        # speed; tf.io.gfile (every other filesystem) reads ~5x slower here.
        handle = (
            open(path, 'rb', buffering=0)
            if local
            else tf.io.gfile.GFile(path, 'rb')
        )
      except (OSError, tf.errors.OpError) as e:
        raise errors.CheckpointError(
            f'cannot open {path}: {e}. The checkpoint is incomplete.'
        ) from e
      self._files[shard] = (handle, path, local)
    return self._files[shard]

  @property
  def index(self) -> index_lib.Index:
    return self._index

  def can_read(self, name: str, dtype: tf.DType) -> bool:
    return self._little and dtype != tf.string and name in self._index.entries

  def read(
      self,
      name: str,
      dtype: tf.DType,
      shape: tuple[int, ...],
      start: int,
      stop: int,
  ) -> np.ndarray:
    """Rows [start, stop) of `name`: ranged where it can, else `RestoreV2`.

    Raises:
      CheckpointError: Missing, truncated or corrupt data.
    """
    if self.can_read(name, dtype):
      return self.read_rows(name, dtype, shape, start, stop)
    return self.restore([name], [dtype], [spec(shape, start, stop)])[0]

  def restore(
      self,
      names: list[str],
      dtypes: list[tf.DType],
      specs: list[str],
  ) -> list[np.ndarray]:
    """Tensors (or slices: `spec`) read by TF's RestoreV2 (CRC-32C checked).

    Raises:
      CheckpointError: TF could not read them (missing, truncated, corrupt).
    """
    try:
      values = tf.raw_ops.RestoreV2(
          prefix=self._prefix,
          tensor_names=names,
          shape_and_slices=specs,
          dtypes=dtypes,
      )
    except tf.errors.OpError as e:
      shown = names[0] if len(names) == 1 else f'{len(names)} tensors'
      raise errors.CheckpointError(
          f'cannot read {shown!r} from {self._prefix}.data-*:'
          f' {e.message.splitlines()[0]}. The checkpoint data is corrupt or'
          ' truncated.'
      ) from e
    return [v.numpy() for v in values]

  def read_rows(
      self,
      name: str,
      dtype: tf.DType,
      shape: tuple[int, ...],
      start: int,
      stop: int,
  ) -> np.ndarray:
    """Rows [start, stop) of `name` (the whole value of a scalar).

    Raises:
      CheckpointError: The data file is missing or shorter than the index
        says (truncated).
    """
    np_dtype = np.dtype(dtype.as_numpy_dtype).newbyteorder('<')
    if not shape:
      ((piece),) = self._index.stored(name, shape)
      return (
          self._read(piece, 0, np_dtype.itemsize, name)
          .view(np_dtype)
          .reshape(())
      )
    row_items = int(np.prod(shape[1:], dtype=np.int64))
    row_bytes = row_items * np_dtype.itemsize
    block_shape = (stop - start,) + tuple(shape[1:])
    pieces = [
        p
        for p in self._index.stored(name, shape)
        if p.start < stop and p.stop > start
    ]
    if sum(min(stop, p.stop) - max(start, p.start) for p in pieces) != (
        stop - start
    ):
      raise errors.CheckpointError(
          f'{self._prefix}: the stored slices of {name!r} do not cover rows'
          f' {start}..{stop}; the checkpoint is incomplete.'
      )
    if len(pieces) == 1:  # one ranged read, viewed in place: no copy
      piece = pieces[0]
      data = self._read(
          piece,
          (start - piece.start) * row_bytes,
          (stop - start) * row_bytes,
          name,
      )
      return data.view(np_dtype).reshape(block_shape)
    out = np.empty(block_shape, np_dtype)
    flat = out.reshape(-1).view(np.uint8)
    for piece in pieces:
      lo, hi = max(start, piece.start), min(stop, piece.stop)
      offset = (lo - piece.start) * row_bytes
      chunk = self._read(piece, offset, (hi - lo) * row_bytes, name)
      flat[(lo - start) * row_bytes : (hi - start) * row_bytes] = chunk
    return out

  def _read(
      self, piece: index_lib.Stored, at: int, size: int, name: str
  ) -> np.ndarray:
    """`size` bytes at `at` within a stored piece, checked as they arrive."""
    data = self._read_bytes(piece.shard, piece.offset + at, size, name)
    key = (piece.shard, piece.offset)
    check = self._checks.get(key)
    if at == 0 or check is None:
      check = self._checks[key] = _Check(piece, name, in_order=at == 0)
    if not check.in_order:
      return data
    if check.position != at:
      check.in_order = False  # finish() re-reads and checks it
      return data
    check.crc = bundle_format.crc32c(data, check.crc)
    check.position += size
    if check.position == piece.size:
      self._compare(piece, check.crc, name)
      del self._checks[key]
    return data

  def _compare(self, piece: index_lib.Stored, value: int, name: str) -> None:
    if bundle_format.mask(value) != piece.crc32c:
      path = self._file(piece.shard)[1]
      raise errors.CheckpointError(
          f'{path}: the bytes of {name!r} do not match their CRC-32C in'
          f' {self._prefix}.index: the checkpoint data is corrupt.'
      )

  def _check_piece(self, piece: index_lib.Stored, name: str) -> None:
    """Streams one stored piece through CRC-32C and compares with the index."""
    value = 0
    for at in range(0, piece.size, _CHECK_BYTES):
      size = min(_CHECK_BYTES, piece.size - at)
      chunk = self._read_bytes(piece.shard, piece.offset + at, size, name)
      value = bundle_format.crc32c(chunk, value)
    self._compare(piece, value, name)

  def check(self, name: str, shape: tuple[int, ...]) -> None:
    """Checks every stored piece of `name` against its CRC-32C, streamed.

    Raises:
      CheckpointError: Missing, truncated or corrupt data.
    """
    for piece in self._index.stored(name, shape):
      self._check_piece(piece, name)

  def finish(self) -> None:
    """Checks every stored piece that was read only in part or out of order.

    Raises:
      CheckpointError: A piece's bytes do not match the index's checksum.
    """
    for key, check in list(self._checks.items()):
      self._check_piece(check.piece, check.name)
      del self._checks[key]

  def _read_bytes(
      self, shard: int, offset: int, size: int, name: str
  ) -> np.ndarray:
    handle, path, local = self._file(shard)
    try:
      handle.seek(offset)
      if local:
        out = np.empty(size, np.uint8)
        view, done = memoryview(out), 0
        while done < size:
          count = handle.readinto(view[done:])
          if not count:
            break
          done += count
      else:
        out = np.frombuffer(handle.read(size), np.uint8)
        done = out.size
    except (OSError, tf.errors.OpError) as e:
      raise errors.CheckpointError(
          f'cannot read {path}: {e}. Check that it is readable.'
      ) from e
    if done != size:
      raise errors.CheckpointError(
          f'{path} ends before {name!r} does ({done} of {size} bytes at'
          f' offset {offset}): the checkpoint data is corrupt or truncated.'
      )
    return out

  def close(self) -> None:
    for handle, _, _ in self._files.values():
      handle.close()
    self._files.clear()
