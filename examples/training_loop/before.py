r"""TF1 style: a v1 optimizer's minimize() run in a Session loop.

Example:
  bazel run //examples/training_loop:before
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf


def make_optimizer():
  return tf.compat.v1.train.AdamOptimizer(0.01)


def run(weights, features: np.ndarray, labels: np.ndarray, steps: int):
  """Trains a linear softmax model `steps` steps; returns [kernel, bias]."""
  with tf.Graph().as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, features.shape[1]])
    y = tf.compat.v1.placeholder(tf.int64, [None])
    kernel = tf.compat.v1.get_variable('kernel', initializer=weights[0])
    bias = tf.compat.v1.get_variable('bias', initializer=weights[1])
    logits = tf.matmul(x, kernel) + bias
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    )
    train_op = make_optimizer().minimize(loss)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      for _ in range(steps):
        session.run(train_op, {x: features, y: labels})
      return session.run([kernel, bias])


def example_inputs():
  """(initial weights, features, labels) that both sides' binaries use."""
  rng = np.random.RandomState(0)
  features = rng.normal(size=(16, 3)).astype(np.float32)
  labels = rng.randint(0, 4, 16)
  return (
      [np.zeros((3, 4), np.float32), np.zeros(4, np.float32)],
      features,
      labels,
  )


def main(argv: Sequence[str]) -> None:
  del argv
  kernel, bias = run(*example_inputs(), steps=5)
  print(f'kernel[0]={np.round(kernel[0], 5).tolist()} bias={bias.tolist()}')


if __name__ == '__main__':
  app.run(main)
