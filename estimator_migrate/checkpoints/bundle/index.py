"""Reads a checkpoint's `.index`: each tensor's BundleEntryProto.

TF's reader API gives shapes and dtypes but not which slices a key holds. A
partitioned v1 variable's slots are stored one key per partition (DNN's
`<var>/t_0/Adagrad`, `<var>/t_1/Adagrad`), each full-shaped but holding only
its own slice; reassembling them needs the slice extents in the index. The
index is a LevelDB-format table (tsl/lib/io/table): data blocks of
prefix-compressed key/value entries, an index block, and a 48-byte footer.
"""

import dataclasses
import struct

from google.protobuf import message
import tensorflow as tf
from tensorflow.core.framework import tensor_slice_pb2
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors
from estimator_migrate.checkpoints.bundle import format as bundle_format

# The table format's facts live in bundle_format, shared with index_writer.
_MAGIC = bundle_format.MAGIC
_FOOTER = bundle_format.FOOTER
_varint = bundle_format.read_varint


def _block_entries(data: bytes, offset: int, size: int):
  block = data[offset : offset + size]
  if data[offset + size] != bundle_format.NO_COMPRESSION:
    raise ValueError('compressed index blocks are not supported')
  # As TF's table reader does: the trailer's masked CRC-32C covers the block
  # and its type byte.
  (stored,) = struct.unpack_from('<I', data, offset + size + 1)
  if (
      bundle_format.mask(bundle_format.crc32c(data[offset : offset + size + 1]))
      != stored
  ):
    raise ValueError(f'block at offset {offset} does not match its checksum')
  (restarts,) = struct.unpack_from('<I', block, len(block) - 4)
  end = len(block) - 4 - 4 * restarts
  pos, key = 0, b''
  while pos < end:
    shared, pos = _varint(block, pos)
    unshared, pos = _varint(block, pos)
    value_length, pos = _varint(block, pos)
    key = key[:shared] + block[pos : pos + unshared]
    pos += unshared
    yield key, block[pos : pos + value_length]
    pos += value_length


@dataclasses.dataclass(frozen=True)
class Stored:
  """Where one stored tensor or slice lies: rows [start, stop), file bytes.

  `crc32c` is the masked CRC-32C of those `size` bytes, as the index keeps it.
  """

  start: int
  stop: int
  shard: int
  offset: int
  size: int
  crc32c: int


@dataclasses.dataclass(frozen=True)
class Index:
  """A checkpoint index: header, tensor entries, and stored pieces by name."""

  header: tensor_bundle_pb2.BundleHeaderProto
  entries: dict[str, tensor_bundle_pb2.BundleEntryProto]
  slice_entries: dict[str, list[tensor_bundle_pb2.BundleEntryProto]]

  def slices(
      self, name: str
  ) -> list[
      tuple[
          tensor_slice_pb2.TensorSliceProto, tensor_bundle_pb2.BundleEntryProto
      ]
  ]:
    """A partitioned tensor's slices, each with its stored entry, in key order.

    Raises:
      CheckpointError: The index lists a different number of stored slices.
    """

    # Slice keys sort as their ordered-code encoding: by each dimension's
    # (start, length), a full extent's length encoded as -1.
    def order(tensor_slice):
      return tuple(
          v
          for e in tensor_slice.extent
          for v in (e.start, e.length if e.HasField('length') else -1)
      )

    slices = sorted(self.entries[name].slices, key=order)
    stored_entries = self.slice_entries.get(name, [])
    if len(stored_entries) != len(slices):
      raise errors.CheckpointError(
          f'{name}: the index lists {len(slices)} slices but stores'
          f' {len(stored_entries)}; the index is corrupt.'
      )
    return list(zip(slices, stored_entries, strict=True))

  def stored(self, name: str, shape: tuple[int, ...]) -> list[Stored]:
    """The pieces holding `name`, sorted by first row.

    Raises:
      CheckpointError: A slice cuts a dimension other than the first.
    """
    entry = self.entries[name]
    if not entry.slices:
      rows = shape[0] if shape else 0
      return [
          Stored(
              0, rows, entry.shard_id, entry.offset, entry.size, entry.crc32c
          )
      ]
    out = []
    for tensor_slice, stored in self.slices(name):
      start, stop = slice_rows(tensor_slice, shape)
      dims = [d.size for d in stored.shape.dim]
      if dims and dims[0] != stop - start:
        raise errors.CheckpointError(
            f'{name}: stored slice of {dims[0]} rows where the index expects'
            f' {stop - start}; the index is corrupt.'
        )
      out.append(
          Stored(
              start,
              stop,
              stored.shard_id,
              stored.offset,
              stored.size,
              stored.crc32c,
          )
      )
    return sorted(out, key=lambda piece: piece.start)


def _slice_key_name(key: bytes) -> str:
  """The tensor name in a slice key: 0x00, the escaped name, 0x00 0x01."""
  name, pos = bytearray(), 1
  while pos < len(key) - 1:
    byte, following = key[pos], key[pos + 1]
    if byte == 0x00 and following == 0x01:
      return name.decode('utf-8')
    if byte == 0x00 and following == 0xFF:
      name.append(0x00)
      pos += 2
    elif byte == 0xFF and following == 0x00:
      name.append(0xFF)
      pos += 2
    else:
      name.append(byte)
      pos += 1
  raise ValueError('unterminated slice key')


def read_index(prefix: str) -> Index:
  """Parses `<prefix>.index`.

  Raises:
    CheckpointError: The file is not a readable bundle index.
  """
  path = prefix + '.index'
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()
    (magic,) = struct.unpack_from('<Q', data, len(data) - 8)
    if magic != _MAGIC:
      raise ValueError('bad magic number')
    pos = len(data) - _FOOTER
    _, pos = _varint(data, pos)  # metaindex offset
    _, pos = _varint(data, pos)  # metaindex size
    index_offset, pos = _varint(data, pos)
    index_size, pos = _varint(data, pos)
    header = tensor_bundle_pb2.BundleHeaderProto()
    entries, slice_entries = {}, {}
    for _, handle in _block_entries(data, index_offset, index_size):
      block_offset, at = _varint(handle, 0)
      block_size, _ = _varint(handle, at)
      for key, value in _block_entries(data, block_offset, block_size):
        if not key:
          header.ParseFromString(value)
          continue
        entry = tensor_bundle_pb2.BundleEntryProto()
        entry.ParseFromString(value)
        if key[0] == 0:  # a slice: in table order within its tensor
          slice_entries.setdefault(_slice_key_name(key), []).append(entry)
        else:
          entries[key.decode('utf-8')] = entry
    return Index(header, entries, slice_entries)
  except (
      ValueError,
      IndexError,
      struct.error,
      UnicodeDecodeError,
      message.DecodeError,
  ) as e:
    raise errors.CheckpointError(
        f'cannot parse {path}: {e}. The index is corrupt or truncated.'
    ) from e


def read_entries(prefix: str) -> dict[str, tensor_bundle_pb2.BundleEntryProto]:
  """Every tensor name's entry (slices included) in `<prefix>.index`."""
  return read_index(prefix).entries


def slice_rows(tensor_slice, shape: tuple[int, ...]) -> tuple[int, int]:
  """The [start, stop) rows of one `TensorSliceProto` of a tensor of `shape`.

  Raises:
    CheckpointError: The slice cuts a dimension other than the first.
  """
  extents = list(tensor_slice.extent)
  for dim, extent in enumerate(extents[1:], start=1):
    if extent.HasField('length') and extent.length != shape[dim]:
      raise errors.CheckpointError(
          f'a slice cuts dimension {dim}; only first-dimension partitions'
          ' (what canned-estimator partitioners make) are supported.'
      )
  first = extents[0] if extents else None
  if first is None or not first.HasField('length'):
    return (0, shape[0] if shape else 0)
  return (first.start, first.start + first.length)


def row_ranges(
    entry: tensor_bundle_pb2.BundleEntryProto, shape: tuple[int, ...]
) -> list[tuple[int, int]]:
  """The [start, stop) rows that a sliced entry holds (whole if unsliced).

  Raises:
    CheckpointError: A slice that cuts a dimension other than the first.
  """
  if not entry.slices:
    return [(0, shape[0] if shape else 0)]
  return sorted(slice_rows(s, shape) for s in entry.slices)
