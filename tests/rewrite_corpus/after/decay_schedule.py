"""A DNN whose learning rate decays: the optimizer is built in the graph."""

import tensorflow as tf2
import tensorflow.compat.v1 as tf

import estimator_migrate.tables.compat_optimizers


def build_estimator(model_dir, config=None, warm_start_from=None):
  return tf2.estimator.DNNClassifier(
      hidden_units=[4],
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      n_classes=3,
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
      optimizer=lambda: tf2.keras.optimizers.legacy.Adam(
          learning_rate=tf2.keras.optimizers.schedules.ExponentialDecay(
              initial_learning_rate=0.05,
              decay_steps=2,
              decay_rate=0.5,
              staircase=True,
          ),
          beta_1=0.9,
          beta_2=0.999,
          epsilon=1e-08,
      ),
      loss_reduction=tf2.keras.losses.Reduction.SUM,
  )


def build_stepped(columns):
  """Momentum on a stepped schedule: Keras SGD would not match v1 here."""
  return tf2.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=columns,
      optimizer=lambda: estimator_migrate.tables.compat_optimizers.MomentumV1(
          learning_rate=tf2.keras.optimizers.schedules.PiecewiseConstantDecay(
              boundaries=[10, 20],
              values=[0.1, 0.01, 0.001],
          ),
          momentum=0.9,
          use_nesterov=False,
      ),
      loss_reduction=tf2.keras.losses.Reduction.SUM,
  )
