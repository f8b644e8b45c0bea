r"""TF1 style: a get_variable mixed with tf.compat.v1.layers, training branch.

Example:
  bazel run //examples/custom_layer:before
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf

L2 = 0.02


def model(x, training, scope='model'):
  with tf.compat.v1.variable_scope(scope, reuse=tf.compat.v1.AUTO_REUSE):
    w = tf.compat.v1.get_variable(
        'W',
        dtype=tf.float32,
        initializer=tf.ones(shape=x.shape[1:]),
        regularizer=lambda t: L2 * tf.reduce_sum(tf.square(t)),
        trainable=True,
    )
    x = x + w if training else x + w * 0.5
    x = tf.compat.v1.layers.conv2d(x, 4, 3, activation=tf.nn.relu)
    x = tf.compat.v1.layers.max_pooling2d(x, (2, 2), 1)
    return tf.compat.v1.layers.flatten(x)


def run(weights, images: np.ndarray, training: bool):
  """(outputs, regularization loss) with `weights` in creation order."""
  with tf.Graph().as_default():
    out = model(tf.constant(images), training=training)
    reg = tf.compat.v1.losses.get_regularization_loss()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      for variable, value in zip(
          tf.compat.v1.global_variables(), weights, strict=True
      ):
        variable.load(value, session)
      return session.run([out, reg])


def example_inputs():
  """(weights in creation order, images) that both sides' binaries use."""
  rng = np.random.RandomState(0)
  images = rng.uniform(size=(2, 6, 6, 1)).astype(np.float32)
  weights = [
      np.ones((6, 6, 1), np.float32),
      rng.normal(size=(3, 3, 1, 4)).astype(np.float32),
      np.zeros(4, np.float32),
  ]
  return weights, images


def main(argv: Sequence[str]) -> None:
  del argv
  weights, images = example_inputs()
  for training in (True, False):
    out, reg = run(weights, images, training)
    print(f'training={training}: sum={out.sum():.4f} reg_loss={reg:.4f}')


if __name__ == '__main__':
  app.run(main)
