"""A DNN whose learning rate decays: the optimizer is built in the graph."""

import tensorflow.compat.v1 as tf


def build_estimator(model_dir, config=None, warm_start_from=None):
  return tf.estimator.DNNClassifier(
      hidden_units=[4],
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      n_classes=3,
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
      optimizer=lambda: tf.train.AdamOptimizer(
          learning_rate=tf.train.exponential_decay(
              learning_rate=0.05,
              global_step=tf.train.get_global_step(),
              decay_steps=2,
              decay_rate=0.5,
              staircase=True,
          )
      ),
  )


def build_stepped(columns):
  """Momentum on a stepped schedule: Keras SGD would not match v1 here."""
  return tf.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=columns,
      optimizer=lambda: tf.train.MomentumOptimizer(
          tf.train.piecewise_constant(
              tf.train.get_global_step(), [10, 20], [0.1, 0.01, 0.001]
          ),
          momentum=0.9,
      ),
  )
