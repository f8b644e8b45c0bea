r"""TF1 style: the guide's CNN built from tf.compat.v1.layers in a scope.

Example:
  bazel run //examples/layers_to_keras:before
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf


def regularizer(x):
  return 0.004 * tf.reduce_mean(x**2)


def model(x, training, scope='model'):
  with tf.compat.v1.variable_scope(scope, reuse=tf.compat.v1.AUTO_REUSE):
    x = tf.compat.v1.layers.conv2d(
        x, 32, 3, activation=tf.nn.relu, kernel_regularizer=regularizer
    )
    x = tf.compat.v1.layers.max_pooling2d(x, (2, 2), 1)
    x = tf.compat.v1.layers.flatten(x)
    x = tf.compat.v1.layers.dropout(x, 0.1, training=training)
    x = tf.compat.v1.layers.dense(x, 64, activation=tf.nn.relu)
    x = tf.compat.v1.layers.batch_normalization(x, training=training)
    return tf.compat.v1.layers.dense(x, 10)


def run(weights, images: np.ndarray, training: bool = False):
  """Runs the model with `weights` (in creation order).

  Returns:
    (logits, regularization loss, trainable variable count, variable names).
  """
  with tf.Graph().as_default():
    logits = model(tf.constant(images), training=training)
    variables = tf.compat.v1.global_variables()
    reg_loss = tf.compat.v1.losses.get_regularization_loss()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      for variable, value in zip(variables, weights, strict=True):
        variable.load(value, session)
      out, reg = session.run([logits, reg_loss])
    return (
        out,
        reg,
        len(tf.compat.v1.trainable_variables()),
        [v.op.name for v in variables],
    )


def save_checkpoint(weights, images: np.ndarray, prefix: str) -> np.ndarray:
  """Writes a name-based (tf.compat.v1.train.Saver) checkpoint; returns logits."""
  with tf.Graph().as_default():
    logits = model(tf.constant(images), training=False)
    variables = tf.compat.v1.global_variables()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      for variable, value in zip(variables, weights, strict=True):
        variable.load(value, session)
      tf.compat.v1.train.Saver().save(session, prefix)
      return session.run(logits)


def main(argv: Sequence[str]) -> None:
  del argv
  rng = np.random.RandomState(0)
  images = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
  with tf.Graph().as_default():
    model(tf.constant(images), training=False)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      weights = session.run(tf.compat.v1.global_variables())
  logits, reg, count, names = run(weights, images)
  print(f'{count} trainable variables: {names}')
  print(f'logits[0]={np.round(logits[0], 4).tolist()} reg_loss={reg:.6f}')


if __name__ == '__main__':
  app.run(main)
