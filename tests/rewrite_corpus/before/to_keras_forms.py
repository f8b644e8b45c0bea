"""Canned estimators bound, returned and passed on, as training scripts do."""

import tensorflow as tf

VOCAB = ('a', 'b', 'c', 'd')
COLUMNS = [tf.feature_column.numeric_column('x', shape=[3])]

# A module-level estimator, as notebooks build them.
classifier = tf.estimator.DNNClassifier(
    hidden_units=[8, 4],
    feature_columns=COLUMNS,
    n_classes=3,
    optimizer='Adagrad',
)


def build_estimator(model_dir, config=None, warm_start_from=None):
  cat = tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB)
  dense = COLUMNS + [tf.feature_column.embedding_column(cat, 2)]
  return tf.estimator.DNNLinearCombinedClassifier(
      model_dir=model_dir,
      linear_feature_columns=[cat],
      dnn_feature_columns=dense,
      dnn_hidden_units=[4],
      n_classes=3,
      dnn_optimizer=tf.train.AdamOptimizer(0.01),
      config=config,
      warm_start_from=warm_start_from,
  )


class Trainer:
  """Keeps its estimator on an attribute: no name for the exit (reported)."""

  def __init__(self, model_dir):
    self.regressor = tf.estimator.LinearRegressor(COLUMNS, model_dir=model_dir)
