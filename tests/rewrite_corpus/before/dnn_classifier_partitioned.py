"""Census-style DNN classifier, as TF 1.x code wrote it."""

import tensorflow as tf

HIDDEN_UNITS = [8, 4]


def build_estimator(model_dir, config=None, warm_start_from=None):
  """The deep model, its input layer sharded over two parameter servers."""
  return tf.estimator.DNNClassifier(
      hidden_units=HIDDEN_UNITS,  # two layers
      feature_columns=[tf.feature_column.numeric_column('x', shape=[3])],
      model_dir=model_dir,
      n_classes=3,
      # Adam with a larger epsilon, as the paper did.
      optimizer=tf.train.AdamOptimizer(learning_rate=0.01, epsilon=1e-6),
      input_layer_partitioner=tf.fixed_size_partitioner(2),
      config=config,
      warm_start_from=warm_start_from,
  )
