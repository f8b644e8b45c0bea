"""The DNN: a classifier over three education groups, or a regressor."""

import tensorflow as tf

OCCUPATIONS = ['Tech-support', 'Sales', 'Exec-managerial', 'Craft-repair']


def feature_columns():
  occupation = tf.feature_column.categorical_column_with_vocabulary_list(
      'occupation', OCCUPATIONS
  )
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      tf.feature_column.indicator_column(occupation),
  ]


def make_estimator(model_dir, config, regression=False):
  if regression:
    estimator = tf.estimator.DNNRegressor(
        hidden_units=[10, 5],
        feature_columns=feature_columns(),
        model_dir=model_dir,
        config=config,
    )
  else:
    estimator = tf.estimator.DNNClassifier(
        hidden_units=[10, 5],
        feature_columns=feature_columns(),
        n_classes=3,
        optimizer=tf.train.AdagradOptimizer(learning_rate=0.05),
        dropout=None,
        model_dir=model_dir,
        config=config,
    )
  return estimator
