"""Feature columns of the linear model."""

import tensorflow as tf

EDUCATION = ['Bachelors', 'HS-grad', 'Masters', 'Doctorate']
OCCUPATION = ['Tech-support', 'Sales', 'Exec-managerial', 'Craft-repair']


def linear_feature_columns():
  education = tf.feature_column.categorical_column_with_vocabulary_list(
      'education', EDUCATION
  )
  occupation = tf.feature_column.categorical_column_with_vocabulary_list(
      'occupation', OCCUPATION
  )
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.numeric_column('hours_per_week'),
      education,
      occupation,
  ]


def dnn_feature_columns():
  return [
      tf.feature_column.numeric_column('age'),
      tf.feature_column.embedding_column(
          tf.feature_column.categorical_column_with_vocabulary_list(
              'occupation', OCCUPATION
          ),
          dimension=2,
      ),
  ]
