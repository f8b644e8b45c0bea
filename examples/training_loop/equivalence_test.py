"""One and several training steps update the weights as the v1 loop did."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from examples.training_loop import after
from examples.training_loop import before

TOLERANCE = 1e-6  # measured max difference: see examples/README.md


class EquivalenceTest(parameterized.TestCase):

  @parameterized.parameters(1, 5)
  def test_same_updates(self, steps):
    rng = np.random.RandomState(2)
    features = rng.normal(size=(16, 3)).astype(np.float32)
    labels = rng.randint(0, 4, 16)
    weights = [
        rng.normal(size=(3, 4)).astype(np.float32),
        rng.normal(size=4).astype(np.float32),
    ]
    old = before.run(weights, features, labels, steps)
    new = after.run(weights, features, labels, steps)
    self.assertFalse(np.allclose(old[0], weights[0]))
    for got, want in zip(new, old, strict=True):
      np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)


if __name__ == '__main__':
  absltest.main()
