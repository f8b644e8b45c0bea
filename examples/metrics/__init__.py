"""tf.compat.v1.metrics -> tf.keras.metrics objects."""
