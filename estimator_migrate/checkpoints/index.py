"""Reads a checkpoint's `.index`: each tensor's BundleEntryProto.

TF's reader API gives shapes and dtypes but not which slices a key holds. A
partitioned v1 variable's slots are stored one key per partition (DNN's
`<var>/t_0/Adagrad`, `<var>/t_1/Adagrad`), each full-shaped but holding only
its own slice; reassembling them needs the slice extents in the index. The
index is a LevelDB-format table (tsl/lib/io/table): data blocks of
prefix-compressed key/value entries, an index block, and a 48-byte footer.
"""

import struct

import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_TRAILER = 5  # compression type byte + crc32


def _varint(data: bytes, pos: int) -> tuple[int, int]:
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    if not byte & 0x80:
      return result, pos
    shift += 7


def _block_entries(data: bytes, offset: int, size: int):
  block = data[offset : offset + size]
  if data[offset + size] != 0:
    raise ValueError('compressed index blocks are not supported')
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


def read_entries(prefix: str) -> dict[str, tensor_bundle_pb2.BundleEntryProto]:
  """Every tensor name's entry (slices included) in `<prefix>.index`.

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
    entries = {}
    for _, handle in _block_entries(data, index_offset, index_size):
      block_offset, at = _varint(handle, 0)
      block_size, _ = _varint(handle, at)
      for key, value in _block_entries(data, block_offset, block_size):
        # "" is the header; slice entries' keys start with a 0 byte.
        if key and key[0] != 0:
          entry = tensor_bundle_pb2.BundleEntryProto()
          entry.ParseFromString(value)
          entries[key.decode('utf-8')] = entry
    return entries
  except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
    raise errors.CheckpointError(
        f'cannot parse {path}: {e}. The index is corrupt or truncated.'
    ) from e


def row_ranges(
    entry: tensor_bundle_pb2.BundleEntryProto, shape: tuple[int, ...]
) -> list[tuple[int, int]]:
  """The [start, stop) rows that a sliced entry holds (whole if unsliced).

  Raises:
    CheckpointError: A slice that cuts a dimension other than the first.
  """
  if not entry.slices:
    return [(0, shape[0] if shape else 0)]
  ranges = []
  for tensor_slice in entry.slices:
    extents = list(tensor_slice.extent)
    for dim, extent in enumerate(extents[1:], start=1):
      if extent.HasField('length') and extent.length != shape[dim]:
        raise errors.CheckpointError(
            f'a slice cuts dimension {dim}; only first-dimension partitions'
            ' (what canned-estimator partitioners make) are supported.'
        )
    first = extents[0] if extents else None
    if first is None or not first.HasField('length'):
      ranges.append((0, shape[0]))
    else:
      ranges.append((first.start, first.start + first.length))
  return sorted(ranges)
