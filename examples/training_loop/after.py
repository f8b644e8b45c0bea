r"""TF2 style: a tf.GradientTape step in a tf.function, a Keras optimizer.

The Keras optimizer comes from estimator_migrate.tables.optimizers.translate_optimizer,
so v1's hyperparameters (Adam's epsilon 1e-8, where Keras defaults to 1e-7)
carry over.

Example:
  bazel run //examples/training_loop:after
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf

from estimator_migrate.tables import optimizers
from examples.training_loop import before


def run(weights, features: np.ndarray, labels: np.ndarray, steps: int):
  """Same training as before.run; returns [kernel, bias]."""
  kernel = tf.Variable(weights[0], name='kernel')
  bias = tf.Variable(weights[1], name='bias')
  optimizer = optimizers.translate_optimizer(before.make_optimizer())

  @tf.function
  def train_step(x, y):
    with tf.GradientTape() as tape:
      logits = tf.matmul(x, kernel) + bias
      loss = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(
              labels=y, logits=logits
          )
      )
    gradients = tape.gradient(loss, [kernel, bias])
    optimizer.apply_gradients(zip(gradients, [kernel, bias], strict=True))

  for _ in range(steps):
    train_step(tf.constant(features), tf.constant(labels, tf.int64))
  return [kernel.numpy(), bias.numpy()]


def main(argv: Sequence[str]) -> None:
  del argv
  kernel, bias = run(*before.example_inputs(), steps=5)
  print(f'kernel[0]={np.round(kernel[0], 5).tolist()} bias={bias.tolist()}')


if __name__ == '__main__':
  app.run(main)
