r"""TF2 style: restore the TF1 checkpoint into a Keras model, three ways.

1. matching names: name the variables as TF1 did and restore by name;
2. tf.compat.v1.train.init_from_checkpoint with an assignment_map;
3. estimator_migrate.checkpoints.assignment.assignment_map, which proposes
   the map from names, kinds and shapes and reports what it cannot match.

Example:
  bazel run //examples/checkpoint_names:before -- --output=/tmp/v1/ckpt
  bazel run //examples/checkpoint_names:after -- --checkpoint=/tmp/v1/ckpt
"""

from collections.abc import Sequence

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from estimator_migrate.checkpoints import assignment
from examples.checkpoint_names import before
from examples.layers_to_keras import after as keras_model

WAYS = ('names', 'init_from_checkpoint', 'assignment_map')
# The TF1 layer scopes, in the Keras model's layer order (no weights for
# pooling, flatten and dropout).
_TF1_LAYERS = (
    'conv2d',
    None,
    None,
    None,
    'dense',
    'batch_normalization',
    'dense_1',
)


def restore(prefix: str, way: str) -> tf.keras.Model:
  model = keras_model.build()
  if way == 'names':
    # Give each weight the TF1 name, then restore by name.
    var_list = {}
    for layer, scope in zip(model.layers, _TF1_LAYERS, strict=True):
      for weight in layer.weights:
        kind = weight.name.split('/')[-1].split(':')[0]
        var_list[f'model/{scope}/{kind}'] = weight
    tf.compat.v1.train.Saver(var_list).restore(None, prefix)
  elif way == 'init_from_checkpoint':
    amap = assignment.assignment_map(prefix, model)
    tf.compat.v1.train.init_from_checkpoint(
        prefix, amap.init_from_checkpoint_map(model)
    )
  elif way == 'assignment_map':
    amap = assignment.assignment_map(prefix, model)
    if not amap.complete:
      raise ValueError(f'unmatched variables:\n{amap.table()}')
    assignment.restore(prefix, model, amap)
  else:
    raise ValueError(f'way must be one of {WAYS}, got {way!r}')
  return model


def main(argv: Sequence[str]) -> None:
  del argv
  model = keras_model.build()
  checkpoint = flags.FLAGS.checkpoint
  print(assignment.assignment_map(checkpoint, model).table())
  for way in WAYS:
    logits = restore(checkpoint, way)(before.example_images())
    print(f'{way}: logits[0]={np.round(logits[0].numpy(), 4)}')


if __name__ == '__main__':
  # Defined here, not at import: a binary's flags stay out of importable code.
  flags.DEFINE_string(
      'checkpoint', '/tmp/em_v1/model.ckpt', 'TF1 checkpoint prefix to read.'
  )
  app.run(main)
