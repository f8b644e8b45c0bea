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
      optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(
          learning_rate=0.05,
          initial_accumulator_value=0.1,
          epsilon=1e-30,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
