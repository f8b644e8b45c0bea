"""Linear click model written against tf.compat.v1."""

import tensorflow.compat.v1 as tf

VOCAB = ('a', 'b', 'c', 'd')


def feature_columns():
  return [
      tf.feature_column.numeric_column('x', shape=[3]),
      tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB),
  ]


def build_estimator(model_dir, config=None, warm_start_from=None):
  return tf.estimator.LinearClassifier(
      feature_columns=feature_columns(),
      n_classes=3,
      optimizer=tf.train.FtrlOptimizer(
          0.1,
          l1_regularization_strength=0.01,
          l2_regularization_strength=0.01,
      ),
      partitioner=tf.min_max_variable_partitioner(max_partitions=2),
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
  )
