"""A Keras model trained through the Estimator API."""

import tensorflow.compat.v1 as tf

import estimator_migrate.tf2.keras_estimator


def build_estimator(model, model_dir):
  model.compile(tf.keras.optimizers.legacy.SGD(0.1), 'mse')
  return estimator_migrate.tf2.keras_estimator.to_estimator(
      keras_model=model, model_dir=model_dir, checkpoint_format='saver'
  )
