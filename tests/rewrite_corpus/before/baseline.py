"""Baselines to beat."""

import tensorflow as tf


def baselines(model_dir):
  classifier = tf.compat.v1.estimator.BaselineClassifier(
      model_dir=model_dir + '/classifier',
      n_classes=3,
      optimizer=tf.compat.v1.train.GradientDescentOptimizer(0.1),
  )
  regressor = tf.compat.v1.estimator.BaselineRegressor(
      model_dir=model_dir + '/regressor'
  )
  return classifier, regressor
