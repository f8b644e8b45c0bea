"""differences.weight_difference against NumPy, case by case."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from estimator_migrate import errors
from estimator_migrate.tf2 import differences


class WeightDifferenceTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('equal', [1.0, -2.0], [1.0, -2.0], 0.0, 0.0),
      ('relative_to_reference', [2.0, -4.0], [2.5, -4.0], 0.5, 0.25),
      # Below the floor, a difference is relative to the floor (1e-3).
      ('near_zero', [1e-6, 1.0], [2e-6, 1.0], 1e-6, 1e-3),
      ('float32_in_float64', [np.float32(0.1)], [0.1], 1.5e-9, 1.5e-8),
  )
  def test_against_numpy(self, reference, other, absolute, relative):
    want_abs = float(np.max(np.abs(np.subtract(other, reference))))
    gap = differences.weight_difference(
        {'w': np.asarray(reference)}, {'w': np.asarray(other)}
    )
    self.assertAlmostEqual(gap.absolute, want_abs, delta=1e-15)
    self.assertAlmostEqual(gap.absolute, absolute, delta=absolute * 0.1)
    self.assertAlmostEqual(gap.relative, relative, delta=relative * 0.1)

  def test_max_over_names_and_empty_skipped(self):
    gap = differences.weight_difference(
        {'a': np.ones(2), 'b': np.zeros(0), 'c': np.full(3, 10.0)},
        {
            'a': np.ones(2) * 1.5,
            'b': np.zeros(0),
            'c': np.full(3, 11.0),
            'extra': np.ones(1),
        },
    )
    self.assertEqual(gap, differences.Difference(absolute=1.0, relative=0.5))

  @parameterized.named_parameters(
      ('missing', {'w': np.ones(2)}, {}, "no 'w'"),
      ('shape', {'w': np.ones(2)}, {'w': np.ones(3)}, r'w: other has shape'),
  )
  def test_mismatch_is_a_clear_error(self, reference, other, says):
    with self.assertRaisesRegex(errors.MigrationError, says):
      differences.weight_difference(reference, other)


if __name__ == '__main__':
  absltest.main()
