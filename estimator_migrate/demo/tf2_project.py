"""The demo's custom model after migration: the same CNN as a Keras model.

Trained through `estimator_migrate.tf2.model_fn.make_model_fn`, which adds the
regularization losses and BatchNorm updates that the TF1 model_fn took from
the global collections.
"""

import tensorflow as tf

from estimator_migrate.demo import tf1_project


def build_cnn(image_shape, num_classes: int) -> tf.keras.Model:
  """The Keras twin of `tf1_project.cnn`, outputting probabilities."""
  image = tf.keras.Input(image_shape, name='image')
  x = tf.keras.layers.Conv2D(
      32, 3, activation='relu', kernel_regularizer=tf1_project.regularizer
  )(image)
  x = tf.keras.layers.MaxPooling2D((2, 2), 2)(x)
  x = tf.keras.layers.Flatten()(x)
  x = tf.keras.layers.Dropout(tf1_project.DROPOUT)(x)
  x = tf.keras.layers.Dense(64, activation='relu')(x)
  x = tf.keras.layers.BatchNormalization()(x)
  logits = tf.keras.layers.Dense(num_classes)(x)
  probabilities = tf.keras.layers.Softmax(name='probabilities')(logits)
  return tf.keras.Model(image, probabilities)
