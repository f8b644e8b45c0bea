r"""TF2 style: tf.Variable, a tf.function forward, a Keras l2 regularizer.

Example:
  bazel run //examples/variables_session:after
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf

from examples.variables_session import before

L2 = 0.04


def run(weight: np.ndarray, bias: np.ndarray, in_a, in_b):
  """Returns (out_a, out_b, regularization loss) computed the TF2 way."""
  w = tf.Variable(weight, name='W')
  b = tf.Variable(bias, name='b')

  @tf.function
  def forward(x):
    return w * x + b

  regularizer = tf.keras.regularizers.l2(L2)  # L2 * sum(square(w))
  out_a = forward(tf.constant(in_a, tf.float32))
  out_b = forward(tf.constant(in_b, tf.float32))
  return out_a.numpy(), out_b.numpy(), regularizer(w).numpy()


def main(argv: Sequence[str]) -> None:
  del argv
  out_a, out_b, reg = run(*before.example_inputs())
  print(f'out_a={out_a.tolist()} out_b={out_b.tolist()} reg_loss={reg:.4f}')


if __name__ == '__main__':
  app.run(main)
