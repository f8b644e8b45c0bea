"""Linear click model written against tf.compat.v1."""

import functools

import tensorflow as tf2
import tensorflow.compat.v1 as tf

import estimator_migrate.export

VOCAB = ('a', 'b', 'c', 'd')


def feature_columns():
  return [
      tf.feature_column.numeric_column('x', shape=[3]),
      tf.feature_column.categorical_column_with_vocabulary_list('cat', VOCAB),
  ]


def build_estimator(model_dir, config=None, warm_start_from=None):
  # estimator-migrate: partitioner removed: v2 estimators have no
  # partitioner: partition variables with
  # tf.distribute.experimental.ParameterServerStrategy(variable_partitioner=...);
  # values are unchanged, and the checkpoint converter joins the parts.
  estimator = tf2.estimator.LinearClassifier(
      feature_columns=feature_columns(),
      n_classes=3,
      optimizer=lambda: tf2.keras.optimizers.legacy.Ftrl(
          learning_rate=0.1,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.01,
          l2_regularization_strength=0.01,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      model_dir=model_dir,
      config=config,
      warm_start_from=warm_start_from,
      loss_reduction=tf2.keras.losses.Reduction.SUM,
  )
  # estimator-migrate: the Keras 3 exit: after training,
  # `estimator.to_keras().save(DIR)` writes this estimator as a Keras 3
  # model for TensorFlow 2.16+ (model.py, weights, optimizer state; see
  # docs/export.md). Nothing runs until it is called.
  estimator.to_keras = functools.partial(
      estimator_migrate.export.canned_to_keras,
      'LinearClassifier',
      model_dir=estimator.model_dir,
      feature_columns=feature_columns(),
      n_classes=3,
      optimizer=lambda: tf2.keras.optimizers.legacy.Ftrl(
          learning_rate=0.1,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.01,
          l2_regularization_strength=0.01,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf2.keras.losses.Reduction.SUM,
  )
  return estimator
