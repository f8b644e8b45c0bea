r"""TF2 style: the variable becomes a custom Keras Layer (build/add_weight/call).

Example:
  bazel run //examples/custom_layer:after
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf

from examples.custom_layer import before

L2 = 0.02


class CustomLayer(tf.keras.layers.Layer):
  """Adds a learned offset: all of it in training, half of it in inference."""

  def build(self, input_shape):
    self.w = self.add_weight(
        'W',
        shape=input_shape[1:],
        dtype=tf.float32,
        initializer=tf.keras.initializers.ones(),
        regularizer=tf.keras.regularizers.l2(L2),
        trainable=True,
    )

  def call(self, inputs, training=None):
    if training:
      return inputs + self.w
    return inputs + self.w * 0.5


def build(input_shape) -> tf.keras.Sequential:
  model = tf.keras.Sequential(
      [
          CustomLayer(),
          tf.keras.layers.Conv2D(4, 3, activation='relu'),
          tf.keras.layers.MaxPooling2D((2, 2), 1),
          tf.keras.layers.Flatten(),
      ]
  )
  model.build((None, *input_shape))
  return model


def run(weights, images: np.ndarray, training: bool):
  """(outputs, regularization loss), as before.run."""
  model = build(images.shape[1:])
  model.set_weights(weights)
  out = model(images, training=training)
  return out.numpy(), float(tf.add_n(model.losses))


def main(argv: Sequence[str]) -> None:
  del argv
  weights, images = before.example_inputs()
  for training in (True, False):
    out, reg = run(weights, images, training)
    print(f'training={training}: sum={out.sum():.4f} reg_loss={reg:.4f}')


if __name__ == '__main__':
  app.run(main)
