"""Session training loop -> tf.GradientTape with a Keras optimizer."""
