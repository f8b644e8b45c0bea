"""Reads the checkpoint tensors a Keras twin needs, by checkpoint name.

Opens the checkpoint with `checkpoints.source` (prefix or model_dir, errors
naming the file) and reads each variable the spec names, checking that it
exists and that its shape is the one the Keras layer will have.

Nothing read is trusted, as in a conversion: every tensor goes through the
source's `ranges.RangeReader`, which checks its bytes against the CRC-32C in
the index (`CheckedReader`), never TF's reader (which globs the prefix, so
a `[` in a path finds nothing, and fails with a traceback on bad data).
"""

from collections.abc import Callable, Mapping
import dataclasses

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.export import npz_stream

# Tensors above this many bytes are read into weights.npz block by block
# when it is written (`CheckedReader.get_array`), never whole.
LAZY_BYTES = npz_stream.BLOCK_BYTES


class CheckedReader:
  """Whole tensors of a source checkpoint, each checked against its CRC-32C.

  Takes the place of `tf.train.load_checkpoint(prefix)` (`get_tensor`).
  """

  def __init__(self, source: source_lib.Source):
    self.source = source

  def get_tensor(self, name: str) -> np.ndarray:
    """The whole value of `name`.

    Raises:
      CheckpointError: No such tensor, or missing, truncated or corrupt data.
    """
    variable = self.source.variables.get(name)
    if variable is None:
      raise errors.CheckpointError(
          f'{self.source.prefix} has no tensor {name!r}: the checkpoint is'
          ' not the one the export was planned for.'
      )
    rows = variable.shape[0] if variable.shape else 0
    return np.asarray(
        self.source.reader.read(name, variable.dtype, variable.shape, 0, rows)
    )

  def get_array(self, name: str) -> np.ndarray | npz_stream.Blocks:
    """`name`'s value, or, above `LAZY_BYTES`, its rows read when written.

    A large tensor is not read here: `npz_stream.write` reads it one block
    at a time into weights.npz, through this reader (its data files are
    opened again if closed), and its last block checks what was read in
    part against the CRC-32C and closes the files again.

    Raises:
      CheckpointError: No such tensor, or (small ones) missing, truncated
        or corrupt data.
    """
    variable = self.source.variables.get(name)
    if variable is None or not variable.shape or variable.dtype == tf.string:
      return self.get_tensor(name)
    dtype = np.dtype(variable.dtype.as_numpy_dtype)
    rows = variable.shape[0]
    if dtype.itemsize * int(np.prod(variable.shape)) <= LAZY_BYTES:
      return self.get_tensor(name)
    reader = self.source.reader

    def read(start: int, stop: int) -> np.ndarray:
      block = np.asarray(
          reader.read(name, variable.dtype, variable.shape, start, stop)
      )
      if stop == rows:
        self.finish()
      return block

    bounds = ()
    if reader.can_read(name, variable.dtype):  # blocks within stored pieces
      pieces = reader.index.stored(name, tuple(variable.shape))
      bounds = tuple(piece.start for piece in pieces)
    return npz_stream.Blocks(dtype.name, tuple(variable.shape), read, bounds)

  def finish(self) -> None:
    """Checks what was read only in part; closes the data files.

    Raises:
      CheckpointError: Stored bytes do not match their CRC-32C.
    """
    try:
      self.source.reader.finish()
    finally:
      self.source.close()


@dataclasses.dataclass(frozen=True)
class Weights:
  """The tensors read, by checkpoint name, and where they came from."""

  prefix: str
  arrays: Mapping[str, np.ndarray | npz_stream.Blocks]
  global_step: int | None
  source: source_lib.Source
  reader: CheckedReader


def read_weights(
    model_dir: str,
    shapes: Mapping[str, tuple],
    check: Callable[[Mapping], None] | None = None,
) -> Weights:
  """Reads the variables `shapes` names from the checkpoint at `model_dir`.

  Args:
    model_dir: A model_dir or checkpoint prefix.
    shapes: Checkpoint name -> the shape the Keras layer expects.
    check: Called with the checkpoint's variables by name before the
      shapes are compared (raises to refuse with a more precise message).

  Raises:
    CheckpointError: No checkpoint there, a variable missing, a shape
      other than the estimator kwargs imply, or corrupt or truncated data.
  """
  source = source_lib.open_source(model_dir)
  with source.closed_on_error():
    return _read(source, shapes, check)


def _read(
    source: source_lib.Source,
    shapes: Mapping[str, tuple],
    check: Callable[[Mapping], None] | None,
) -> Weights:
  names = list(shapes)
  missing = [n for n in names if n not in source.variables]
  if missing:
    raise errors.CheckpointError(
        f'{source.prefix} lacks {missing}: model_dir does not hold a'
        ' checkpoint of an estimator built with these kwargs (check the'
        ' feature columns, hidden units and n_classes). It has'
        f' {sorted(source.variables)[:20]}.'
    )
  if check is not None:
    check(source.variables)
  wrong = [
      f'{n} is {list(source.variables[n].shape)}, expected {list(shapes[n])}'
      for n in names
      if tuple(source.variables[n].shape) != tuple(shapes[n])
  ]
  if wrong:
    raise errors.CheckpointError(
        f'{source.prefix} holds another model than the kwargs describe:'
        f' {"; ".join(wrong)}. Pass the kwargs the estimator was trained'
        ' with (n_classes, label_dimension, hidden units, feature columns).'
    )
  reader = CheckedReader(source)
  arrays = {n: reader.get_array(n) for n in names}
  step = None
  if 'global_step' in source.variables:
    step = int(reader.get_tensor('global_step'))
  return Weights(source.prefix, arrays, step, source, reader)
