"""Census-style DNN classifier, as TF 1.x code wrote it."""

import tensorflow as tf

HIDDEN_UNITS = [8, 4]


def build_estimator(model_dir, config=None, warm_start_from=None):
  """The deep model, its input layer sharded over two parameter servers."""
  # estimator-migrate: input_layer_partitioner removed: v2 estimators
  # have no partitioner: partition variables with
  # tf.distribute.experimental.ParameterServerStrategy(variable_partitioner=...);
  # values are unchanged, and the checkpoint converter joins the parts.
  return tf.estimator.DNNClassifier(
      hidden_units=HIDDEN_UNITS,  # two layers
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      model_dir=model_dir,
      n_classes=3,
      # Adam with a larger epsilon, as the paper did.
      optimizer=lambda: tf.keras.optimizers.legacy.Adam(
          learning_rate=0.01,
          beta_1=0.9,
          beta_2=0.999,
          epsilon=1e-06,
      ),
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
