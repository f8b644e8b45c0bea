"""Baselines to beat."""

import tensorflow as tf


def baselines(model_dir):
  classifier = tf.estimator.BaselineClassifier(
      model_dir=model_dir + '/classifier',
      n_classes=3,
      optimizer=lambda: tf.keras.optimizers.legacy.SGD(learning_rate=0.1),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  regressor = tf.estimator.BaselineRegressor(
      model_dir=model_dir + '/regressor',
      optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=0.3,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  return classifier, regressor
