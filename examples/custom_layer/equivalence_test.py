"""The custom Keras layer computes both training branches as before."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from examples.custom_layer import after
from examples.custom_layer import before

TOLERANCE = 1e-6  # measured max difference: see examples/README.md


class EquivalenceTest(parameterized.TestCase):

  @parameterized.parameters(True, False)
  def test_same_outputs_and_regularization(self, training):
    rng = np.random.RandomState(1)
    images = rng.uniform(size=(3, 6, 6, 1)).astype(np.float32)
    weights = [
        rng.normal(size=(6, 6, 1)).astype(np.float32),
        rng.normal(size=(3, 3, 1, 4)).astype(np.float32),
        rng.normal(size=4).astype(np.float32),
    ]
    old_out, old_reg = before.run(weights, images, training)
    new_out, new_reg = after.run(weights, images, training)
    np.testing.assert_allclose(new_out, old_out, rtol=TOLERANCE, atol=TOLERANCE)
    self.assertAlmostEqual(new_reg, float(old_reg), places=5)

  def test_branches_differ(self):
    rng = np.random.RandomState(1)
    images = rng.uniform(size=(3, 6, 6, 1)).astype(np.float32)
    weights = [
        np.ones((6, 6, 1), np.float32),
        rng.normal(size=(3, 3, 1, 4)).astype(np.float32),
        np.zeros(4, np.float32),
    ]
    self.assertFalse(
        np.allclose(
            after.run(weights, images, True)[0],
            after.run(weights, images, False)[0],
        )
    )


if __name__ == '__main__':
  absltest.main()
