"""A small Conv2D + BatchNorm + L2 model and fixed data for the Keras tests.

Weights come from Constant initializers, so every build, eager or inside an
Estimator's graph, starts from the same values.
"""

import numpy as np
import tensorflow as tf

BATCH = 16
STEPS = 20
LEARNING_RATE = 0.1

_RNG = np.random.RandomState(0)
IMAGES = _RNG.uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
LABELS = _RNG.randint(0, 10, (64, 1)).astype(np.int64)
_WEIGHTS = {
    'conv': _RNG.normal(0, 0.3, (3, 3, 1, 4)).astype(np.float32),
    'probs': _RNG.normal(0, 0.1, (144, 10)).astype(np.float32),
}
# Keras names of the layers with weights, in order (to_estimator's object
# checkpoints call them layer_with_weights-0, -1, -2).
WEIGHTED_LAYERS = ('conv', 'bn', 'probs')


def build(params=None) -> tf.keras.Model:
  del params
  constant = tf.keras.initializers.Constant
  image = tf.keras.Input((8, 8, 1), name='image')
  x = tf.keras.layers.Conv2D(
      4, 3, kernel_initializer=constant(_WEIGHTS['conv']), name='conv'
  )(image)
  x = tf.keras.layers.BatchNormalization(name='bn')(x)
  x = tf.keras.layers.Flatten(name='flat')(x)
  x = tf.keras.layers.Dropout(0.0, name='drop')(x)
  probs = tf.keras.layers.Dense(
      10,
      activation='softmax',
      kernel_regularizer=tf.keras.regularizers.l2(0.01),
      kernel_initializer=constant(_WEIGHTS['probs']),
      name='probs',
  )(x)
  return tf.keras.Model(image, probs)


def compiled(model=None) -> tf.keras.Model:
  model = model or build()
  model.compile(
      tf.keras.optimizers.legacy.SGD(LEARNING_RATE),
      'sparse_categorical_crossentropy',
      ['accuracy'],
  )
  return model


def train_input_fn():
  return (
      tf.data.Dataset.from_tensor_slices(({'image': IMAGES}, LABELS))
      .batch(BATCH)
      .repeat()
  )


def eval_input_fn():
  return tf.data.Dataset.from_tensor_slices(({'image': IMAGES}, LABELS)).batch(
      BATCH
  )
