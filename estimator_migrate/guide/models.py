"""The migration guide's CNN, defined once for every example and test."""

import tensorflow as tf

from estimator_migrate.guide import uci_digits


def build_cnn(
    *,
    input_shape: tuple[int, ...] = uci_digits.IMAGE_SHAPE,
    num_classes: int = uci_digits.NUM_CLASSES,
    l2: float = 0.02,
    dropout_rate: float = 0.1,
    seed: int | None = None,
) -> tf.keras.Sequential:
  """Builds the guide's CNN: conv, pool, dropout, dense, batch norm, softmax.

  Args:
    input_shape: Image shape without the batch dimension.
    num_classes: Output classes; the last layer is a softmax over them.
    l2: L2 factor on the convolution kernel (the guide uses 0.02).
    dropout_rate: Dropout before the hidden dense layer; 0 makes training
      deterministic, which equivalence tests rely on.
    seed: Seeds the initialisers and dropout, so two builds are identical.

  Returns:
    An uncompiled `tf.keras.Sequential` with input name `image`.
  """

  def init(offset: int):
    return tf.keras.initializers.GlorotUniform(
        seed=None if seed is None else seed + offset
    )

  return tf.keras.Sequential(
      [
          tf.keras.layers.InputLayer(input_shape=input_shape, name='image'),
          tf.keras.layers.Conv2D(
              32,
              3,
              activation='relu',
              kernel_initializer=init(0),
              kernel_regularizer=tf.keras.regularizers.l2(l2),
          ),
          tf.keras.layers.MaxPooling2D(),
          tf.keras.layers.Flatten(),
          tf.keras.layers.Dropout(dropout_rate, seed=seed),
          tf.keras.layers.Dense(
              64, activation='relu', kernel_initializer=init(1)
          ),
          tf.keras.layers.BatchNormalization(),
          tf.keras.layers.Dense(
              num_classes, activation='softmax', kernel_initializer=init(2)
          ),
      ],
      name='cnn',
  )
