"""A regressor through a module alias, its optimizer built first."""

import functools

import tensorflow as tf


def build_estimator(model_dir, config=None, warm_start_from=None):
  columns = [tf.feature_column.numeric_column('x', shape=[3])]
  optimizer = functools.partial(
      tf.keras.optimizers.legacy.SGD,
      learning_rate=0.05,
      momentum=0.9,
      nesterov=True,
  )
  return tf.estimator.DNNRegressor(
      [4],
      columns,
      model_dir=model_dir,
      optimizer=optimizer,
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
