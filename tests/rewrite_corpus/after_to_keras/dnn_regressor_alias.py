"""A regressor through a module alias, its optimizer built first."""

import functools

import tensorflow as tf

import estimator_migrate.export


def build_estimator(model_dir, config=None, warm_start_from=None):
  columns = [tf.feature_column.numeric_column('x', shape=[3])]
  optimizer = functools.partial(
      tf.keras.optimizers.legacy.SGD,
      learning_rate=0.05,
      momentum=0.9,
      nesterov=True,
  )
  estimator = tf.estimator.DNNRegressor(
      [4],
      columns,
      model_dir=model_dir,
      optimizer=optimizer,
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  # estimator-migrate: the Keras 3 exit: after training,
  # `estimator.to_keras().save(DIR)` writes this estimator as a Keras 3
  # model for TensorFlow 2.16+ (model.py, weights, optimizer state; see
  # docs/export.md). Nothing runs until it is called.
  estimator.to_keras = functools.partial(
      estimator_migrate.export.canned_to_keras,
      'DNNRegressor',
      model_dir=estimator.model_dir,
      hidden_units=[4],
      feature_columns=columns,
      optimizer=optimizer,
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  return estimator
