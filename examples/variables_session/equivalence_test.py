"""before.py and after.py compute the same outputs and regularization."""

from absl.testing import absltest
import numpy as np

from examples.variables_session import after
from examples.variables_session import before

TOLERANCE = 1e-6  # measured max difference: 0.0


class EquivalenceTest(absltest.TestCase):

  def test_same_numbers(self):
    rng = np.random.RandomState(0)
    weight = rng.normal(size=(2, 2)).astype(np.float32)
    bias = rng.normal(size=2).astype(np.float32)
    for in_a, in_b in (([1, 0], [0, 1]), ([0.5, -2.0], [3.0, 1.0])):
      for got, want in zip(
          after.run(weight, bias, in_a, in_b),
          before.run(weight, bias, in_a, in_b),
          strict=True,
      ):
        np.testing.assert_allclose(got, want, rtol=TOLERANCE)


if __name__ == '__main__':
  absltest.main()
