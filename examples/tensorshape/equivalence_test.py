"""A table of shapes: the TF1 reads and the TF2 reads agree."""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from examples.tensorshape import after
from examples.tensorshape import before


class TensorShapeTableTest(parameterized.TestCase):

  @parameterized.parameters(
      # shape, rank, dims, truthy
      ([None, 28, 28, 1], 4, [None, 28, 28, 1], True),
      ([3], 1, [3], True),
      ([], 0, [], True),  # a known rank-0 shape is truthy
      (None, None, None, False),  # unknown rank is falsy
  )
  def test_same_reads(self, shape, rank, dims, truthy):
    shape = tf.TensorShape(shape)
    old, new = before.describe(shape), after.describe(shape)
    self.assertEqual(old, new)
    self.assertEqual(
        (new['rank'], new['dims'], new['truthy']), (rank, dims, truthy)
    )

  def test_dimension_value_reads_both_forms(self):
    shape = tf.TensorShape([None, 5])
    self.assertEqual(tf.compat.v1.dimension_value(shape[1]), 5)
    self.assertEqual(tf.compat.v1.dimension_value(shape.dims[1]), 5)
    self.assertIsInstance(shape.dims[1], tf.compat.v1.Dimension)
    self.assertIsInstance(shape[1], int)


if __name__ == '__main__':
  absltest.main()
