r"""TF1 style: a tf.compat.v1.train.Saver checkpoint of the layers model.

Writes `model/conv2d/kernel`, `model/dense_1/bias`, ... (the scope names of
examples/layers_to_keras/before.py) and prints the logits it computes.

Example:
  bazel run //examples/checkpoint_names:before -- --output=/tmp/v1/ckpt
"""

from collections.abc import Sequence

from absl import app
from absl import flags
import numpy as np

from examples.layers_to_keras import after as keras_model
from examples.layers_to_keras import before as layers_model


def example_images() -> np.ndarray:
  return np.random.RandomState(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)


def write(prefix: str, seed: int = 0) -> np.ndarray:
  """Saves random weights under TF1 names; returns the logits they give."""
  weights = keras_model.build().get_weights()
  rng = np.random.RandomState(seed)
  weights = [
      rng.normal(scale=0.2, size=w.shape).astype(np.float32) for w in weights
  ]
  weights[7] = np.abs(weights[7]) + 0.5  # a valid moving variance
  return layers_model.save_checkpoint(weights, example_images(), prefix)


def main(argv: Sequence[str]) -> None:
  del argv
  output = flags.FLAGS.output
  logits = write(output)
  print(f'wrote {output}; logits[0]={np.round(logits[0], 4)}')


if __name__ == '__main__':
  # Defined here, not at import: after.py imports this module.
  flags.DEFINE_string(
      'output', '/tmp/em_v1/model.ckpt', 'Checkpoint prefix to write.'
  )
  app.run(main)
