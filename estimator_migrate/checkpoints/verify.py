"""Verifies a written checkpoint against what the writer meant to write.

Every block is re-read from the staged checkpoint and its digest compared
with the one computed from the source as it was written; the reader also
checks each stored tensor against the CRC-32C in the new index, so a data
file damaged after writing is caught as well as a wrong value.
"""

from collections.abc import Mapping

from estimator_migrate import errors
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints import ranges
from estimator_migrate.checkpoints import writer


def verify(
    prefix: str,
    targets: tuple[mapping.Target, ...],
    digests: Mapping[tuple[str, str], str],
    chunk_bytes: int,
) -> None:
  """Re-reads every block of `prefix` and compares its digest.

  Raises:
    CheckpointError: A block differs from what was written, or a stored
      tensor does not match its checksum.
  """
  reader = ranges.RangeReader(prefix)
  try:
    for t in targets:
      for block in writer.blocks(t, chunk_bytes):
        values = writer.read_values(reader, prefix, t.name, block)
        if writer.digest(values) != digests[(t.name, block.spec())]:
          raise errors.CheckpointError(
              f'verification failed: {t.name} {block.spec() or "(whole)"}'
              ' differs from what was written; the target was not changed.'
              ' Check the filesystem and convert again.'
          )
    reader.finish()
  finally:
    reader.close()
