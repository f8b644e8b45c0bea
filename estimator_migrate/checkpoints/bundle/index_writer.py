"""Writes a checkpoint's `.index`: the table TF's BundleReader opens.

The output is the file TF itself writes for the same entries, byte for byte
(tests/checkpoint_index_writer_test.py compares with indexes written by
`SaveV2` and `MergeV2Checkpoints`): TF's `TableBuilder` with the bundle
writer's options (262144-byte blocks, a restart every 16 keys, no
compression), each block followed by its type byte and masked CRC32C, an
empty metaindex block, an index block of shortened separator keys, and the
48-byte footer. Keys are written in bytewise order: the `BundleHeaderProto`
under the empty key, then each partitioned tensor's slice keys (they start
with a 0x00 byte), then tensor names.

Only the index is written here: the entries point into data files
(`<prefix>.data-<shard>-of-<N>`) that the caller puts in place. This is how a
checkpoint's tensors are renamed without touching their bytes, as TF's own
`MergeV2Checkpoints` renames data files and rewrites only the index.

Example:
  parsed = index.read_index('/ckpt/v1/model.ckpt-100')
  renamed = index.Index(
      parsed.header,
      {'v2/' + n: e for n, e in parsed.entries.items()},
      {'v2/' + n: s for n, s in parsed.slice_entries.items()},
  )
  # With /ckpt/v2/model.ckpt-100.data-* in place (the same shards):
  index_writer.write_index('/ckpt/v2/model.ckpt-100', renamed)
"""

from collections.abc import Iterable, Sequence
import dataclasses
import posixpath
import struct
import uuid

import tensorflow as tf
from tensorflow.core.framework import tensor_slice_pb2
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors
from estimator_migrate.checkpoints.bundle import format as bundle_format
from estimator_migrate.checkpoints.bundle import index as index_lib

HEADER_KEY = b''  # kHeaderEntryKey: the header sorts before every tensor


@dataclasses.dataclass(frozen=True)
class WrittenIndex:
  """What `write_index` wrote.

  Attributes:
    path: The `.index` file.
    tensors: Tensor names (each partitioned tensor counts once).
    slices: Stored slices of partitioned tensors (keys of their own).
    blocks: Data blocks of the table.
    size: Bytes of the file.
  """

  path: str
  tensors: int
  slices: int
  blocks: int
  size: int


class _Block:
  """BlockBuilder: prefix-compressed entries, restart offsets at the end."""

  def __init__(self, restart_interval: int):
    self._interval = restart_interval
    self.reset()

  def reset(self) -> None:
    self._buffer = bytearray()
    self._restarts = [0]
    self._counter = 0
    self._last_key = b''

  @property
  def empty(self) -> bool:
    return not self._buffer

  def size_estimate(self) -> int:
    return len(self._buffer) + 4 * len(self._restarts) + 4

  def add(self, key: bytes, value: bytes) -> None:
    shared = 0
    if self._counter < self._interval:
      limit = min(len(key), len(self._last_key))
      while shared < limit and key[shared] == self._last_key[shared]:
        shared += 1
    else:
      self._restarts.append(len(self._buffer))
      self._counter = 0
    put = bundle_format.put_varint
    self._buffer += put(shared) + put(len(key) - shared) + put(len(value))
    self._buffer += key[shared:] + value
    self._last_key = key
    self._counter += 1

  def finish(self) -> bytes:
    restarts = struct.pack(f'<{len(self._restarts)}I', *self._restarts)
    return (
        bytes(self._buffer) + restarts + struct.pack('<I', len(self._restarts))
    )


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
  """A short key >= `start` and < `limit` (TableBuilder's index keys)."""
  common = 0
  while common < min(len(start), len(limit)) and start[common] == limit[common]:
    common += 1
  if common < min(len(start), len(limit)):
    byte = start[common]
    if byte < 0xFF and byte + 1 < limit[common]:
      return start[:common] + bytes([byte + 1])
  return start


def _short_successor(key: bytes) -> bytes:
  """A short key >= `key`: its first byte that is not 0xff, incremented."""
  for i, byte in enumerate(key):
    if byte != 0xFF:
      return key[:i] + bytes([byte + 1])
  return key


def encode_table(
    items: Iterable[tuple[bytes, bytes]],
    *,
    block_size: int = bundle_format.BLOCK_SIZE,
    restart_interval: int = bundle_format.RESTART_INTERVAL,
) -> tuple[bytes, int]:
  """A LevelDB-format table holding `items`, as TF's TableBuilder writes it.

  Args:
    items: (key, value) pairs in strictly increasing bytewise key order.
    block_size: Data bytes after which a block is closed (TF: 262144).
    restart_interval: Keys between full (not prefix-shared) keys (TF: 16).

  Returns:
    The file's bytes and its number of data blocks.

  Raises:
    ValueError: A key is not greater than the key before it.
  """
  out = bytearray()
  data = _Block(restart_interval)
  index = _Block(bundle_format.INDEX_RESTART_INTERVAL)
  pending: bytes | None = None  # handle of the last block, awaiting a key
  last_key: bytes | None = None
  blocks = 0

  def write_block(block: _Block) -> bytes:
    contents = block.finish()
    block.reset()
    trailer = bytes([bundle_format.NO_COMPRESSION])
    crc = bundle_format.crc32c(trailer, bundle_format.crc32c(contents))
    handle = bundle_format.put_varint(len(out)) + bundle_format.put_varint(
        len(contents)
    )
    out.extend(contents + trailer + struct.pack('<I', bundle_format.mask(crc)))
    return handle

  def flush() -> None:
    nonlocal pending, blocks
    if not data.empty:
      pending = write_block(data)
      blocks += 1

  for key, value in items:
    if last_key is not None:
      if key <= last_key:
        raise ValueError(
            f'table keys must increase bytewise: {key!r} after {last_key!r}'
        )
      # An entry of twice the block size or more gets a block of its own.
      if len(key) + len(value) >= 2 * block_size:
        flush()
    if pending is not None:
      index.add(_shortest_separator(last_key, key), pending)
      pending = None
    last_key = key
    data.add(key, value)
    if data.size_estimate() >= block_size:
      flush()
  flush()
  metaindex = write_block(_Block(restart_interval))  # empty: no filters
  if pending is not None:
    index.add(_short_successor(last_key), pending)
  index_handle = write_block(index)
  out += (metaindex + index_handle).ljust(bundle_format.HANDLES, b'\0')
  out += struct.pack('<Q', bundle_format.MAGIC)
  return bytes(out), blocks


def _ordered_signed(value: int) -> bytes:
  """OrderedCode::WriteSignedNumIncreasing: bytewise order = numeric order."""
  bits = (~value if value < 0 else value).bit_length()
  length = bits // 7 + 1  # kBitsToLength
  raw = bytearray((value & ((1 << 80) - 1)).to_bytes(10, 'big')[-length:])
  # kLengthToHeaderBits: `length` one-bits from the top of the first two
  # bytes (the sign bit and one per following byte), flipped into the value.
  header = ((1 << length) - 1) << (16 - length)
  raw[0] ^= header >> 8
  if length > 1:
    raw[1] ^= header & 0xFF
  return bytes(raw)


def _ordered_unsigned(value: int) -> bytes:
  """OrderedCode::WriteNumIncreasing: a length byte, then big-endian bytes."""
  payload = value.to_bytes((value.bit_length() + 7) // 8, 'big')
  return bytes([len(payload)]) + payload


_ESCAPES = {0x00: b'\x00\xff', 0xFF: b'\xff\x00'}


def slice_key(
    name: str, tensor_slice: tensor_slice_pb2.TensorSliceProto
) -> bytes:
  """The key of one stored slice (checkpoint::EncodeTensorNameSlice).

  In OrderedCode: 0; the name with 0x00 and 0xff escaped, then 00 01; the
  rank; each dimension's start and length (a full extent: 0 and -1).
  """
  key = bytearray(_ordered_unsigned(0))
  for byte in name.encode('utf-8'):
    key += _ESCAPES.get(byte, bytes([byte]))
  key += b'\x00\x01' + _ordered_unsigned(len(tensor_slice.extent))
  for extent in tensor_slice.extent:
    full = not extent.HasField('length')
    key += _ordered_signed(0 if full else extent.start)
    key += _ordered_signed(-1 if full else extent.length)
  return bytes(key)


def _stored_slices(
    name: str,
    entry: tensor_bundle_pb2.BundleEntryProto,
    stored: Sequence[tensor_bundle_pb2.BundleEntryProto],
) -> list[tuple[bytes, tensor_bundle_pb2.BundleEntryProto]]:
  """Pairs the slices of `entry` (in key order) with their stored entries."""
  keys = sorted(slice_key(name, s) for s in entry.slices)
  if len(keys) != len(stored) or len(set(keys)) != len(keys):
    raise errors.CheckpointError(
        f'index: {name!r} lists {len(entry.slices)} slices'
        f' ({len(set(keys))} distinct) but slice_entries holds {len(stored)}'
        ' for it; give one stored entry per distinct slice, in slice-key'
        ' order (as index.read_index returns them).'
    )
  full = [d.size for d in entry.shape.dim]
  by_key = {slice_key(name, s): s for s in entry.slices}
  for key, piece in zip(keys, stored, strict=True):
    extents = by_key[key].extent
    want = [
        e.length if e.HasField('length') else size
        for e, size in zip(extents, full, strict=False)
    ]
    got = [d.size for d in piece.shape.dim]
    if got != want or piece.dtype != entry.dtype:
      raise errors.CheckpointError(
          f'index: a stored slice of {name!r} has dtype'
          f' {tf.dtypes.as_dtype(piece.dtype).name} and shape {got} where'
          f' its slice needs {tf.dtypes.as_dtype(entry.dtype).name} {want};'
          ' slice_entries must follow slice-key order.'
      )
  return list(zip(keys, stored, strict=True))


def encode_index(index: index_lib.Index) -> tuple[bytes, int]:
  """The `.index` bytes for `index`, and its number of data blocks.

  Raises:
    CheckpointError: `index` cannot be written as given (an empty tensor
      name, slices without stored entries, an entry outside the header's
      shards); the message names the tensor.
  """
  shards = index.header.num_shards
  items = [(HEADER_KEY, index.header.SerializeToString())]
  stored: list[tuple[str, tensor_bundle_pb2.BundleEntryProto]] = []
  for name, entry in index.entries.items():
    if not name:
      raise errors.CheckpointError(
          "index: a tensor named '' collides with the header's key;"
          ' give every tensor a non-empty name.'
      )
    items.append((name.encode('utf-8'), entry.SerializeToString()))
    if entry.slices:
      pieces = _stored_slices(name, entry, index.slice_entries.get(name, []))
      items += [(key, piece.SerializeToString()) for key, piece in pieces]
      stored += [(name, piece) for _, piece in pieces]
    else:
      stored.append((name, entry))
  unsliced = set(index.slice_entries) - {
      n for n, e in index.entries.items() if e.slices
  }
  if unsliced:
    raise errors.CheckpointError(
        f'index: slice_entries has {sorted(unsliced)!r}, which entries does'
        ' not list as sliced; add their full entries with `slices`.'
    )
  for name, entry in stored:
    if not 0 <= entry.shard_id < max(shards, 1):
      raise errors.CheckpointError(
          f'index: {name!r} is in shard {entry.shard_id} but the header'
          f' says num_shards={shards}; set header.num_shards to the number'
          ' of data files.'
      )
  items.sort()
  return encode_table(items)


def write_index(
    prefix: str, index: index_lib.Index, *, overwrite: bool = False
) -> WrittenIndex:
  """Writes `<prefix>.index` for `index` (a temporary name, then renamed).

  Args:
    prefix: The checkpoint prefix; any filesystem tf.io.gfile knows.
    index: Header, entries and stored slices, as `index.read_index` returns
      them; `slice_entries[name]` in slice-key order.
    overwrite: Replace an existing `<prefix>.index` (default: refuse).

  Returns:
    What was written.

  Raises:
    CheckpointError: `index` cannot be written as given, or the file exists
      and `overwrite` is False; nothing is left behind.

  Example:
    write_index('/ckpt/new/model.ckpt-100', index.read_index(source))
  """
  path = prefix + '.index'
  if not overwrite and tf.io.gfile.exists(path):
    raise errors.CheckpointError(
        f'prefix: {path} exists; remove it or pass overwrite=True.',
        argument='overwrite',
    )
  data, blocks = encode_index(index)
  # A hidden name that does not start with `path`: the ram:// filesystem
  # reports `path` as existing while any file named path* does.
  directory, base = posixpath.split(path)
  tmp = posixpath.join(directory, f'.{base}.tmp-{uuid.uuid4().hex[:8]}')
  try:
    with tf.io.gfile.GFile(tmp, 'wb') as f:
      f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=overwrite)
  except tf.errors.OpError as e:
    raise errors.CheckpointError(
        f'prefix: cannot write {path}: {e.message}. Check that the'
        ' directory exists and is writable.'
    ) from e
  finally:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.remove(tmp)
  return WrittenIndex(
      path=path,
      tensors=len(index.entries),
      slices=sum(len(e.slices) for e in index.entries.values()),
      blocks=blocks,
      size=len(data),
  )
