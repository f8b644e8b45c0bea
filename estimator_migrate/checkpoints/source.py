"""Finds and opens a source checkpoint, read only, with errors naming files.

A `Source` owns the checkpoint's one parsed index and one reader over its
data files (`ranges.RangeReader`: byte ranges checked against the index's
CRC-32C, `RestoreV2` for what cannot be read by ranges); everything a
conversion reads goes through them. The data files are opened on first
read and closed by `close()`.
"""

from collections.abc import Iterator, Mapping
import contextlib
import dataclasses
import os
import types

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints.bundle import format as bundle_format
from estimator_migrate.checkpoints.bundle import index as index_lib
from estimator_migrate.checkpoints.bundle import ranges


@dataclasses.dataclass(frozen=True)
class Variable:
  """One tensor of a checkpoint: name, shape and dtype."""

  name: str
  shape: tuple[int, ...]
  dtype: tf.DType

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.size


@dataclasses.dataclass(frozen=True)
class Source:
  """A checkpoint prefix, its variables, its parsed index and its reader."""

  prefix: str
  variables: Mapping[str, Variable]
  index: index_lib.Index
  reader: ranges.RangeReader

  def close(self) -> None:
    """Closes the data files the reader opened (reopened on the next read)."""
    self.reader.close()

  def __enter__(self) -> 'Source':
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  @contextlib.contextmanager
  def closed_on_error(self) -> Iterator['Source']:
    """Yields the source; closes it if the block raises, else keeps it open.

    For a function that opens a source and hands it on to its caller.
    """
    try:
      yield self
    except BaseException:
      self.close()
      raise

  def data_files(self) -> list[str]:
    """`<prefix>.data-<shard>-of-<N>` for every shard the index names."""
    return bundle_format.data_files(self.prefix, self.index.header.num_shards)

  @property
  def nbytes(self) -> int:
    return sum(v.nbytes for v in self.variables.values())

  def files(self) -> list[str]:
    return files.with_prefix(self.prefix, '.')


def resolve_prefix(path: str | os.PathLike) -> str:
  """A checkpoint prefix from a prefix, an `.index` path or a model_dir.

  Raises:
    CheckpointError: Nothing there, a directory without checkpoints, or an
      unreadable `checkpoint` state file.
  """
  path = os.fspath(path) if path is not None else ''
  if not path:
    raise errors.CheckpointError(
        'source is empty: give a checkpoint prefix or a model_dir.',
        argument='source',
    )
  path = path.removesuffix('.index')
  # A prefix wins: some filesystems (ram://) call any path prefix a directory.
  if tf.io.gfile.exists(path + '.index'):
    return path
  if tf.io.gfile.isdir(path):
    state_file = os.path.join(path, files.STATE_FILE)
    # Not tf.train.latest_checkpoint: it globs, and a `[` in the path would
    # match nothing.
    prefix = files.state_prefix(path)
    if prefix is None:
      raise errors.CheckpointError(
          f'{path} is a directory with no checkpoint (no `checkpoint`'
          ' state file). Give a checkpoint prefix such as'
          f' {path}/model.ckpt-1000.'
      )
    if not tf.io.gfile.exists(prefix + '.index'):
      raise errors.CheckpointError(
          f'{state_file} names {prefix}, but {prefix}.index does not exist:'
          ' the checkpoint is incomplete. Give another checkpoint prefix'
          ' from that directory.'
      )
    return prefix
  raise errors.CheckpointError(
      f'{path}.index does not exist: {path!r} is not a checkpoint prefix or'
      ' model_dir.'
  )


def open_source(path: str | os.PathLike) -> Source:
  """Opens a checkpoint for reading and lists its variables.

  Raises:
    CheckpointError: Missing or unreadable (corrupt, truncated) index.
  """
  prefix = resolve_prefix(path)
  if files.is_local(prefix) and not os.access(prefix + '.index', os.R_OK):
    raise errors.CheckpointError(
        f'cannot read {prefix}.index: permission denied. Run as a user who'
        ' can read the checkpoint, or copy it somewhere readable.'
    )
  # The project's own index parser, not TF's reader: TF's globs the prefix,
  # so a `[` in a path makes it find nothing.
  parsed = index_lib.read_index(prefix)
  try:
    variables = {
        name: Variable(
            name,
            tuple(int(d.size) for d in entry.shape.dim),
            tf.as_dtype(entry.dtype),
        )
        for name, entry in sorted(parsed.entries.items())
    }
  except TypeError as e:  # an unknown dtype enum
    raise errors.CheckpointError(
        f'cannot read {prefix}.index: {e}. The index is corrupt.'
    ) from e
  source = Source(
      prefix,
      types.MappingProxyType(variables),
      parsed,
      ranges.RangeReader(prefix, parsed),
  )
  data_files = source.data_files()
  for data in data_files:
    if any(v.nbytes for v in variables.values()) and not tf.io.gfile.exists(
        data
    ):
      raise errors.CheckpointError(
          f'{data} is missing: the index lists tensors in {len(data_files)}'
          ' data file(s). The checkpoint is incomplete; restore it from a'
          ' backup.'
      )
  return source
