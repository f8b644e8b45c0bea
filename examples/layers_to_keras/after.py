r"""TF2 style: the same CNN as a tf.keras.Sequential.

Example:
  bazel run //examples/layers_to_keras:after
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf


def regularizer(x):
  return 0.004 * tf.reduce_mean(x**2)


def build(input_shape=(8, 8, 1)) -> tf.keras.Sequential:
  model = tf.keras.Sequential(
      [
          tf.keras.layers.Conv2D(
              32, 3, activation='relu', kernel_regularizer=regularizer
          ),
          tf.keras.layers.MaxPooling2D((2, 2), 1),
          tf.keras.layers.Flatten(),
          tf.keras.layers.Dropout(0.1),
          tf.keras.layers.Dense(64, activation='relu'),
          tf.keras.layers.BatchNormalization(),
          tf.keras.layers.Dense(10),
      ]
  )
  model.build((None, *input_shape))
  return model


def run(weights, images: np.ndarray, training: bool = False):
  """Same outputs as before.run: (logits, reg loss, trainable count, names)."""
  model = build(images.shape[1:])
  model.set_weights(weights)
  logits = model(images, training=training)
  return (
      logits.numpy(),
      float(tf.add_n(model.losses)),
      len(model.trainable_variables),
      [w.name for w in model.weights],
  )


def main(argv: Sequence[str]) -> None:
  del argv
  rng = np.random.RandomState(0)
  images = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
  model = build()
  logits, reg, count, names = run(model.get_weights(), images)
  print(f'{count} trainable variables: {names}')
  print(f'logits[0]={np.round(logits[0], 4).tolist()} reg_loss={reg:.6f}')


if __name__ == '__main__':
  app.run(main)
