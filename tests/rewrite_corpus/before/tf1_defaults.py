"""TF 1.x regressors on their default optimizers."""

import tensorflow as tf


def build_estimator(model_dir, config=None, warm_start_from=None):
  columns = [tf.feature_column.numeric_column('x', shape=[3])]
  return tf.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=columns,
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
  )
