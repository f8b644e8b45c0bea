"""A Keras model trained through the Estimator API."""

import tensorflow.compat.v1 as tf


def build_estimator(model, model_dir):
  model.compile(tf.keras.optimizers.legacy.SGD(0.1), 'mse')
  return tf.keras.estimator.model_to_estimator(
      keras_model=model, model_dir=model_dir
  )
