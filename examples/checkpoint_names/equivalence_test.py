"""Each restore way gives the Keras model the TF1 model's outputs."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.checkpoints import assignment
from examples.checkpoint_names import after
from examples.checkpoint_names import before
from examples.layers_to_keras import after as keras_model

TOLERANCE = 1e-5  # measured max difference: see examples/README.md


class RestoreTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.prefix = os.path.join(self.create_tempdir().full_path, 'model.ckpt')
    self.want = before.write(self.prefix)

  @parameterized.parameters(*after.WAYS)
  def test_restored_outputs_equal(self, way):
    model = after.restore(self.prefix, way)
    got = model(before.example_images(), training=False).numpy()
    np.testing.assert_allclose(got, self.want, rtol=TOLERANCE, atol=TOLERANCE)

  def test_map_by_name_even_with_renumbered_layers(self):
    keras_model.build()  # a first model takes the plain layer names
    model = keras_model.build()
    amap = assignment.assignment_map(self.prefix, model)
    self.assertTrue(amap.complete, amap.table())
    self.assertEqual(len(amap.mapping), 10)
    self.assertEqual(
        amap.mapping['model/batch_normalization/moving_mean'].rsplit('/')[-1],
        'moving_mean',
    )

  def test_reports_what_does_not_match(self):
    smaller = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    smaller.build((None, 5))
    amap = assignment.assignment_map(self.prefix, smaller)
    self.assertFalse(amap.complete)
    self.assertLen(amap.unmatched_model, 2)
    self.assertIn('| (none) |', amap.table())


if __name__ == '__main__':
  absltest.main()
