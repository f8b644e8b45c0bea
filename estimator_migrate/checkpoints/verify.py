"""Verifies a written checkpoint before it replaces the target.

One step for both conversion paths. Every target tensor is read back from
the staged checkpoint through its new index, and TF's own check runs on
every stored byte:

- small tensors (at most `chunk_bytes`) are restored by TF's `RestoreV2`,
  several per call, which checks each one's size and CRC-32C as
  `tf.train.load_checkpoint` does;
- larger ones are read by byte ranges (`ranges.RangeReader`), every stored
  piece checked against the CRC-32C in the new index as it streams by, so
  no large tensor is held whole.

Where the writer recorded a digest for a block (everything the streaming
writer wrote), the block read back must match it too: that catches a wrong
value, not only damaged bytes. Tensors the zero-copy path brought over
unchanged have no digest; their CRC-32C in the new index is the source's,
so the check proves they are the source's bytes.
"""

import numpy as np

from estimator_migrate import errors
from estimator_migrate.checkpoints import blocks as blocks_lib
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints.bundle import ranges


def _fail(name: str, spec: str) -> errors.CheckpointError:
  return errors.CheckpointError(
      f'verification failed: {name} {spec or "(whole)"} differs from what'
      ' was written; the target was not changed. Check the filesystem and'
      ' convert again.'
  )


def _compare(
    block: blocks_lib.Block,
    values: np.ndarray,
    digests: blocks_lib.Digests,
) -> None:
  if not digests.matches(block, values):
    raise _fail(block.target.name, block.spec())


def _rows(value: np.ndarray, block: blocks_lib.Block) -> np.ndarray:
  return value[block.start : block.stop] if block.target.shape else value


def verify(
    reader: ranges.RangeReader,
    targets: tuple[mapping.Target, ...],
    digests: blocks_lib.Digests,
    chunk_bytes: int,
) -> int:
  """Reads every target back through `reader` (the staged checkpoint).

  Args:
    reader: A reader of the staged checkpoint, with its new index.
    targets: What it should hold.
    digests: The digests of the blocks a writer wrote.
    chunk_bytes: Tensors up to this size are restored by TF whole; larger
      ones are read by ranges, a block at a time.

  Returns:
    The number of tensors restored by TF's RestoreV2 (the rest were read
    by ranges).

  Raises:
    CheckpointError: A block differs from what was written, or stored bytes
      do not match their checksum.
  """
  small = [t for t in targets if t.nbytes <= chunk_bytes]
  large = [t for t in targets if t.nbytes > chunk_bytes]
  batch: list[mapping.Target] = []
  batch_bytes = 0

  def restore_batch() -> None:
    nonlocal batch, batch_bytes
    if not batch:
      return
    values = reader.restore(
        [t.name for t in batch], [t.dtype for t in batch], [''] * len(batch)
    )
    for target, value in zip(batch, values, strict=True):
      if value.shape != target.shape:
        raise _fail(target.name, '')
      for block in blocks_lib.split(target, chunk_bytes):
        _compare(block, _rows(value, block), digests)
    batch, batch_bytes = [], 0

  for target in small:
    if batch_bytes + target.nbytes > chunk_bytes:
      restore_batch()
    batch.append(target)
    batch_bytes += target.nbytes
  restore_batch()
  for target in large:
    for block in blocks_lib.split(target, chunk_bytes):
      if block not in digests and reader.can_read(target.name, target.dtype):
        reader.check(target.name, target.shape)
        break  # brought over unchanged: its CRC-32C is the whole check
      values = reader.read(
          target.name, target.dtype, target.shape, block.start, block.stop
      )
      _compare(block, values, digests)
  reader.finish()
  return len(small)
