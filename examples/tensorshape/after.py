r"""TF2 style: shape[i] is an int or None; as_list() for all dimensions.

Example:
  bazel run //examples/tensorshape:after
"""

from collections.abc import Sequence

from absl import app
import tensorflow as tf


def describe(shape: tf.TensorShape) -> dict:
  """The same facts as before.describe, the TF2 way."""
  if shape.rank is None:
    return {'rank': None, 'dims': None, 'truthy': bool(shape)}
  return {
      'rank': shape.rank,
      'dims': shape.as_list(),
      'first': shape[0] if shape.rank else None,
      'truthy': bool(shape),
  }


def main(argv: Sequence[str]) -> None:
  del argv
  for shape in ([None, 28, 28, 1], [], None):
    print(shape, describe(tf.TensorShape(shape)))


if __name__ == '__main__':
  app.run(main)
