"""Mixed variables and layers -> a custom tf.keras.layers.Layer."""
