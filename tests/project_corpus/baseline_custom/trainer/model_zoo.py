"""Canned models."""

import tensorflow as tf


def baseline(config):
  """Predicts the mean label: what any model must beat."""
  return tf.estimator.BaselineRegressor(
      optimizer=tf.train.GradientDescentOptimizer(learning_rate=0.05),
      config=config,
  )
