"""Keras metric objects give what the v1 streaming metrics gave."""

from absl.testing import absltest
import numpy as np

from examples.metrics import after
from examples.metrics import before

TOLERANCE = 1e-6  # measured max difference: see examples/README.md


class EquivalenceTest(absltest.TestCase):

  def test_same_values_and_resets(self):
    batches = before.example_batches(seed=3, epochs=3, steps=4)
    old, new = before.run(batches), after.run(batches)
    np.testing.assert_allclose(new, old, rtol=TOLERANCE)
    self.assertNotEqual(old[0], old[1])  # a reset really happened


if __name__ == '__main__':
  absltest.main()
