"""Chooses the estimator: wide (linear), deep (DNN) or wide & deep."""

import tensorflow as tf

from trainer import columns

HIDDEN_UNITS = [8, 4]


def build_estimator(model_dir, model_type, config):
  wide_columns, deep_columns = columns.build_columns()
  if model_type == 'wide':
    return tf.estimator.LinearClassifier(
        model_dir=model_dir, feature_columns=wide_columns, config=config
    )
  if model_type == 'deep':
    return tf.estimator.DNNClassifier(
        model_dir=model_dir,
        feature_columns=deep_columns,
        hidden_units=HIDDEN_UNITS,
        config=config,
    )
  return tf.estimator.DNNLinearCombinedClassifier(
      model_dir=model_dir,
      linear_feature_columns=wide_columns,
      dnn_feature_columns=deep_columns,
      dnn_hidden_units=HIDDEN_UNITS,
      config=config,
  )


def serving_input_fn():
  wide_columns, deep_columns = columns.build_columns()
  spec = tf.feature_column.make_parse_example_spec(wide_columns + deep_columns)
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)
