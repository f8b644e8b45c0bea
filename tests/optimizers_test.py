"""Tests of the optimizer table and translate_optimizer."""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.tables import compat_optimizers
from estimator_migrate.tables import optimizers

_V1 = tf.compat.v1.train


class TableTest(absltest.TestCase):

  # Each row's classes, arguments, defaults and slots are checked, row by
  # row, in optimizer_signatures_test.py.

  def test_canned_strings_are_what_estimators_accept(self):
    from tensorflow_estimator.python.estimator.canned import (  # pylint: disable=g-import-not-at-top
        optimizers as estimator_optimizers,
    )

    self.assertEqual(
        set(optimizers.CANNED_STRINGS),
        set(estimator_optimizers._OPTIMIZER_CLS_NAMES),
    )


class PlanOptimizerTest(parameterized.TestCase):

  def test_adam_keeps_v1_epsilon(self):
    plan = optimizers.plan_optimizer(_V1.AdamOptimizer(0.01, beta1=0.8))
    self.assertEqual(plan.keras_class, 'Adam')
    self.assertEqual(
        dict(plan.config),
        dict(learning_rate=0.01, beta_1=0.8, beta_2=0.999, epsilon=1e-8),
    )
    self.assertEqual(plan.build().get_config()['epsilon'], 1e-8)

  def test_rmsprop_decay_becomes_rho_and_is_flagged_inexact(self):
    plan = optimizers.plan_optimizer(
        _V1.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, centered=True)
    )
    self.assertFalse(plan.exact)
    self.assertEqual(plan.config['rho'], 0.8)
    self.assertEqual(plan.config['epsilon'], 1e-10)
    exact = optimizers.plan_optimizer(
        _V1.RMSPropOptimizer(0.01, decay=0.8), exact=True
    )
    self.assertIsInstance(exact.build(), compat_optimizers.RMSPropV1)
    self.assertTrue(exact.exact)

  def test_ftrl_carries_every_hyperparameter(self):
    given = dict(
        learning_rate=0.1,
        learning_rate_power=-0.4,
        initial_accumulator_value=0.2,
        l1_regularization_strength=0.5,
        l2_regularization_strength=0.25,
        l2_shrinkage_regularization_strength=0.125,
        beta=0.3,
    )
    config = optimizers.translate_optimizer(
        _V1.FtrlOptimizer(**given)
    ).get_config()
    for key, value in given.items():
      self.assertAlmostEqual(config[key], value, msg=key)

  def test_momentum_maps_to_sgd_and_nesterov(self):
    keras = optimizers.translate_optimizer(
        _V1.MomentumOptimizer(0.1, 0.9, use_nesterov=True)
    )
    self.assertIsInstance(keras, tf.keras.optimizers.legacy.SGD)
    self.assertEqual(keras.get_config()['momentum'], 0.9)
    self.assertTrue(keras.get_config()['nesterov'])

  @parameterized.named_parameters(
      ('dnn', 'DNNClassifier', None, None, 0.05),
      ('linear', 'LinearRegressor', None, None, 0.2),
      ('baseline', 'BaselineClassifier', None, None, 0.3),
      (
          'combined_dnn',
          'DNNLinearCombinedClassifier',
          'dnn_optimizer',
          None,
          0.001,
      ),
      (
          'combined_linear',
          'DNNLinearCombinedClassifier',
          'linear_optimizer',
          4,
          0.005,
      ),
      (
          'combined_linear_capped',
          'DNNLinearCombinedClassifier',
          'linear_optimizer',
          160_000,
          0.0025,
      ),
  )
  def test_string_gets_the_v1_estimator_learning_rate(
      self, estimator, argument, n_columns, rate
  ):
    plan = optimizers.plan_optimizer(
        'Adagrad',
        estimator=estimator,
        argument=argument,
        feature_columns=range(n_columns) if n_columns else None,
    )
    self.assertAlmostEqual(plan.config['learning_rate'], rate)

  def test_eager_v1_decay_becomes_the_keras_schedule(self):
    decayed = tf.compat.v1.train.exponential_decay(
        0.1, tf.Variable(0, dtype=tf.int64), decay_steps=10, decay_rate=0.5
    )
    plan = optimizers.plan_optimizer(_V1.GradientDescentOptimizer(decayed))
    schedule = plan.config['learning_rate']
    self.assertIsInstance(
        schedule, tf.keras.optimizers.schedules.ExponentialDecay
    )
    self.assertAlmostEqual(float(schedule(20)), 0.025)

  def test_momentum_under_a_schedule_uses_the_exact_class(self):
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    plan = optimizers.plan_optimizer(
        _V1.MomentumOptimizer(0.1, 0.9), learning_rate=schedule
    )
    self.assertEqual(plan.keras_class, 'MomentumV1')


class PlanOptimizerErrorsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('proximal', lambda: _V1.ProximalAdagradOptimizer(0.1), 'no Keras'),
      (
          'adagrad_da',
          lambda: _V1.AdagradDAOptimizer(
              0.1, tf.compat.v1.train.get_or_create_global_step()
          ),
          'no Keras',
      ),
      ('unknown_name', lambda: 'Lamb', "'Lamb' is not a name"),
      ('string_without_rate', lambda: 'Adam', 'give learning_rate='),
      ('not_an_optimizer', lambda: 3, 'neither'),
      ('keras_already', lambda: tf.keras.optimizers.legacy.SGD(), 'already'),
  )
  def test_error_says_what_to_do(self, make, message):
    with tf.Graph().as_default():
      with self.assertRaisesRegex(errors.TranslationError, message):
        optimizers.plan_optimizer(make())

  def test_graph_tensor_learning_rate_asks_for_a_keras_schedule(self):
    with tf.Graph().as_default():
      decayed = tf.compat.v1.train.exponential_decay(
          0.1, tf.compat.v1.train.get_or_create_global_step(), 10, 0.5
      )
      with self.assertRaisesRegex(
          errors.TranslationError, 'schedules.ExponentialDecay'
      ):
        optimizers.plan_optimizer(_V1.AdamOptimizer(decayed))

  def test_subclass_is_refused(self):
    class MyAdam(_V1.AdamOptimizer):
      pass

    with self.assertRaisesRegex(errors.TranslationError, 'not a stock'):
      optimizers.plan_optimizer(MyAdam())

  def test_combined_linear_string_needs_columns(self):
    with self.assertRaisesRegex(errors.TranslationError, 'feature_columns='):
      optimizers.plan_optimizer(
          'Ftrl',
          estimator='DNNLinearCombinedRegressor',
          argument='linear_optimizer',
      )


if __name__ == '__main__':
  absltest.main()
