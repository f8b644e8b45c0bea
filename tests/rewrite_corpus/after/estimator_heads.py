"""Estimators with explicit heads, one per family that takes them."""

import math

import tensorflow as tf


def build(columns, model_dir):
  dnn = tf.estimator.DNNEstimator(
      head=tf.estimator.MultiClassHead(n_classes=3),
      hidden_units=[8],
      feature_columns=columns,
      optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(
          learning_rate=0.1,
          initial_accumulator_value=0.5,
          epsilon=1e-30,
      ),
      model_dir=model_dir,
  )
  linear = tf.estimator.LinearEstimator(
      head=tf.estimator.RegressionHead(),
      feature_columns=columns,
      optimizer=lambda: tf.keras.optimizers.legacy.SGD(learning_rate=0.2),
  )
  combined = tf.estimator.DNNLinearCombinedEstimator(
      head=tf.estimator.BinaryClassHead(),
      linear_feature_columns=columns,
      dnn_feature_columns=columns,
      dnn_hidden_units=[8],
      dnn_optimizer=lambda: tf.keras.optimizers.legacy.Adadelta(
          learning_rate=1.0,
          rho=0.9,
          epsilon=1e-08,
      ),
      linear_optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=min(0.005, 1 / math.sqrt(len(columns))),
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
  )
  return dnn, linear, combined
