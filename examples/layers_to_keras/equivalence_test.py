"""The Keras Sequential computes what the tf.compat.v1.layers model did."""

from absl.testing import absltest
import numpy as np

from examples.layers_to_keras import after
from examples.layers_to_keras import before

# Same kernels in the same order; measured max difference 0.0 (inference).
TOLERANCE = 1e-5


class EquivalenceTest(absltest.TestCase):

  def test_same_logits_regularization_and_variable_count(self):
    rng = np.random.RandomState(0)
    images = rng.uniform(size=(4, 8, 8, 1)).astype(np.float32)
    weights = after.build().get_weights()
    # Non-trivial BatchNorm statistics, so inference uses them.
    weights[6] = rng.normal(size=64).astype(np.float32)
    weights[7] = rng.uniform(0.5, 2.0, size=64).astype(np.float32)
    old_logits, old_reg, old_count, names = before.run(weights, images)
    new_logits, new_reg, new_count, _ = after.run(weights, images)
    np.testing.assert_allclose(
        new_logits, old_logits, rtol=TOLERANCE, atol=TOLERANCE
    )
    self.assertAlmostEqual(new_reg, old_reg, places=6)
    self.assertEqual(new_count, old_count)
    self.assertEqual(new_count, 8)
    self.assertIn('model/batch_normalization/moving_mean', names)


if __name__ == '__main__':
  absltest.main()
