r"""TF1 style: placeholders, variable_scope(AUTO_REUSE), get_variable, Session.

Example:
  bazel run //examples/variables_session:before
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf

L2 = 0.04


def run(weight: np.ndarray, bias: np.ndarray, in_a, in_b):
  """Returns (out_a, out_b, regularization loss) computed the TF1 way."""
  with tf.Graph().as_default():
    a = tf.compat.v1.placeholder(tf.float32, shape=(2,))
    b = tf.compat.v1.placeholder(tf.float32, shape=(2,))

    def forward(x):
      with tf.compat.v1.variable_scope('matmul', reuse=tf.compat.v1.AUTO_REUSE):
        w = tf.compat.v1.get_variable(
            'W',
            initializer=tf.constant(weight),
            regularizer=lambda t: L2 * tf.reduce_sum(tf.square(t)),
        )
        c = tf.compat.v1.get_variable('b', initializer=tf.constant(bias))
        return w * x + c

    out_a, out_b = forward(a), forward(b)  # the second call reuses W and b
    reg_loss = tf.compat.v1.losses.get_regularization_loss(scope='matmul')
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return session.run([out_a, out_b, reg_loss], {a: in_a, b: in_b})


def example_inputs():
  """(weight, bias, in_a, in_b) that both sides' binaries use."""
  return np.ones((2, 2), np.float32), np.zeros(2, np.float32), [1, 0], [0, 1]


def main(argv: Sequence[str]) -> None:
  del argv
  out_a, out_b, reg = run(*example_inputs())
  print(f'out_a={out_a.tolist()} out_b={out_b.tolist()} reg_loss={reg:.4f}')


if __name__ == '__main__':
  app.run(main)
