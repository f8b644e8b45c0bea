"""A DNNEstimator with a multi-class head from tf.contrib."""

import tensorflow as tf

N_GROUPS = 3


def columns():
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      tf.feature_column.indicator_column(
          tf.feature_column.categorical_column_with_vocabulary_list(
              'education', ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
          )
      ),
  ]


def build(config):
  head = tf.contrib.estimator.multi_class_head(n_classes=N_GROUPS)
  return tf.estimator.DNNEstimator(
      head=head,
      hidden_units=[6],
      feature_columns=columns(),
      optimizer=tf.train.MomentumOptimizer(learning_rate=0.01, momentum=0.9),
      config=config,
  )
