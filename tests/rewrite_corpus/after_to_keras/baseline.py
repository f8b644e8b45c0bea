"""Baselines to beat."""

import functools

import tensorflow as tf

import estimator_migrate.export


def baselines(model_dir):
  classifier = tf.estimator.BaselineClassifier(
      model_dir=model_dir + '/classifier',
      n_classes=3,
      optimizer=lambda: tf.keras.optimizers.legacy.SGD(learning_rate=0.1),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  # estimator-migrate: the Keras 3 exit: after training,
  # `classifier.to_keras().save(DIR)` writes this estimator as a Keras 3
  # model for TensorFlow 2.16+ (model.py, weights, optimizer state; see
  # docs/export.md). Nothing runs until it is called.
  classifier.to_keras = functools.partial(
      estimator_migrate.export.canned_to_keras,
      'BaselineClassifier',
      model_dir=classifier.model_dir,
      n_classes=3,
      optimizer=lambda: tf.keras.optimizers.legacy.SGD(learning_rate=0.1),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  regressor = tf.estimator.BaselineRegressor(
      model_dir=model_dir + '/regressor',
      optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=0.3,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  # estimator-migrate: the Keras 3 exit: after training,
  # `regressor.to_keras().save(DIR)` writes this estimator as a Keras 3
  # model for TensorFlow 2.16+ (model.py, weights, optimizer state; see
  # docs/export.md). Nothing runs until it is called.
  regressor.to_keras = functools.partial(
      estimator_migrate.export.canned_to_keras,
      'BaselineRegressor',
      model_dir=regressor.model_dir,
      optimizer=lambda: tf.keras.optimizers.legacy.Ftrl(
          learning_rate=0.3,
          learning_rate_power=-0.5,
          initial_accumulator_value=0.1,
          l1_regularization_strength=0.0,
          l2_regularization_strength=0.0,
          l2_shrinkage_regularization_strength=0.0,
          beta=0.0,
      ),
      loss_reduction=tf.keras.losses.Reduction.SUM,
  )
  return classifier, regressor
