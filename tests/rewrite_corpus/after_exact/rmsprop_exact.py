"""RMSProp with momentum: Keras' RMSprop does not compute v1's update."""

import tensorflow as tf2
import tensorflow.compat.v1 as tf

import estimator_migrate.tables.compat_optimizers


def build_estimator(model_dir, config=None, warm_start_from=None):
  return tf2.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      optimizer=lambda: estimator_migrate.tables.compat_optimizers.RMSPropV1(
          learning_rate=0.01,
          rho=0.9,
          momentum=0.5,
          epsilon=1e-10,
          centered=False,
      ),
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf2.keras.losses.Reduction.SUM,
  )
