"""Tests of translate_canned_args and make_v2_estimator (no training)."""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers
from estimator_migrate.tf2 import canned

_COLUMNS = [tf.feature_column.numeric_column('x', shape=[2])]


def _changes(translation):
  return {change.argument: change for change in translation.changes}


class TranslateCannedArgsTest(parameterized.TestCase):

  def test_v1_defaults_become_explicit(self):
    translation = canned.translate_canned_args(
        'DNNClassifier', hidden_units=[4], feature_columns=_COLUMNS
    )
    self.assertEqual(translation.kwargs['loss_reduction'], 'sum')
    plan = translation.kwargs['optimizer']
    self.assertIsInstance(plan, optimizers.OptimizerPlan)
    self.assertEqual(plan.config['learning_rate'], 0.05)
    self.assertIn('default', _changes(translation)['loss_reduction'].old)

  @parameterized.parameters(
      (tf.compat.v1.estimator.DNNRegressor,),
      (tf.estimator.DNNRegressor,),
      ('DNNRegressor',),
  )
  def test_name_v1_or_v2_class(self, estimator):
    translation = canned.translate_canned_args(
        estimator, hidden_units=[4], feature_columns=_COLUMNS
    )
    self.assertEqual(translation.estimator, 'DNNRegressor')

  def test_partitioner_dropped_with_advice(self):
    translation = canned.translate_canned_args(
        'LinearClassifier',
        feature_columns=_COLUMNS,
        partitioner=tf.compat.v1.fixed_size_partitioner(2),
    )
    self.assertNotIn('partitioner', translation.kwargs)
    self.assertIn(
        'variable_partitioner', _changes(translation)['partitioner'].why
    )

  @parameterized.parameters(
      ('weighted_sum', 'sum'),
      ('weighted_sum_over_batch_size', 'sum_over_batch_size'),
      ('weighted_mean', 'sum_over_batch_size'),
      ('weighted_sum_by_nonzero_weights', 'sum_over_batch_size'),
  )
  def test_loss_reduction_values(self, v1, v2):
    translation = canned.translate_canned_args(
        'LinearRegressor', feature_columns=_COLUMNS, loss_reduction=v1
    )
    self.assertEqual(translation.kwargs['loss_reduction'], v2)

  def test_mean_with_weights_has_no_v2_equivalent(self):
    with self.assertRaisesRegex(errors.TranslationError, 'weight_column'):
      canned.translate_canned_args(
          'LinearRegressor',
          feature_columns=_COLUMNS,
          weight_column='w',
          loss_reduction=tf.compat.v1.losses.Reduction.MEAN,
      )

  def test_v2_reduction_value_is_refused(self):
    with self.assertRaisesRegex(errors.TranslationError, 'weighted_sum'):
      canned.translate_canned_args(
          'DNNClassifier',
          hidden_units=[2],
          feature_columns=_COLUMNS,
          loss_reduction='sum',
      )

  def test_unknown_argument_lists_valid_ones(self):
    with self.assertRaisesRegex(
        errors.TranslationError, r"\['hiden_units'\].*hidden_units"
    ):
      canned.translate_canned_args(
          'DNNClassifier', hiden_units=[4], feature_columns=_COLUMNS
      )

  def test_unknown_estimator(self):
    with self.assertRaisesRegex(errors.TranslationError, 'DNNClassifier'):
      canned.translate_canned_args('BoostedTreesClassifier')

  def test_estimator_forms_keep_the_head(self):
    head = tf.estimator.RegressionHead()
    translation = canned.translate_canned_args(
        'DNNEstimator', head=head, hidden_units=[2], feature_columns=_COLUMNS
    )
    self.assertIs(translation.kwargs['head'], head)
    self.assertNotIn('loss_reduction', translation.kwargs)

  def test_callable_optimizer_is_translated_when_called(self):
    translation = canned.translate_canned_args(
        'DNNClassifier',
        hidden_units=[2],
        feature_columns=_COLUMNS,
        optimizer=lambda: tf.compat.v1.train.AdamOptimizer(0.02),
    )
    built = translation.kwargs['optimizer']()
    self.assertIsInstance(built, tf.keras.optimizers.legacy.Adam)
    self.assertAlmostEqual(built.get_config()['learning_rate'], 0.02)

  def test_table_lists_every_change(self):
    translation = canned.translate_canned_args(
        'DNNLinearCombinedClassifier',
        dnn_feature_columns=_COLUMNS,
        linear_feature_columns=_COLUMNS,
        dnn_hidden_units=[2],
        input_layer_partitioner=None,
        dnn_optimizer=tf.compat.v1.train.RMSPropOptimizer(0.1),
    )
    table = translation.table()
    for argument in (
        'dnn_optimizer',
        'linear_optimizer',
        'loss_reduction',
        'input_layer_partitioner',
    ):
      self.assertIn(f'| {argument} |', table)
    self.assertIn('| NO |', table)  # Keras RMSprop is not v1's
    self.assertFalse(translation.exact)

  @parameterized.named_parameters((name, name) for name in estimators.NAMES)
  def test_every_canned_estimator_builds(self, name):
    row = estimators.lookup(name)
    kwargs = row.family.minimal_kwargs(
        {scope: _COLUMNS for scope in row.family.scopes}, hidden_units=[2]
    )
    if row.kind == 'Estimator':
      kwargs['head'] = tf.estimator.RegressionHead()
    estimator = canned.make_v2_estimator(name, **kwargs)
    self.assertIsInstance(estimator, getattr(tf.estimator, name))


if __name__ == '__main__':
  absltest.main()
