"""Wide and deep, the class imported by name."""

import tensorflow as tf
from tensorflow.compat.v1.estimator import DNNLinearCombinedClassifier

VOCAB = ('a', 'b', 'c', 'd')


def build_estimator(model_dir, config=None, warm_start_from=None):
  wide = tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB)
  return DNNLinearCombinedClassifier(
      model_dir=model_dir,
      linear_feature_columns=[wide],
      dnn_feature_columns=[
          tf.feature_column.numeric_column('x', shape=[3]),
          tf.feature_column.embedding_column(wide, dimension=2),
      ],
      dnn_hidden_units=[4],
      dnn_optimizer='Adagrad',  # v1 gives it learning rate 0.001
      n_classes=3,
      config=config,
      warm_start_from=warm_start_from,
  )
