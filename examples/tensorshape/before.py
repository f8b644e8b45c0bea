r"""TF1 style: shape[i] is a Dimension; code reads .value.

In TF 2.15 `shape.dims[i]` still gives Dimension objects, so this code runs
unchanged; `tf.compat.v1.dimension_value` reads either form.

Example:
  bazel run //examples/tensorshape:before
"""

from collections.abc import Sequence

from absl import app
import tensorflow as tf


def describe(shape: tf.TensorShape) -> dict:
  """What TF1 code typically reads off a shape."""
  if shape.dims is None:
    return {'rank': None, 'dims': None, 'truthy': bool(shape)}
  return {
      'rank': len(shape.dims),
      'dims': [shape.dims[i].value for i in range(len(shape.dims))],
      'first': (
          tf.compat.v1.dimension_value(shape.dims[0]) if shape.dims else None
      ),
      'truthy': bool(shape),
  }


def main(argv: Sequence[str]) -> None:
  del argv
  for shape in ([None, 28, 28, 1], [], None):
    print(shape, describe(tf.TensorShape(shape)))


if __name__ == '__main__':
  app.run(main)
