"""The TF1 project the demo migrates, written as a TF 1.x user wrote it.

Two models on the image data: a v1 canned DNNLinearCombinedClassifier with
tf.compat.v1.train optimizers (Adam on the DNN, Ftrl on the linear part) and
an input_layer_partitioner; and a custom model_fn estimator built from
tf.compat.v1.layers (the migration guide's CNN, with BatchNorm and an l2
regularizer), whose BatchNorm updates come from the UPDATE_OPS collection.
"""

import tensorflow as tf

CANNED = 'DNNLinearCombinedClassifier'
L2 = 0.004
DROPOUT = 0.1


def canned_kwargs(image_shape, num_classes: int) -> dict:
  """The v1 constructor arguments of the canned model."""
  image = [tf.feature_column.numeric_column('image', shape=image_shape)]
  return dict(
      linear_feature_columns=image,
      linear_optimizer=tf.compat.v1.train.FtrlOptimizer(
          0.01, l1_regularization_strength=0.001
      ),
      dnn_feature_columns=image,
      dnn_hidden_units=[64],
      dnn_optimizer=tf.compat.v1.train.AdamOptimizer(1e-3),
      n_classes=num_classes,
      input_layer_partitioner=tf.compat.v1.min_max_variable_partitioner(
          max_partitions=2, min_slice_size=64 << 10
      ),
  )


def regularizer(weights):
  return L2 * tf.reduce_sum(tf.square(weights))


def cnn(images, training: bool, num_classes: int):
  """The guide's CNN from tf.compat.v1.layers (logits)."""
  with tf.compat.v1.variable_scope('model', reuse=tf.compat.v1.AUTO_REUSE):
    x = tf.compat.v1.layers.conv2d(
        images, 32, 3, activation=tf.nn.relu, kernel_regularizer=regularizer
    )
    x = tf.compat.v1.layers.max_pooling2d(x, (2, 2), 2)
    x = tf.compat.v1.layers.flatten(x)
    x = tf.compat.v1.layers.dropout(x, DROPOUT, training=training)
    x = tf.compat.v1.layers.dense(x, 64, activation=tf.nn.relu)
    x = tf.compat.v1.layers.batch_normalization(x, training=training)
    return tf.compat.v1.layers.dense(x, num_classes)


def custom_model_fn(features, labels, mode, params):
  """A TF1 model_fn: global collections for losses and BatchNorm updates."""
  training = mode == tf.estimator.ModeKeys.TRAIN
  logits = cnn(features['image'], training, params['num_classes'])
  probabilities = tf.nn.softmax(logits)
  class_ids = tf.argmax(logits, axis=-1)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(
        mode,
        predictions={'probabilities': probabilities, 'class_ids': class_ids},
    )
  labels = tf.reshape(labels, [-1])
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  loss += tf.compat.v1.losses.get_regularization_loss()
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(
        mode,
        loss=loss,
        eval_metric_ops={
            'accuracy': tf.compat.v1.metrics.accuracy(labels, class_ids)
        },
    )
  optimizer = tf.compat.v1.train.AdamOptimizer(params['learning_rate'])
  update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    train_op = optimizer.minimize(
        loss, global_step=tf.compat.v1.train.get_or_create_global_step()
    )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
