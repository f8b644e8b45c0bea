"""Finds and opens a source checkpoint, read only, with errors naming files."""

from collections.abc import Mapping
import dataclasses
import os
import types

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import index as index_lib


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
  """A checkpoint prefix and its variables."""

  prefix: str
  variables: Mapping[str, Variable]
  index: index_lib.Index

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
        'source is empty: give a checkpoint prefix or a model_dir.'
    )
  path = path.removesuffix('.index')
  # A prefix wins: some filesystems (ram://) call any path prefix a directory.
  if tf.io.gfile.exists(path + '.index'):
    return path
  if tf.io.gfile.isdir(path):
    state_file = os.path.join(path, 'checkpoint')
    try:
      # Not tf.train.latest_checkpoint: it globs, and a `[` in the path
      # would match nothing.
      state = tf.train.get_checkpoint_state(path)
    except Exception as e:  # text_format, unicode and I/O errors alike
      raise errors.CheckpointError(
          f'cannot read {state_file}: {files.error_line(e)}. Give the checkpoint'
          f' prefix itself, e.g. {path}/model.ckpt-1000.'
      ) from e
    if state is None or not state.model_checkpoint_path:
      raise errors.CheckpointError(
          f'{path} is a directory with no checkpoint (no readable `checkpoint`'
          ' state file). Give a checkpoint prefix such as'
          f' {path}/model.ckpt-1000.'
      )
    prefix = state.model_checkpoint_path
    if files.is_local(prefix) and not os.path.isabs(prefix):
      prefix = os.path.join(path, prefix)
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
  shards = max(parsed.header.num_shards, 1)
  for shard in range(shards):
    data = f'{prefix}.data-{shard:05d}-of-{shards:05d}'
    if any(v.nbytes for v in variables.values()) and not tf.io.gfile.exists(
        data
    ):
      raise errors.CheckpointError(
          f'{data} is missing: the index lists tensors in {shards} data'
          ' file(s). The checkpoint is incomplete; restore it from a backup.'
      )
  return Source(prefix, types.MappingProxyType(variables), parsed)
