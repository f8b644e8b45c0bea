"""Every translatable optimizer: v1 DNNClassifier vs its translated v2 twin.

The cases and their measured tolerances are tests/tolerances.py's, shared
with checkpoint_continuation_test.
"""

from absl.testing import absltest
from absl.testing import parameterized

from tests import canned_harness
from tests import tolerances

_CASES = tolerances.OPTIMIZERS


def _train(test, name, exact):
  return canned_harness.train_both(
      test.create_tempdir().full_path,
      'DNN',
      'Classifier',
      dict(
          hidden_units=[4],
          feature_columns=canned_harness.dense_columns(),
          n_classes=canned_harness.N_CLASSES,
          optimizer=_CASES[name].make(),
      ),
      exact=exact,
  )


class TranslatedOptimizerTrainsLikeV1Test(parameterized.TestCase):

  @parameterized.named_parameters(
      tolerances.named(lambda c: c.translated is not None)
  )
  def test_same_weights_and_losses(self, name):
    result = _train(self, name, exact=False)
    self.assertTrue(result.translation.exact)
    self.assertLessEqual(
        result.max_relative_difference,
        _CASES[name].translated,
    )
    tolerances.assert_same_losses(self, result)

  @parameterized.named_parameters(
      tolerances.named(lambda c: c.translated is None)
  )
  def test_keras_rmsprop_differs_and_is_reported(self, name):
    result = _train(self, name, exact=False)
    self.assertFalse(result.translation.exact)
    self.assertGreater(
        result.max_relative_difference,
        1e-3,
    )
    # Reported: the change table's optimizer row is marked not exact, says
    # how Keras' RMSprop differs from v1's, and what computes v1's numbers.
    table = result.translation.table()
    rows = [
        line for line in table.splitlines() if line.startswith('| optimizer |')
    ]
    self.assertLen(rows, 1, table)
    self.assertIn(' | RMSprop(learning_rate=0.01, ', rows[0])
    self.assertIn(' | NO | ', rows[0])
    self.assertIn(
        'Keras starts rms at 0 (v1: 1) and, with momentum 0, divides by'
        ' sqrt(ms) + eps (v1: sqrt(ms + eps))',
        rows[0],
    )
    self.assertIn('exact=True uses RMSPropV1', rows[0])

  @parameterized.named_parameters(tolerances.named(lambda c: c.compat))
  def test_exact_compat_optimizers_are_bit_identical(self, name):
    result = _train(self, name, exact=True)
    self.assertTrue(result.translation.exact)
    self.assertEqual(
        result.max_relative_difference,
        0.0,
    )
    self.assertEqual(
        result.v1_metrics['average_loss'], result.v2_metrics['average_loss']
    )


if __name__ == '__main__':
  absltest.main()
