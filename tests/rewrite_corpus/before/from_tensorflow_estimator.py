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
      linear_optimizer='Ftrl',  # v1 caps it at 1/sqrt(2 columns)
      dnn_feature_columns=[x],
      dnn_hidden_units=[4],
      dnn_optimizer='Adam',
      config=config,
      warm_start_from=warm_start_from,
  )


def linear(columns):
  return Regressor(columns, optimizer='SGD')
