"""Writes targets tensor by tensor, large tensors slice by slice.

The streaming writer: it only writes. Values come from the caller's reader
(the source's `ranges.RangeReader`, which checks every byte against the
source's CRC-32C) and are transformed and written (`SaveV2` with a slice
spec) a block of rows at a time, each block of a tensor larger than
`chunk_bytes` into a shard of its own; smaller tensors are grouped into
shards of up to `chunk_bytes`, so peak memory is about one chunk. The shards
are merged by `MergeV2Checkpoints`, which renames data files rather than
copying them. `write` fills a staged prefix (see `staging`), never the
target itself. The streaming conversion writes every target this way; the
zero-copy one (`zero_copy`) only the targets whose bytes change.
"""

from collections.abc import Callable
import os

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import blocks as blocks_lib
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints.bundle import ranges

DEFAULT_CHUNK_BYTES = 64 << 20
Progress = Callable[[int, int], None]


def _save(
    prefix: str, batch: list[tuple[blocks_lib.Block, np.ndarray]]
) -> None:
  tf.raw_ops.SaveV2(
      prefix=prefix,
      tensor_names=[b.target.name for b, _ in batch],
      shape_and_slices=[b.spec() for b, _ in batch],
      tensors=[v for _, v in batch],
  )


def write(
    reader: ranges.RangeReader,
    targets: tuple[mapping.Target, ...],
    staged_prefix: str,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Progress | None = None,
) -> blocks_lib.Digests:
  """Writes `targets`, read through `reader`, to `staged_prefix`.

  Returns each block's digest, for `verify`. Shards go to `staged_prefix`'s
  directory, which the caller owns and removes (`staging.staged`).

  Raises:
    CheckpointError: Reading the source failed (missing, truncated, or a
      checksum mismatch), or writing failed (no space, no permission).
  """
  staging_dir = os.path.dirname(staged_prefix) or '.'
  total = sum(t.nbytes for t in targets)
  done = 0
  digests = blocks_lib.Digests()
  shards: list[str] = []
  try:
    batch: list[tuple[blocks_lib.Block, np.ndarray]] = []
    batch_bytes = 0

    def flush():
      nonlocal batch, batch_bytes
      if batch:
        shard = os.path.join(staging_dir, f'shard-{len(shards):05d}')
        _save(shard, batch)
        shards.append(shard)
        batch, batch_bytes = [], 0

    for target in targets:
      for block in blocks_lib.split(target, chunk_bytes):
        values = blocks_lib.read(reader, block)
        digests.record(block, values)
        if block.whole and batch_bytes + block.nbytes <= chunk_bytes:
          batch.append((block, values))
          batch_bytes += block.nbytes
        else:
          flush()
          batch, batch_bytes = [(block, values)], block.nbytes
          flush()  # a slice or a large tensor: a shard of its own
        del values
        done += block.nbytes
        if progress:
          progress(done, total)
    flush()
    reader.finish()
    tf.raw_ops.MergeV2Checkpoints(
        checkpoint_prefixes=shards,
        destination_prefix=staged_prefix,
        delete_old_dirs=False,
    )
  except (OSError, tf.errors.OpError) as e:
    raise errors.CheckpointError(
        f'cannot write the checkpoint in {staging_dir}: {files.error_line(e)}.'
        ' Check free space and permissions there; nothing of the target was'
        ' written.'
    ) from e
  return digests
