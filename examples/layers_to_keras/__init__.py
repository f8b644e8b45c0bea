"""tf.compat.v1.layers -> tf.keras.Sequential."""
