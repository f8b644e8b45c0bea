"""A custom model_fn: two dense layers over the feature columns."""

import tensorflow as tf

from trainer import columns


def model_fn(features, labels, mode, params):
  net = tf.feature_column.input_layer(features, columns.all_columns())
  for units in params['hidden_units']:
    net = tf.layers.dense(net, units, activation=tf.nn.relu)
  predictions = tf.squeeze(tf.layers.dense(net, 1), axis=1)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'y': predictions})
  loss = tf.losses.mean_squared_error(labels, predictions)
  optimizer = tf.train.GradientDescentOptimizer(params['learning_rate'])
  train_op = optimizer.minimize(loss, global_step=tf.train.get_global_step())
  tf.summary.scalar('train_loss', loss)
  return tf.estimator.EstimatorSpec(
      mode,
      loss=loss,
      train_op=train_op,
      eval_metric_ops={
          'rmse': tf.metrics.root_mean_squared_error(labels, predictions)
      },
  )


def make_estimator(config):
  return tf.estimator.Estimator(
      model_fn=model_fn,
      config=config,
      params={'hidden_units': [8], 'learning_rate': 0.001},
  )
