"""Every canned family and head: v1 defaults vs the translated v2 estimator.

No optimizer or loss_reduction is given, so these cases fail if the
translation drops v1's default learning rate for a string optimizer (v2 DNN
would train Adagrad at 0.001, not 0.05) or leaves loss_reduction to v2's
default (the loss, and so every gradient, divided by the batch size).
"""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.tables import estimators
from tests import canned_harness
from tests import tolerances

# Default optimizers are Adagrad (v1 rsqrt vs Keras 1/sqrt) and Ftrl
# (bit-identical).
_RTOL = tolerances.OPTIMIZERS['adagrad'].translated


def _kwargs(family, kind):
  h = canned_harness
  row = estimators.lookup(family + kind).family
  # A Linear model alone takes every column; a combined one splits them.
  linear = h.sparse_columns()
  if len(row.parts) == 1:
    linear = h.dense_columns() + linear
  kwargs = row.minimal_kwargs(
      {'dnn': h.dense_columns(), 'linear': linear}, hidden_units=[4]
  )
  if kind == 'Classifier':
    kwargs['n_classes'] = h.N_CLASSES
  return kwargs


class FamilyDefaultsTrainLikeV1Test(parameterized.TestCase):

  @parameterized.product(
      family=tuple(f.class_prefix for f in estimators.FAMILIES.values()),
      kind=('Classifier', 'Regressor'),
  )
  def test_same_weights_and_losses(self, family, kind):
    result = canned_harness.train_both(
        self.create_tempdir().full_path,
        family,
        kind,
        _kwargs(family, kind),
        categorical=family != 'Baseline',
    )
    self.assertNotEmpty(result.v1_weights)
    self.assertLessEqual(
        result.max_relative_difference,
        _RTOL,
    )
    tolerances.assert_same_losses(self, result)

  @parameterized.named_parameters(
      ('different', tf.compat.v1.train.AdamOptimizer),
      ('identical', tf.compat.v1.train.FtrlOptimizer),
  )
  def test_combined_with_given_optimizers(self, dnn_optimizer):
    kwargs = _kwargs('DNNLinearCombined', 'Classifier')
    kwargs.update(
        dnn_optimizer=dnn_optimizer(0.01),
        linear_optimizer=tf.compat.v1.train.FtrlOptimizer(
            0.1, l1_regularization_strength=0.01
        ),
    )
    result = canned_harness.train_both(
        self.create_tempdir().full_path,
        'DNNLinearCombined',
        'Classifier',
        kwargs,
    )
    self.assertLessEqual(
        result.max_relative_difference,
        tolerances.OPTIMIZERS['adam'].translated,
    )

  def test_partitioned_v1_trains_like_unpartitioned_v2(self):
    kwargs = dict(
        hidden_units=[4],
        feature_columns=canned_harness.embedding_columns(),
        n_classes=canned_harness.N_CLASSES,
        input_layer_partitioner=tf.compat.v1.fixed_size_partitioner(2),
    )
    result = canned_harness.train_both(
        self.create_tempdir().full_path, 'DNN', 'Classifier', kwargs
    )
    self.assertEqual(
        [c.argument for c in result.translation.changes][-1],
        'input_layer_partitioner',
    )
    self.assertAlmostEqual(
        result.v1_metrics['average_loss'],
        result.v2_metrics['average_loss'],
        delta=1e-5,
    )


if __name__ == '__main__':
  absltest.main()
