"""Builds the classifier named by --model."""

import tensorflow as tf

from trainer import features

N_CLASSES = 3


def create(name, model_dir, config):
  ftrl = tf.train.FtrlOptimizer(
      learning_rate=0.1,
      l1_regularization_strength=0.001,
      l2_regularization_strength=0.001,
  )
  if name == 'linear':
    return tf.estimator.LinearClassifier(
        feature_columns=features.linear_feature_columns(),
        n_classes=N_CLASSES,
        optimizer=ftrl,
        model_dir=model_dir,
        config=config,
    )
  elif name == 'combined':
    return tf.estimator.DNNLinearCombinedClassifier(
        linear_feature_columns=features.linear_feature_columns(),
        dnn_feature_columns=features.dnn_feature_columns(),
        dnn_hidden_units=[6],
        n_classes=N_CLASSES,
        model_dir=model_dir,
        config=config,
    )
  raise ValueError(f'unknown model: {name}')
