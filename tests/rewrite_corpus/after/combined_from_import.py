"""Wide and deep, the class imported by name."""

import tensorflow as tf

VOCAB = ('a', 'b', 'c', 'd')


def build_estimator(model_dir, config=None, warm_start_from=None):
  wide = tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB)
  return tf.estimator.DNNLinearCombinedClassifier(
      model_dir=model_dir,
      linear_feature_columns=[wide],
      dnn_feature_columns=[
          tf.feature_column.numeric_column('x', shape=[3]),
          tf.feature_column.embedding_column(wide, dimension=2),
      ],
      dnn_hidden_units=[4],
      dnn_optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(
          learning_rate=0.001,
          initial_accumulator_value=0.1,
          epsilon=1e-30,
      ),  # v1 gives it learning rate 0.001
      n_classes=3,
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
