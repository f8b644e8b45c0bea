"""Finds and opens a source checkpoint, read only, with errors naming files."""

from collections.abc import Mapping
import dataclasses
import types

import numpy as np
import tensorflow as tf

from estimator_migrate import errors


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

  @property
  def nbytes(self) -> int:
    return sum(v.nbytes for v in self.variables.values())

  def files(self) -> list[str]:
    return sorted(tf.io.gfile.glob(self.prefix + '.*'))


def resolve_prefix(path: str) -> str:
  """A checkpoint prefix from a prefix, an `.index` path or a model_dir.

  Raises:
    CheckpointError: Nothing there, or a directory without checkpoints.
  """
  if not path:
    raise errors.CheckpointError(
        '--source is empty: give a checkpoint prefix or a model_dir.'
    )
  path = path.removesuffix('.index')
  # A prefix wins: some filesystems (ram://) call any path prefix a directory.
  if tf.io.gfile.exists(path + '.index'):
    return path
  if tf.io.gfile.isdir(path):
    prefix = tf.train.latest_checkpoint(path)
    if prefix is None:
      raise errors.CheckpointError(
          f'{path} is a directory with no checkpoint (no readable `checkpoint`'
          ' state file). Give a checkpoint prefix such as'
          f' {path}/model.ckpt-1000.'
      )
    return prefix
  raise errors.CheckpointError(
      f'{path}.index does not exist: {path!r} is not a checkpoint prefix or'
      ' model_dir.'
  )


def open_source(path: str) -> Source:
  """Opens a checkpoint for reading and lists its variables.

  Raises:
    CheckpointError: Missing or unreadable (corrupt, truncated) index.
  """
  prefix = resolve_prefix(path)
  try:
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise errors.CheckpointError(
        f'cannot read {prefix}.index: {_first_line(e)}. The checkpoint is'
        ' corrupt or truncated; restore it from a backup.'
    ) from e
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  variables = {
      name: Variable(name, tuple(int(d) for d in shapes[name]), dtypes[name])
      for name in sorted(shapes)
  }
  data_files = tf.io.gfile.glob(prefix + '.data-*')
  if not data_files and any(v.nbytes for v in variables.values()):
    raise errors.CheckpointError(
        f'{prefix}.data-* is missing: the index lists tensors but no data'
        ' file holds them.'
    )
  return Source(prefix, types.MappingProxyType(variables))


def _first_line(error: Exception) -> str:
  text = getattr(error, 'message', None) or str(error)
  return text.strip().splitlines()[0] if text.strip() else type(error).__name__
