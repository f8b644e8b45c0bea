"""The on-disk facts of TF's tensor bundle shared by its reader and writer.

A bundle at `<prefix>` is `<prefix>.index` and the data files
`<prefix>.data-<shard>-of-<N>` (`data_file`), each number five digits.
A bundle's `.index` is a LevelDB-format table (tsl/lib/io: table_builder.cc,
block_builder.cc, format.cc) written with TF's `table::Options` and no
compression (tensor_bundle.cc). Blocks end in a 5-byte trailer (type byte,
masked CRC32C of the block and type byte); the file ends in a 48-byte
footer: two varint block handles (metaindex, index) zero-padded to 40 bytes
and the 64-bit magic number. Tensor data and index blocks carry CRC32C
(Castagnoli) values masked as `crc32c::Mask` does (tsl/lib/hash/crc32c.h).
"""

import google_crc32c
import numpy as np

# table::Options (tsl/lib/io/table_options.h): the defaults TF's bundle writer
# keeps; only compression is turned off.
BLOCK_SIZE = 262144
RESTART_INTERVAL = 16
# The index block restarts at every key (TableBuilder::Rep).
INDEX_RESTART_INTERVAL = 1
NO_COMPRESSION = 0

MAGIC = 0xDB4775248B80FB57  # kTableMagicNumber, format.h
FOOTER = 48  # Footer::kEncodedLength: 2 * 20 (BlockHandle max) + 8 magic
HANDLES = 40  # the two handles' space in the footer, zero-padded

_MASK_DELTA = 0xA282EAD8  # crc32c.h kMaskDelta
_U32 = 0xFFFFFFFF


def data_file(prefix: str, shard: int, shards: int) -> str:
  """`<prefix>.data-<shard>-of-<shards>`: one data file of a bundle."""
  return f'{prefix}.data-{shard:05d}-of-{shards:05d}'


def data_files(prefix: str, num_shards: int) -> list[str]:
  """Every data file of a bundle whose header says `num_shards` (0 as 1)."""
  shards = max(num_shards, 1)
  return [data_file(prefix, shard, shards) for shard in range(shards)]


def crc32c(data: bytes | memoryview | np.ndarray, crc: int = 0) -> int:
  """The CRC32C of `data`, extending `crc` (the CRC of what came before).

  Read in place: the C extension takes bytes and numpy arrays (any dtype,
  as their raw bytes) but not memoryviews, which are viewed as arrays.
  """
  if isinstance(data, memoryview):
    data = np.frombuffer(data, np.uint8)
  elif isinstance(data, np.ndarray):
    data = np.ascontiguousarray(data)
  return google_crc32c.extend(crc, data)


def mask(crc: int) -> int:
  """TF's masked CRC: rotated right 15 bits plus a constant.

  The mask stops a CRC computed over data that itself holds CRCs from being
  trivially related to them (crc32c.h).
  """
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
  """The CRC that `mask` turned into `masked`."""
  rot = (masked - _MASK_DELTA) & _U32
  return ((rot >> 17) | (rot << 15)) & _U32


def put_varint(value: int) -> bytes:
  """`value` (unsigned) as a LevelDB varint: 7 bits a byte, low first."""
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
  """The varint at `data[pos]` and the position after it."""
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    if not byte & 0x80:
      return result, pos
    shift += 7
