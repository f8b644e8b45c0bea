"""RMSProp with momentum: Keras' RMSprop does not compute v1's update."""

import tensorflow.compat.v1 as tf


def build_estimator(model_dir, config=None, warm_start_from=None):
  return tf.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      optimizer=tf.train.RMSPropOptimizer(0.01, momentum=0.5),
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
  )
