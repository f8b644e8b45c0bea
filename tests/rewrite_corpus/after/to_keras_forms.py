"""Canned estimators bound, returned and passed on, as training scripts do."""

import tensorflow as tf

VOCAB = ('a', 'b', 'c', 'd')
COLUMNS = [tf.feature_column.numeric_column('x', shape=[3])]

# A module-level estimator, as notebooks build them.
classifier = tf.estimator.DNNClassifier(
    hidden_units=[8, 4],
    feature_columns=COLUMNS,
    n_classes=3,
    optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(
        learning_rate=0.05,
        initial_accumulator_value=0.1,
        epsilon=1e-30,
    ),
    loss_reduction=tf.keras.losses.Reduction.SUM,
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
      dnn_optimizer=lambda: tf.keras.optimizers.legacy.Adam(
          learning_rate=0.01,
          beta_1=0.9,
          beta_2=0.999,
          epsilon=1e-08,
      ),
      config=config,
      warm_start_from=warm_start_from,
      linear_optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=0.005,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )


class Trainer:
  """Keeps its estimator on an attribute: no name for the exit (reported)."""

  def __init__(self, model_dir):
    self.regressor = tf.estimator.LinearRegressor(
        COLUMNS,
        model_dir=model_dir,
        optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
            learning_rate=0.2,
            learning_rate_power=-0.5,
            initial_accumulator_value=0.1,
            l1_regularization_strength=0.0,
            l2_regularization_strength=0.0,
            l2_shrinkage_regularization_strength=0.0,
            beta=0.0,
        ),
        loss_reduction=tf.keras.losses.Reduction.SUM,
    )
