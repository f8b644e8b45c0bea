"""Regressors imported from tensorflow.estimator, on string optimizers."""

import tensorflow as tf
from tensorflow.estimator import DNNLinearCombinedRegressor
from tensorflow.estimator import LinearRegressor as Regressor

VOCAB = ('a', 'b', 'c', 'd')


def build_estimator(model_dir, config=None, warm_start_from=None):
  x = tf.feature_column.numeric_column('x', shape=[3])
  cat = tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB)
  return DNNLinearCombinedRegressor(
      model_dir=model_dir,
      linear_feature_columns=[x, cat],
      linear_optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=0.005,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),  # v1 caps it at 1/sqrt(2 columns)
      dnn_feature_columns=[x],
      dnn_hidden_units=[4],
      dnn_optimizer=lambda: tf.keras.optimizers.legacy.Adam(
          learning_rate=0.001,
          beta_1=0.9,
          beta_2=0.999,
          epsilon=1e-08,
      ),
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )


def linear(columns):
  return Regressor(
      columns,
      optimizer=lambda: tf.keras.optimizers.legacy.SGD(learning_rate=0.2),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
