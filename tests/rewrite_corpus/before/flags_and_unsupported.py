"""Hyperparameters from flags; one optimizer Keras does not have."""

from absl import flags
import tensorflow as tf

FLAGS = flags.FLAGS


def build(columns):
  tuned = tf.compat.v1.estimator.LinearRegressor(
      feature_columns=columns,
      optimizer=tf.compat.v1.train.FtrlOptimizer(
          learning_rate=FLAGS.learning_rate,
          l1_regularization_strength=FLAGS.l1,
      ),
      loss_reduction=tf.compat.v1.losses.Reduction.MEAN,
  )
  proximal = tf.compat.v1.estimator.LinearRegressor(
      feature_columns=columns,
      optimizer=tf.compat.v1.train.ProximalAdagradOptimizer(0.1),
  )
  return tuned, proximal
