"""Hyperparameters from flags; one optimizer Keras does not have."""

from absl import flags
import tensorflow as tf

FLAGS = flags.FLAGS


def build(columns):
  tuned = tf.estimator.LinearRegressor(
      feature_columns=columns,
      optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=FLAGS.learning_rate,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=FLAGS.l1,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE,
  )
  proximal = tf.compat.v1.estimator.LinearRegressor(
      feature_columns=columns,
      optimizer=tf.compat.v1.train.ProximalAdagradOptimizer(0.1),
  )
  return tuned, proximal
