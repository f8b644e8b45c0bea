"""Feature columns."""

import tensorflow as tf


def columns():
  education = tf.feature_column.categorical_column_with_vocabulary_list(
      'education', ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
  )
  occupation = tf.feature_column.categorical_column_with_vocabulary_list(
      'occupation', ['Tech-support', 'Sales', 'Exec-managerial', 'Craft-repair']
  )
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      tf.feature_column.indicator_column(education),
      tf.feature_column.embedding_column(occupation, dimension=3),
  ]


def linear_columns():
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      tf.feature_column.categorical_column_with_vocabulary_list(
          'education', ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
      ),
  ]
