"""Row blocks of target tensors, and the digests that prove them written.

A target is written (`writer`) and read back (`verify`) in the same blocks of
at most `chunk_bytes`: `split` cuts them, `read` makes a block's values from
the source, and `Digests` records what the writer wrote so that verification
compares a block read back with it, block against block.
"""

from collections.abc import Iterator
import dataclasses
import zlib

import numpy as np

from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints.bundle import ranges


@dataclasses.dataclass(frozen=True)
class Block:
  """Rows [start, stop) of a target (all of a scalar), and where they are."""

  target: mapping.Target
  start: int
  stop: int
  source: str | None = None

  @property
  def whole(self) -> bool:
    return not self.target.shape or (
        self.start == 0 and self.stop == self.target.shape[0]
    )

  def spec(self) -> str:
    """TF's shape-and-slice spec: `dims start,length:-:...` ('' = whole)."""
    return ranges.spec(self.target.shape, self.start, self.stop)

  @property
  def nbytes(self) -> int:
    if not self.target.shape:
      return self.target.dtype.size
    row = self.target.nbytes // max(self.target.shape[0], 1)
    return row * (self.stop - self.start)


def split(target: mapping.Target, chunk_bytes: int) -> Iterator[Block]:
  """Splits a target's pieces by rows into blocks of <= chunk_bytes."""
  if not target.pieces:
    yield Block(target, 0, target.shape[0] if target.shape else 0)
    return
  rows = target.shape[0] if target.shape else 0
  row_bytes = max(target.nbytes // rows, 1) if rows else target.nbytes
  step = max(1, chunk_bytes // max(row_bytes, 1))
  for piece in target.pieces:
    if not target.shape or rows == 0:
      yield Block(target, 0, 0, piece.source)
      continue
    for start in range(piece.start, piece.stop, step):
      yield Block(target, start, min(piece.stop, start + step), piece.source)


def read(reader: ranges.RangeReader, block: Block) -> np.ndarray:
  """The target values of one block, from the source or the constant."""
  target = block.target
  if block.source is None:
    return np.asarray(target.value, dtype=target.dtype.as_numpy_dtype)
  return target.transform(
      reader.read(
          block.source, target.dtype, target.shape, block.start, block.stop
      )
  )


def digest(values: np.ndarray) -> str:
  """CRC-32 and length of the block's bytes, read in place (no copy)."""
  array = np.ascontiguousarray(values)
  return f'{zlib.crc32(memoryview(array).cast("B")):08x}-{array.nbytes}'


class Digests:
  """The digest of every block a writer wrote, by block."""

  def __init__(self):
    self._by_block: dict[tuple[str, str], str] = {}

  @staticmethod
  def _key(block: Block) -> tuple[str, str]:
    return (block.target.name, block.spec())

  def record(self, block: Block, values: np.ndarray) -> None:
    """Keeps the digest of `values`, written as `block`."""
    self._by_block[self._key(block)] = digest(values)

  def __contains__(self, block: Block) -> bool:
    """Whether a writer wrote `block` (else it was brought over unchanged)."""
    return self._key(block) in self._by_block

  def matches(self, block: Block, values: np.ndarray) -> bool:
    """Whether `values` read back are what was written (True if unknown)."""
    expected = self._by_block.get(self._key(block))
    return expected is None or digest(values) == expected
