"""Reads the checkpoint tensors a Keras twin needs, by checkpoint name.

Opens the checkpoint with `checkpoints.source` (prefix or model_dir, errors
naming the file) and reads each variable the spec names, checking that it
exists and that its shape is the one the Keras layer will have.
"""

from collections.abc import Mapping
import dataclasses

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import source as source_lib


@dataclasses.dataclass(frozen=True)
class Weights:
  """The tensors read, by checkpoint name, and where they came from."""

  prefix: str
  arrays: Mapping[str, np.ndarray]
  global_step: int | None
  source: source_lib.Source


def read_weights(model_dir: str, shapes: Mapping[str, tuple]) -> Weights:
  """Reads the variables `shapes` names from the checkpoint at `model_dir`.

  Args:
    model_dir: A model_dir or checkpoint prefix.
    shapes: Checkpoint name -> the shape the Keras layer expects.

  Raises:
    CheckpointError: No checkpoint there, a variable missing, or a shape
      other than the estimator kwargs imply.
  """
  names = list(shapes)
  source = source_lib.open_source(model_dir)
  missing = [n for n in names if n not in source.variables]
  if missing:
    raise errors.CheckpointError(
        f'{source.prefix} lacks {missing}: model_dir does not hold a'
        ' checkpoint of an estimator built with these kwargs (check the'
        ' feature columns, hidden units and n_classes). It has'
        f' {sorted(source.variables)[:20]}.'
    )
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
  reader = tf.train.load_checkpoint(source.prefix)
  arrays = {n: np.asarray(reader.get_tensor(n)) for n in names}
  step = None
  if 'global_step' in source.variables:
    step = int(reader.get_tensor('global_step'))
  return Weights(source.prefix, arrays, step, source)
