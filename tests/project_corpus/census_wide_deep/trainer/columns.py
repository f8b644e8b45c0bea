"""Feature columns of the wide and the deep part."""

import tensorflow as tf

EDUCATION = ('Bachelors', 'HS-grad', 'Masters', 'Doctorate')
OCCUPATION = ('Tech-support', 'Sales', 'Exec-managerial', 'Craft-repair')


def base_columns():
  age = tf.feature_column.numeric_column('age')
  hours = tf.feature_column.numeric_column('hours_per_week')
  education = tf.feature_column.categorical_column_with_vocabulary_list(
      'education', EDUCATION
  )
  occupation = tf.feature_column.categorical_column_with_vocabulary_list(
      'occupation', OCCUPATION
  )
  return age, hours, education, occupation


def build_columns():
  """(wide columns, deep columns), as the census tutorial builds them."""
  age, hours, education, occupation = base_columns()
  wide = [education, occupation]
  deep = [
      age,
      hours,
      tf.feature_column.indicator_column(education),
      tf.feature_column.embedding_column(occupation, dimension=2),
  ]
  return wide, deep
