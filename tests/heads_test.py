"""v1 heads -> v2 heads: every attribute carried, trained beside v1.

The side-by-side cases warm-start a v1 `*Estimator` with a v1 head and its
translation from one checkpoint (`estimator_migrate/tf2/side_by_side.py`), train
both on the same batches and compare every weight and every eval metric.
"""

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow_estimator.python.estimator.canned import head as head_lib

from estimator_migrate import errors
from estimator_migrate.tables import heads
from estimator_migrate.tf2 import canned
from estimator_migrate.tf2 import side_by_side

_REDUCTION = tf.compat.v1.losses.Reduction
_N_EXAMPLES = 48
_BATCH = 16
# Weights: the default optimizers, Adagrad (v1 rsqrt vs Keras 1/sqrt) and
# Ftrl (bit-identical), as in canned_families_test. Metrics: float rounding.
_WEIGHT_RTOL = 3e-5
_METRIC_RTOL, _METRIC_ATOL = 1e-5, 1e-6
# v1 computes auc_precision_recall with tf.compat.v1.metrics.auc's default
# trapezoidal summation, v2 with tf.keras.metrics.AUC's interpolation (Davis
# & Goadrich): the same predictions give different areas.
_AUC_PR_ATOL = 5e-3


def _weighted_abs(labels, logits, features):
  return tf.abs(labels - logits) * features['w']


def _data(labels: str):
  """Features `x` and `w` (weights), and labels of one kind.

  Labels `'classes_x_only'` come without `w`: v2 Baseline estimators assert
  that all features have one batch size, and with a dynamic batch size that
  assertion, a control dependency of the bias initializer, reads the input
  iterator before it is initialized ("iterator has not been initialized");
  v1 trains.
  """
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (_N_EXAMPLES, 3)).astype(np.float32)
  features = {'x': x, 'w': rng.uniform(0.5, 2, (_N_EXAMPLES, 1))}
  features['w'] = features['w'].astype(np.float32)
  if labels == 'classes_x_only':
    del features['w']
  if labels == 'two_values':
    y = (0.5 * x[:, :2]).astype(np.float32)
  elif labels == 'strings':
    y = rng.choice(['neg', 'pos'], (_N_EXAMPLES, 1))
  else:
    y = rng.randint(0, 3, (_N_EXAMPLES, 1)).astype(np.int64)
  return features, y


def _input_fn(labels: str, repeat: bool):
  def input_fn():
    dataset = tf.data.Dataset.from_tensor_slices(_data(labels)).batch(_BATCH)
    return dataset.repeat() if repeat else dataset

  return input_fn


def _columns():
  return [tf.feature_column.numeric_column('x', shape=(3,))]


_SIDE_BY_SIDE = (
    (
        'regression_label_dimension_inverse_link_name',
        'DNNEstimator',
        lambda: head_lib._regression_head(
            label_dimension=2, inverse_link_fn=tf.exp, name='r'
        ),
        'two_values',
    ),
    (
        'regression_loss_fn_weights_mean_per_example',
        'LinearEstimator',
        lambda: head_lib._regression_head(
            label_dimension=2,
            loss_fn=_weighted_abs,
            weight_column='w',
            loss_reduction=_REDUCTION.SUM_OVER_BATCH_SIZE,
        ),
        'two_values',
    ),
    (
        'binary_thresholds_label_vocabulary',
        'DNNEstimator',
        lambda: head_lib._binary_logistic_head_with_sigmoid_cross_entropy_loss(
            thresholds=[0.3, 0.7], label_vocabulary=['neg', 'pos']
        ),
        'strings',
    ),
    (
        'multi_class_weight_column',
        'DNNEstimator',
        lambda: head_lib._multi_class_head_with_softmax_cross_entropy_loss(
            3, weight_column='w'
        ),
        'classes',
    ),
    (
        'multi_class_mean_baseline',
        'BaselineEstimator',
        lambda: head_lib._multi_class_head_with_softmax_cross_entropy_loss(
            3, loss_reduction=_REDUCTION.MEAN
        ),
        'classes_x_only',
    ),
)


def _family_kwargs(estimator: str) -> dict:
  return {
      'DNNEstimator': dict(hidden_units=[4], feature_columns=_columns()),
      'LinearEstimator': dict(feature_columns=_columns()),
      'BaselineEstimator': {},
  }[estimator]


class TrainsLikeV1Test(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(*_SIDE_BY_SIDE)
  def test_weights_and_metrics(self, estimator, make_head, labels):
    result = side_by_side.train_side_by_side(
        estimator,
        dict(head=make_head(), **_family_kwargs(estimator)),
        train_input_fn=_input_fn(labels, True),
        eval_input_fn=_input_fn(labels, False),
        steps=5,
        model_dir=self.create_tempdir().full_path,
    )
    self.assertEqual(result.translation.changes[0].argument, 'head')
    self.assertNotEmpty(result.v1_weights)
    logging.info(
        '%s: weights %.3g relative; metrics %s',
        estimator,
        result.max_relative_difference,
        {k: (v, result.v2_metrics[k]) for k, v in result.v1_metrics.items()},
    )
    self.assertLessEqual(result.max_relative_difference, _WEIGHT_RTOL)
    self.assertSameElements(result.v1_metrics, result.v2_metrics)
    for key, v1 in result.v1_metrics.items():
      atol = _AUC_PR_ATOL if key == 'auc_precision_recall' else _METRIC_ATOL
      self.assertAllClose(
          v1, result.v2_metrics[key], rtol=_METRIC_RTOL, atol=atol, msg=key
      )


class TranslateHeadTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (
          'regression',
          lambda: head_lib._regression_head(
              weight_column='w',
              label_dimension=3,
              loss_fn=_weighted_abs,
              inverse_link_fn=tf.exp,
              name='r',
          ),
          tf.estimator.RegressionHead,
          dict(
              _weight_column='w',
              _logits_dimension=3,
              _loss_fn=_weighted_abs,
              _inverse_link_fn=tf.exp,
              _name='r',
          ),
      ),
      (
          'binary',
          lambda: head_lib._binary_logistic_head_with_sigmoid_cross_entropy_loss(
              weight_column='w',
              thresholds=[0.25, 0.5],
              label_vocabulary=('a', 'b'),
              loss_fn=_weighted_abs,
              name='b',
          ),
          tf.estimator.BinaryClassHead,
          dict(
              _weight_column='w',
              _thresholds=(0.25, 0.5),
              _label_vocabulary=('a', 'b'),
              _loss_fn=_weighted_abs,
              _name='b',
          ),
      ),
      (
          'multi_class',
          lambda: head_lib._multi_class_head_with_softmax_cross_entropy_loss(
              4,
              weight_column='w',
              label_vocabulary=['a', 'b', 'c', 'd'],
              loss_fn=_weighted_abs,
              name='m',
          ),
          tf.estimator.MultiClassHead,
          dict(
              _weight_column='w',
              _n_classes=4,
              _label_vocabulary=['a', 'b', 'c', 'd'],
              _loss_fn=_weighted_abs,
              _name='m',
          ),
      ),
  )
  def test_every_attribute_carried(self, make_head, v2_class, want):
    translation = heads.translate_head(make_head())
    self.assertIs(type(translation.head), v2_class)
    # v2 heads keep the same private attribute names as v1 heads.
    for attribute, value in want.items():
      self.assertEqual(getattr(translation.head, attribute), value, attribute)
    self.assertEqual(translation.head.loss_reduction, 'sum')
    self.assertIn("loss_reduction='sum'", translation.change.new)
    self.assertIn('loss_fn', translation.change.why)

  def test_table_covers_every_v1_head_class(self):
    v1_classes = {
        name
        for name, value in vars(head_lib).items()
        if isinstance(value, type)
        and issubclass(value, head_lib._Head)
        and value is not head_lib._Head
    }
    self.assertEqual(v1_classes, set(heads.HEADS))

  @parameterized.named_parameters(
      ('sum', _REDUCTION.SUM, 'sum'),
      (
          'sum_over_batch_size',
          _REDUCTION.SUM_OVER_BATCH_SIZE,
          'sum_over_batch_size',
      ),
      ('mean', _REDUCTION.MEAN, 'sum_over_batch_size'),
      (
          'sum_by_nonzero_weights',
          _REDUCTION.SUM_BY_NONZERO_WEIGHTS,
          'sum_over_batch_size',
      ),
  )
  def test_loss_reduction(self, v1, v2):
    translation = heads.translate_head(
        head_lib._regression_head(loss_reduction=v1)
    )
    self.assertEqual(translation.head.loss_reduction, v2)

  def test_default_sum_is_explained(self):
    change = heads.translate_head(head_lib._regression_head()).change
    self.assertIn('sum_over_batch_size divides', change.why)

  def test_mean_with_weights_has_no_v2_equivalent(self):
    with self.assertRaisesRegex(
        errors.TranslationError, 'head: .*weight_column'
    ):
      heads.translate_head(
          head_lib._regression_head(
              weight_column='w', loss_reduction=_REDUCTION.MEAN
          )
      )

  def test_none_reduction_is_refused(self):
    # The factories refuse NONE; the class itself does not check.
    head = head_lib._RegressionHeadWithMeanSquaredErrorLoss(
        1, loss_reduction=_REDUCTION.NONE
    )
    with self.assertRaisesRegex(
        errors.TranslationError, "'none'.*weighted_sum"
    ):
      heads.translate_head(head)

  def test_loss_fn_v2_cannot_call(self):
    # The class does not validate loss_fn (the factories do): a Keras loss
    # object takes y_true, y_pred.
    head = head_lib._RegressionHeadWithMeanSquaredErrorLoss(
        1, loss_fn=tf.keras.losses.MeanAbsoluteError(reduction='none')
    )
    with self.assertRaisesRegex(
        errors.TranslationError,
        r"loss_fn=MeanAbsoluteError takes \['y_true', 'y_pred'.*Rewrite",
    ):
      heads.translate_head(head)

  def test_subclass_is_refused(self):
    class PoissonHead(head_lib._RegressionHeadWithMeanSquaredErrorLoss):
      pass

    with self.assertRaisesRegex(
        errors.TranslationError, 'PoissonHead.*tf.estimator.RegressionHead'
    ):
      heads.translate_head(PoissonHead(1))

  def test_not_a_head_lists_the_translatable_ones(self):
    with self.assertRaisesRegex(
        errors.TranslationError, r'head=str.*_regression_head'
    ):
      heads.translate_head('regression')

  def test_v2_head_passes_through(self):
    head = tf.estimator.MultiClassHead(3)
    translation = heads.translate_head(head)
    self.assertIs(translation.head, head)
    self.assertIsNone(translation.change)


class CannedHookTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('dnn', 'DNNEstimator', lambda: _family_kwargs('DNNEstimator')),
      ('linear', 'LinearEstimator', lambda: _family_kwargs('LinearEstimator')),
      (
          'combined',
          'DNNLinearCombinedEstimator',
          lambda: dict(
              dnn_hidden_units=[2],
              dnn_feature_columns=_columns(),
              linear_feature_columns=_columns(),
          ),
      ),
      ('baseline', 'BaselineEstimator', dict),
  )
  def test_head_row_in_report(self, estimator, make_kwargs):
    head = head_lib._regression_head(label_dimension=2)
    translation = canned.translate_canned_args(
        estimator, head=head, **make_kwargs()
    )
    v2_head = translation.kwargs['head']
    self.assertIsInstance(v2_head, tf.estimator.RegressionHead)
    self.assertEqual(v2_head.logits_dimension, 2)
    change = translation.changes[0]
    self.assertEqual(
        (change.argument, change.old, change.new),
        (
            'head',
            "_regression_head(label_dimension=2, loss_reduction='weighted_sum')",
            "RegressionHead(label_dimension=2, loss_reduction='sum')",
        ),
    )
    self.assertIn(f'| {change.old} |', translation.table())
    self.assertIsInstance(
        canned.make_v2_estimator(estimator, head=head, **make_kwargs()),
        getattr(tf.estimator, estimator),
    )

  def test_v2_head_passes_through_untouched(self):
    head = tf.estimator.RegressionHead()
    translation = canned.translate_canned_args(
        'LinearEstimator', head=head, feature_columns=_columns()
    )
    self.assertIs(translation.kwargs['head'], head)
    self.assertNotIn('head', [c.argument for c in translation.changes])

  def test_missing_head(self):
    with self.assertRaisesRegex(errors.TranslationError, 'needs head='):
      canned.translate_canned_args('BaselineEstimator')


if __name__ == '__main__':
  absltest.main()
