"""The estimators the trainer can build."""

import tensorflow as tf

from trainer import featurizer


def build_estimator(run_config, args):
  if args.estimator == 'linear':
    return tf.estimator.LinearRegressor(
        feature_columns=featurizer.linear_columns(),
        optimizer=tf.train.FtrlOptimizer(learning_rate=args.learning_rate),
        config=run_config,
    )
  hidden_units = [int(n) for n in args.hidden_units.split(',')]
  return tf.estimator.DNNRegressor(
      hidden_units=hidden_units,
      feature_columns=featurizer.columns(),
      optimizer=tf.train.AdamOptimizer(learning_rate=args.learning_rate),
      activation_fn=tf.nn.relu,
      config=run_config,
  )
