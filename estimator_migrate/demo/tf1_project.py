"""The TF1 project the demo migrates, written as a TF 1.x user wrote it.

Two models. On the penguins table, a v1 canned DNNLinearCombinedClassifier
with feature columns: the linear part takes the island and sex vocabularies
(with '' for a missing value), bucketized flipper length and the island x sex
cross; the DNN part an embedding of the island, an indicator of the sex and
the measurements, scaled in the input_fn; Adam on the DNN, Ftrl on the linear
part, an input_layer_partitioner. On the digit images, a custom model_fn
estimator built from tf.compat.v1.layers (the migration guide's CNN, with
BatchNorm and an l2 regularizer), whose BatchNorm updates come from the
UPDATE_OPS collection.
"""

import tensorflow as tf

CANNED = 'DNNLinearCombinedClassifier'
CANNED_DATASET = 'palmer_penguins'
LEARNING_RATE = 1e-3  # Adam's, in both models
FTRL_LEARNING_RATE = 0.01
FTRL_L1 = 0.001
L2 = 0.004
DROPOUT = 0.1
ISLANDS = ('Biscoe', 'Dream', 'Torgersen', '')  # '' where the table says NA
SEXES = ('female', 'male', '')
FLIPPER_BUCKETS_MM = [190.0, 200.0, 210.0, 220.0]
# Train-split mean and standard deviation of each measurement: missing values
# (NaN) become the mean, then every value is standardized.
MEASUREMENTS = {
    'bill_length_mm': (43.7, 5.4),
    'bill_depth_mm': (17.1, 2.0),
    'flipper_length_mm': (200.9, 13.9),
    'body_mass_g': (4200.5, 787.7),
}


def canned_features(features, label):
  """The input_fn's map: impute and scale the measurements.

  `flipper_length_mm` stays in millimetres (imputed) for its buckets; each
  measurement also comes standardized as `<name>_scaled` for the DNN.
  """
  features = dict(features)
  for name, (mean, std) in MEASUREMENTS.items():
    value = features[name]
    value = tf.where(
        tf.math.is_nan(value), tf.fill(tf.shape(value), mean), value
    )
    features[name] = value
    features[f'{name}_scaled'] = (value - mean) / std
  return features, label


def canned_optimizers(dnn_learning_rate: float = LEARNING_RATE) -> dict:
  """The canned model's v1 optimizers: Adam on the DNN, Ftrl on the linear."""
  return dict(
      dnn_optimizer=tf.compat.v1.train.AdamOptimizer(dnn_learning_rate),
      linear_optimizer=tf.compat.v1.train.FtrlOptimizer(
          FTRL_LEARNING_RATE, l1_regularization_strength=FTRL_L1
      ),
  )


def canned_kwargs(num_classes: int) -> dict:
  """The v1 constructor arguments of the canned model."""
  fc = tf.feature_column
  island = fc.categorical_column_with_vocabulary_list('island', ISLANDS)
  sex = fc.categorical_column_with_vocabulary_list('sex', SEXES)
  flipper = fc.bucketized_column(
      fc.numeric_column('flipper_length_mm'), FLIPPER_BUCKETS_MM
  )
  return dict(
      linear_feature_columns=[
          island,
          sex,
          flipper,
          fc.crossed_column([island, sex], hash_bucket_size=16),
      ],
      dnn_feature_columns=[
          fc.embedding_column(island, dimension=4),
          fc.indicator_column(sex),
          *(fc.numeric_column(f'{name}_scaled') for name in MEASUREMENTS),
      ],
      dnn_hidden_units=[16, 8],
      n_classes=num_classes,
      # The island embedding (4 x 4 floats) is split in two.
      input_layer_partitioner=tf.compat.v1.min_max_variable_partitioner(
          max_partitions=2, min_slice_size=32
      ),
      **canned_optimizers(),
  )


def regularizer(weights):
  return L2 * tf.reduce_sum(tf.square(weights))


def cnn(images, training: bool, num_classes: int, dropout: float = DROPOUT):
  """The guide's CNN from tf.compat.v1.layers (logits)."""
  with tf.compat.v1.variable_scope('model', reuse=tf.compat.v1.AUTO_REUSE):
    x = tf.compat.v1.layers.conv2d(
        images, 32, 3, activation=tf.nn.relu, kernel_regularizer=regularizer
    )
    x = tf.compat.v1.layers.max_pooling2d(x, (2, 2), 2)
    x = tf.compat.v1.layers.flatten(x)
    x = tf.compat.v1.layers.dropout(x, dropout, training=training)
    x = tf.compat.v1.layers.dense(x, 64, activation=tf.nn.relu)
    x = tf.compat.v1.layers.batch_normalization(x, training=training)
    return tf.compat.v1.layers.dense(x, num_classes)


def custom_model_fn(features, labels, mode, params):
  """A TF1 model_fn: global collections for losses and BatchNorm updates.

  params: `num_classes`, `learning_rate`, and `dropout` (default DROPOUT).
  """
  training = mode == tf.estimator.ModeKeys.TRAIN
  logits = cnn(
      features['image'],
      training,
      params['num_classes'],
      params.get('dropout', DROPOUT),
  )
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
