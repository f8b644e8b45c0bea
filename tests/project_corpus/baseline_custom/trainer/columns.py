"""The feature columns both models read."""

import tensorflow as tf


def all_columns():
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      tf.feature_column.indicator_column(
          tf.feature_column.categorical_column_with_vocabulary_list(
              'education', ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
          )
      ),
  ]
