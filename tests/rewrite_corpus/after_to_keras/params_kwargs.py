"""Arguments from a config dict and an optimizer from the caller."""

import tensorflow as tf


def build_estimator(params, optimizer, columns):
  first = tf.compat.v1.estimator.DNNClassifier(
      feature_columns=columns, **params
  )
  second = tf.compat.v1.estimator.LinearRegressor(columns, optimizer=optimizer)
  return first, second
