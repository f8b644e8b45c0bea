"""TF 1.x custom `model_fn`s the model_fn exporter is proven on, with data.

Each model_fn is written as TF 1.x users wrote them (the custom-estimator
tutorial, the layers guide's CNN, the demo's project): `tf.compat.v1.layers`,
`tf.compat.v1.feature_column`, `tf.nn` ops, `tf.compat.v1.losses` (default
reduction) and a v1 optimizer's `minimize` with the global step. Every
variable lives under a named variable scope or a layer `name=`.

`CASES` are the models to export: each with its params, a learnable train set
(seeded synthetic rows; real scans of the embedded digits for the two CNNs),
held-out rows (unseen strings, `''` and `-1` ids where the model has
categorical inputs) and the v1 optimizers it trains with. `REFUSALS` are
model_fns whose PREDICT path holds a construct an exporter must refuse: each
with one batch of features and the words the refusal must name (the op type
and the scope it is built under).

Training is deterministic: `estimator` fixes `tf_random_seed` (TF's own
initializers and dropout), `train` seeds Keras' generator (the initializers of
Keras-based layers), and `input_fn` reads rows in order, repeating them, so
every `train` call reads the batches `batches` returns (each call starts again
at row 0). `without_dropout` gives a case whose training two implementations
can follow step by step.

Example:
  case = CASES[0]
  trained = train(case, model_dir, steps=30)
  outputs = predict(case, model_dir, case.held_out)  # {key: [rows, ...]}
"""

from collections.abc import Callable, Iterator, Mapping
import contextlib
import dataclasses
import importlib
import random
from typing import Any
from unittest import mock

import numpy as np
import tensorflow as tf

from estimator_migrate.demo import tf1_project
from estimator_migrate.guide import uci_digits

SEED = 7
DEFAULT_BATCH_SIZE = 32

_ModeKeys = tf.estimator.ModeKeys
_fc = tf.compat.v1.feature_column
_layers = tf.compat.v1.layers
_losses = tf.compat.v1.losses
_train = tf.compat.v1.train

Features = dict[str, np.ndarray]
Labels = np.ndarray | dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Case:
  """One custom model_fn of the matrix and the data it trains on.

  Attributes:
    name: Test name.
    model_fn: `model_fn(features, labels, mode, params)` returning an
      `EstimatorSpec` (PREDICT: a dict of predictions; TRAIN: loss, train_op;
      EVAL: loss).
    params: The estimator's `params`.
    train_features: Feature arrays, every one with the same number of rows.
    train_labels: Label array(s) of those rows (a dict for several heads).
    held_out: Feature arrays of rows never trained on.
    batch_size: Rows per training batch.
    optimizers: Names of the v1 optimizer classes the TRAIN mode builds
      (`tf.compat.v1.train.<name>`).
  """

  name: str
  model_fn: Callable[..., tf.estimator.EstimatorSpec]
  params: Mapping[str, Any]
  train_features: Features
  train_labels: Labels
  held_out: Features
  batch_size: int
  optimizers: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Refusal:
  """A model_fn whose PREDICT path an exporter must refuse, not approximate.

  Attributes:
    name: Test name.
    model_fn: As `Case.model_fn`.
    params: The estimator's `params`.
    features: One batch of features.
    op_words: Words the refusal must contain: the type of the unsupported op
      in the PREDICT graph and the scope it is built under.
  """

  name: str
  model_fn: Callable[..., tf.estimator.EstimatorSpec]
  params: Mapping[str, Any]
  features: Features
  op_words: tuple[str, ...]


# -- Data --------------------------------------------------------------------


def _rng(name: str) -> np.random.Generator:
  return np.random.default_rng([SEED, *name.encode()])


def _floats(values) -> np.ndarray:
  return np.asarray(values, np.float32)


def _strings(values) -> np.ndarray:
  """A `[rows, 1]` object array of `str`, as pandas hands string columns."""
  return np.asarray(values, object).reshape(-1, 1)


def _ints(values) -> np.ndarray:
  return np.asarray(values, np.int64)


def _digit_scans(first: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
  """Real 8x8 digit scans (0..16) and labels of the embedded data set."""
  scans, labels = uci_digits.read_scans()
  return scans[first : first + rows], labels[first : first + rows]


# -- 1. The premade-estimator tutorial's custom MLP --------------------------

IRIS_COLUMNS = ('SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth')
# Per-species means of the four measurements (Fisher's), one spread for all.
_IRIS_MEANS = ((5.0, 3.4, 1.5, 0.2), (5.9, 2.8, 4.3, 1.3), (6.6, 3.0, 5.6, 2.0))
_IRIS_STDS = (0.35, 0.32, 0.4, 0.18)


def premade_mlp_model_fn(features, labels, mode, params):
  """DNN with two hidden layers, as the custom-estimator tutorial wrote it."""
  with tf.compat.v1.variable_scope('dnn'):
    net = _fc.input_layer(features, params['feature_columns'])
    for index, units in enumerate(params['hidden_units']):
      net = _layers.dense(
          net, units=units, activation=tf.nn.relu, name=f'hiddenlayer_{index}'
      )
    logits = _layers.dense(net, params['n_classes'], name='logits')

  predicted_classes = tf.argmax(logits, 1)
  if mode == _ModeKeys.PREDICT:
    predictions = {
        'class_ids': predicted_classes[:, tf.newaxis],
        'probabilities': tf.nn.softmax(logits),
        'logits': logits,
    }
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)

  loss = _losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  accuracy = tf.compat.v1.metrics.accuracy(
      labels=labels, predictions=predicted_classes, name='acc_op'
  )
  metrics = {'accuracy': accuracy}
  tf.compat.v1.summary.scalar('accuracy', accuracy[1])
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)

  optimizer = _train.AdagradOptimizer(learning_rate=0.1)
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _iris(rng: np.random.Generator, rows: int) -> tuple[Features, np.ndarray]:
  species = rng.integers(0, 3, rows)
  means = np.asarray(_IRIS_MEANS)[species]
  values = means + np.asarray(_IRIS_STDS) * rng.standard_normal((rows, 4))
  features = {
      name: _floats(values[:, i : i + 1]) for i, name in enumerate(IRIS_COLUMNS)
  }
  return features, _ints(species)  # [rows], as the tutorial's pandas Series


def _premade_mlp() -> Case:
  rng = _rng('premade_mlp')
  train_features, train_labels = _iris(rng, 120)
  held_out, _ = _iris(rng, 30)
  return Case(
      name='premade_mlp',
      model_fn=premade_mlp_model_fn,
      params={
          'feature_columns': [_fc.numeric_column(k) for k in IRIS_COLUMNS],
          'hidden_units': [10, 10],
          'n_classes': 3,
      },
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('AdagradOptimizer',),
  )


# -- 2. The layers guide's CNN ------------------------------------------------

DIGIT_SIDE = 8


def guide_cnn_model_fn(features, labels, mode, params):
  """The layers guide's MNIST CNN, on 8x8 digit scans."""
  input_layer = tf.reshape(features['x'], [-1, DIGIT_SIDE, DIGIT_SIDE, 1])
  conv1 = _layers.conv2d(
      inputs=input_layer,
      filters=8,
      kernel_size=[3, 3],
      padding='same',
      activation=tf.nn.relu,
      name='conv1',
  )
  pool1 = _layers.max_pooling2d(
      inputs=conv1, pool_size=[2, 2], strides=2, name='pool1'
  )
  conv2 = _layers.conv2d(
      inputs=pool1,
      filters=16,
      kernel_size=[3, 3],
      padding='same',
      activation=tf.nn.relu,
      name='conv2',
  )
  pool2 = _layers.average_pooling2d(
      inputs=conv2, pool_size=[2, 2], strides=2, name='pool2'
  )
  pool2_flat = _layers.flatten(pool2, name='flatten')
  dense = _layers.dense(
      inputs=pool2_flat, units=32, activation=tf.nn.relu, name='dense'
  )
  dropout = _layers.dropout(
      inputs=dense,
      rate=params['dropout'],
      training=mode == _ModeKeys.TRAIN,
      name='dropout',
  )
  logits = _layers.dense(inputs=dropout, units=10, name='logits')

  predictions = {
      'classes': tf.argmax(input=logits, axis=1),
      'probabilities': tf.nn.softmax(logits, name='softmax_tensor'),
  }
  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode=mode, predictions=predictions)

  loss = _losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
  if mode == _ModeKeys.TRAIN:
    optimizer = _train.AdamOptimizer(learning_rate=params['learning_rate'])
    train_op = optimizer.minimize(
        loss=loss, global_step=_train.get_global_step()
    )
    return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)

  eval_metric_ops = {
      'accuracy': tf.compat.v1.metrics.accuracy(
          labels=labels, predictions=predictions['classes']
      )
  }
  return tf.estimator.EstimatorSpec(
      mode=mode, loss=loss, eval_metric_ops=eval_metric_ops
  )


def _guide_cnn() -> Case:
  scans, digits = _digit_scans(0, 160)
  held_out, _ = _digit_scans(uci_digits.TRAIN_SIZE, 32)
  return Case(
      name='guide_cnn',
      model_fn=guide_cnn_model_fn,
      params={'dropout': 0.4, 'learning_rate': 0.01},
      train_features={'x': _floats(scans.reshape(-1, 64) / 16.0)},
      train_labels=_ints(digits)[:, np.newaxis],
      held_out={'x': _floats(held_out.reshape(-1, 64) / 16.0)},
      batch_size=32,
      optimizers=('AdamOptimizer',),
  )


# -- 3. BatchNorm and dropout, binary ----------------------------------------


def batchnorm_dropout_model_fn(features, labels, mode, params):
  """Dense -> BatchNorm -> relu -> dropout -> logit; sigmoid cross-entropy."""
  training = mode == _ModeKeys.TRAIN
  with tf.compat.v1.variable_scope('tower'):
    net = _layers.dense(features['x'], 16, use_bias=False, name='hidden')
    net = _layers.batch_normalization(
        net, momentum=0.9, training=training, name='batch_norm'
    )
    net = tf.nn.relu(net)
    net = _layers.dropout(net, rate=params['dropout'], training=training)
    logits = _layers.dense(net, 1, name='logits')
  logistic = tf.sigmoid(logits)

  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(
        mode, predictions={'logistic': logistic, 'logits': logits}
    )

  loss = _losses.sigmoid_cross_entropy(multi_class_labels=labels, logits=logits)
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  optimizer = _train.MomentumOptimizer(learning_rate=0.05, momentum=0.9)
  update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _binary(rng: np.random.Generator, rows: int) -> tuple[Features, np.ndarray]:
  # Unscaled inputs (mean 2, spread 3) give BatchNorm statistics to carry.
  x = 2.0 + 3.0 * rng.standard_normal((rows, 6))
  score = x[:, 0] - 0.5 * x[:, 1] + 0.8 * x[:, 2] * (x[:, 3] > 2.0) - 1.5
  return {'x': _floats(x)}, _floats(score > 0)[:, np.newaxis]


def _batchnorm_dropout() -> Case:
  rng = _rng('batchnorm_dropout')
  train_features, train_labels = _binary(rng, 128)
  held_out, _ = _binary(rng, 24)
  return Case(
      name='batchnorm_dropout',
      model_fn=batchnorm_dropout_model_fn,
      params={'dropout': 0.2},
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('MomentumOptimizer',),
  )


# -- 4. Embedding tables from get_variable -----------------------------------

ITEMS = 20  # rows of the item table; training sees ids below TRAINED_ITEMS
TRAINED_ITEMS = 16
TAGS = 10  # rows of the tag table
TAG_SLOTS = 3  # tags per row, padded with -1


def embedding_table_model_fn(features, labels, mode, params):
  """Hand-made tables: one id looked up, a padded id list averaged."""
  with tf.compat.v1.variable_scope('embeddings'):
    item_embeddings = tf.compat.v1.get_variable(
        'item_embeddings', [params['items'], params['item_dimension']]
    )
    tag_embeddings = tf.compat.v1.get_variable(
        'tag_embeddings',
        [params['tags'], params['tag_dimension']],
        initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.1),
    )
  item = tf.nn.embedding_lookup(item_embeddings, features['item'])
  item = tf.reshape(item, [-1, params['item_dimension']])

  # The tag list is padded with -1: keep the real ids as a SparseTensor.
  ids = features['tags']
  idx = tf.where(ids >= 0)
  sparse_ids = tf.SparseTensor(
      idx, tf.gather_nd(ids, idx), tf.shape(ids, out_type=tf.int64)
  )
  tags = tf.nn.safe_embedding_lookup_sparse(
      tag_embeddings, sparse_ids, combiner='mean'
  )

  net = tf.concat([item, tags, features['price']], axis=1)
  with tf.compat.v1.variable_scope('regressor'):
    net = _layers.dense(net, 16, activation=tf.nn.relu, name='hidden')
    output = _layers.dense(net, 1, name='output')

  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'predictions': output})

  loss = _losses.mean_squared_error(labels, output)
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  optimizer = _train.FtrlOptimizer(learning_rate=params['learning_rate'])
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _tag_lists(rng: np.random.Generator, rows: int) -> np.ndarray:
  """Up to TAG_SLOTS distinct tags a row, left-aligned, padded with -1."""
  tags = np.full((rows, TAG_SLOTS), -1, np.int64)
  for row, count in enumerate(rng.integers(0, TAG_SLOTS + 1, rows)):
    tags[row, :count] = rng.choice(TAGS, count, replace=False)
  return tags


def _embedding_rows(
    rng: np.random.Generator, rows: int, items: int
) -> tuple[Features, np.ndarray]:
  item_effect = np.linspace(-1.0, 1.0, ITEMS)
  tag_effect = np.linspace(1.0, -1.0, TAGS)
  item = rng.integers(0, items, (rows, 1))
  tags = _tag_lists(rng, rows)
  price = rng.uniform(0.0, 1.0, (rows, 1))
  real = tags >= 0
  tag_mean = np.where(real, tag_effect[np.maximum(tags, 0)], 0.0).sum(1) / (
      np.maximum(real.sum(1), 1)
  )
  value = item_effect[item[:, 0]] + tag_mean + 2.0 * price[:, 0]
  features = {'item': _ints(item), 'tags': tags, 'price': _floats(price)}
  return features, _floats(value + 0.05 * rng.standard_normal(rows))[:, None]


def _embedding_table() -> Case:
  rng = _rng('embedding_table')
  train_features, train_labels = _embedding_rows(rng, 128, TRAINED_ITEMS)
  held_out, _ = _embedding_rows(rng, 24, ITEMS)  # ids 16..19 never trained
  held_out['item'][:4, 0] = np.arange(TRAINED_ITEMS, ITEMS)
  held_out['tags'][:3] = -1  # rows without a tag: the zero vector
  return Case(
      name='embedding_table',
      model_fn=embedding_table_model_fn,
      params={
          'items': ITEMS,
          'item_dimension': 8,
          'tags': TAGS,
          'tag_dimension': 4,
          'learning_rate': 0.3,
      },
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('FtrlOptimizer',),
  )


# -- 5. Two heads over a shared tower -----------------------------------------

COLORS = ('red', 'green', 'blue')
SHAPES = ('circle', 'square', 'triangle')


def multi_task_model_fn(features, labels, mode, params):
  """A shared tower, a 3-class head and a regression head; summed losses."""
  with tf.compat.v1.variable_scope('shared'):
    net = _fc.input_layer(features, params['feature_columns'])
    net = _layers.dense(net, 16, activation=tf.nn.relu, name='hidden')
  with tf.compat.v1.variable_scope('kind_head'):
    logits = _layers.dense(net, params['kinds'], name='logits')
  with tf.compat.v1.variable_scope('value_head'):
    value = _layers.dense(net, 1, name='value')

  if mode == _ModeKeys.PREDICT:
    predictions = {
        'class_ids': tf.argmax(logits, axis=-1)[:, tf.newaxis],
        'probabilities': tf.nn.softmax(logits),
        'value': value,
    }
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)

  kind_loss = _losses.sparse_softmax_cross_entropy(labels['kind'], logits)
  value_loss = _losses.mean_squared_error(labels['value'], value)
  loss = kind_loss + value_loss
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  optimizer = _train.RMSPropOptimizer(learning_rate=0.01)
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _multi_task_rows(
    rng: np.random.Generator, rows: int
) -> tuple[Features, dict[str, np.ndarray]]:
  x = rng.standard_normal((rows, 3))
  color = rng.integers(0, len(COLORS), rows)
  shape = rng.integers(0, len(SHAPES), rows)
  kind = (shape + (x[:, 0] > 0.8)) % 3
  value = np.array([-1.0, 0.0, 1.0])[color] + x[:, 1] - 0.5 * x[:, 2]
  features = {
      'x': _floats(x),
      'color': _strings([COLORS[c] for c in color]),
      'shape': _strings([SHAPES[s] for s in shape]),
  }
  labels = {
      'kind': _ints(kind)[:, None],
      'value': _floats(value + 0.05 * rng.standard_normal(rows))[:, None],
  }
  return features, labels


def _multi_task() -> Case:
  rng = _rng('multi_task')
  train_features, train_labels = _multi_task_rows(rng, 128)
  held_out, _ = _multi_task_rows(rng, 24)
  held_out['color'][:3, 0] = ['purple', '', 'Red']  # unseen, empty, case
  held_out['shape'][2:5, 0] = ['hexagon', '', 'circle ']
  color = _fc.categorical_column_with_vocabulary_list('color', COLORS)
  shape = _fc.categorical_column_with_vocabulary_list(
      'shape', SHAPES, num_oov_buckets=1
  )
  return Case(
      name='multi_task',
      model_fn=multi_task_model_fn,
      params={
          'feature_columns': [
              _fc.numeric_column('x', shape=(3,)),
              _fc.embedding_column(color, dimension=2),
              _fc.indicator_column(shape),
          ],
          'kinds': 3,
      },
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('RMSPropOptimizer',),
  )


# -- 6. A hand-written wide & deep regressor -----------------------------------

EDUCATIONS = ('school', 'college', 'masters', 'doctorate')
OCCUPATIONS = ('clerk', 'farmer', 'nurse', 'pilot', 'teacher', 'welder')


def wide_deep_regressor_model_fn(features, labels, mode, params):
  """linear_model + a dense tower, summed; Ftrl and Adagrad, one global step."""
  with tf.compat.v1.variable_scope('linear') as linear_scope:
    wide = _fc.linear_model(features, params['wide_columns'])
  with tf.compat.v1.variable_scope('dnn') as dnn_scope:
    net = _fc.input_layer(features, params['deep_columns'])
    for index, units in enumerate(params['hidden_units']):
      net = _layers.dense(
          net, units, activation=tf.nn.relu, name=f'hiddenlayer_{index}'
      )
    deep = _layers.dense(net, 1, name='logits')
  predictions = wide + deep

  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(
        mode, predictions={'predictions': predictions}
    )

  loss = _losses.mean_squared_error(labels, predictions)
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  trainable = tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES
  linear_op = _train.FtrlOptimizer(learning_rate=0.1).minimize(
      loss,
      var_list=tf.compat.v1.get_collection(trainable, linear_scope.name),
  )
  dnn_op = _train.AdagradOptimizer(learning_rate=0.05).minimize(
      loss,
      var_list=tf.compat.v1.get_collection(trainable, dnn_scope.name),
  )
  train_op = tf.group(linear_op, dnn_op)
  global_step = _train.get_global_step()
  with tf.control_dependencies([train_op]):
    train_op = tf.compat.v1.assign_add(global_step, 1)
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _wide_deep_rows(
    rng: np.random.Generator, rows: int
) -> tuple[Features, np.ndarray]:
  age = rng.uniform(18.0, 70.0, rows)
  hours = rng.uniform(0.0, 1.0, rows)
  education = rng.integers(0, len(EDUCATIONS), rows)
  occupation = rng.integers(0, len(OCCUPATIONS), rows)
  value = (
      0.03 * (age - 40.0)
      + 0.4 * education
      + np.linspace(-1.0, 1.0, len(OCCUPATIONS))[occupation]
      + hours
      + 0.3 * (education == occupation % 4)
  )
  features = {
      'age': _floats(age)[:, None],
      'hours': _floats(hours)[:, None],
      'education': _strings([EDUCATIONS[e] for e in education]),
      'occupation': _strings([OCCUPATIONS[o] for o in occupation]),
  }
  return features, _floats(value + 0.05 * rng.standard_normal(rows))[:, None]


def _wide_deep_regressor() -> Case:
  rng = _rng('wide_deep_regressor')
  train_features, train_labels = _wide_deep_rows(rng, 128)
  held_out, _ = _wide_deep_rows(rng, 24)
  held_out['education'][:3, 0] = ['kindergarten', '', 'College']
  held_out['occupation'][2:5, 0] = ['astronaut', '', 'clerk']
  age = _fc.numeric_column('age')
  age_buckets = _fc.bucketized_column(age, [25.0, 35.0, 45.0, 55.0, 65.0])
  education = _fc.categorical_column_with_vocabulary_list(
      'education', EDUCATIONS
  )
  occupation = _fc.categorical_column_with_hash_bucket('occupation', 16)
  return Case(
      name='wide_deep_regressor',
      model_fn=wide_deep_regressor_model_fn,
      params={
          'wide_columns': [
              _fc.numeric_column('hours'),
              age_buckets,
              education,
              occupation,
              _fc.crossed_column(['education', 'occupation'], 32),
              _fc.crossed_column([age_buckets, 'education'], 24),
          ],
          'deep_columns': [
              _fc.numeric_column('hours'),
              _fc.embedding_column(occupation, dimension=4),
          ],
          'hidden_units': [8],
      },
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('FtrlOptimizer', 'AdagradOptimizer'),
  )


# -- 7. tf.keras layers inside a model_fn -------------------------------------

CHANNELS = ('web', 'store', 'phone')


def keras_layers_inside_model_fn(features, labels, mode, params):
  """Keras Dense and Dropout over input_layer; one-hot labels."""
  training = mode == _ModeKeys.TRAIN
  with tf.compat.v1.variable_scope('classifier'):
    net = _fc.input_layer(features, params['feature_columns'])
    net = tf.keras.layers.Dense(16, activation='relu', name='hidden')(net)
    net = tf.keras.layers.Dropout(params['dropout'], name='dropout')(
        net, training=training
    )
    logits = tf.keras.layers.Dense(params['n_classes'], name='logits')(net)

  if mode == _ModeKeys.PREDICT:
    predictions = {
        'class_ids': tf.argmax(logits, axis=1)[:, tf.newaxis],
        'probabilities': tf.nn.softmax(logits),
    }
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)

  loss = _losses.softmax_cross_entropy(onehot_labels=labels, logits=logits)
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  optimizer = _train.GradientDescentOptimizer(learning_rate=0.1)
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _keras_rows(
    rng: np.random.Generator, rows: int
) -> tuple[Features, np.ndarray]:
  a = rng.standard_normal((rows, 2))
  b = rng.uniform(0.0, 2.0, (rows, 1))
  channel = rng.integers(0, len(CHANNELS), rows)
  label = np.where(a[:, 0] + a[:, 1] > 0.5, 2, channel % 2)
  label = np.where(b[:, 0] > 1.7, 0, label)
  features = {
      'a': _floats(a),
      'b': _floats(b),
      'channel': _strings([CHANNELS[c] for c in channel]),
  }
  return features, np.eye(3, dtype=np.float32)[label]  # one-hot [rows, 3]


def _keras_layers_inside() -> Case:
  rng = _rng('keras_layers_inside')
  train_features, train_labels = _keras_rows(rng, 96)
  held_out, _ = _keras_rows(rng, 16)
  held_out['channel'][:2, 0] = ['fax', '']
  channel = _fc.categorical_column_with_vocabulary_list('channel', CHANNELS)
  return Case(
      name='keras_layers_inside',
      model_fn=keras_layers_inside_model_fn,
      params={
          'feature_columns': [
              _fc.numeric_column('a', shape=(2,)),
              _fc.numeric_column('b'),
              _fc.indicator_column(channel),
          ],
          'n_classes': 3,
          'dropout': 0.1,
      },
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('GradientDescentOptimizer',),
  )


# -- 8. A 1-D convolution over a sequence, gated branches ----------------------

STEPS = 12


def conv1d_sequence_model_fn(features, labels, mode, params):
  """conv1d and 1-D pooling over a sequence, joined with a numeric feature."""
  sequence = tf.reshape(features['sequence'], [-1, STEPS, 1])
  with tf.compat.v1.variable_scope('sequence'):
    net = _layers.conv1d(
        sequence, 8, 3, padding='same', activation=tf.nn.relu, name='conv'
    )
    net = _layers.max_pooling1d(net, 2, 2, name='max_pool')
    net = _layers.average_pooling1d(net, 2, 2, name='average_pool')
    net = _layers.flatten(net, name='flatten')
    net = _layers.dense(net, 16, activation=tf.nn.relu, name='project')
  net = tf.concat([net, features['scale']], axis=1)
  with tf.compat.v1.variable_scope('gate'):
    value = _layers.dense(net, 8, activation=tf.nn.tanh, name='value')
    gate = _layers.dense(net, 8, activation=tf.nn.sigmoid, name='gate')
  net = tf.add(tf.multiply(value, gate), value)
  with tf.compat.v1.variable_scope('head'):
    output = _layers.dense(net, 1, name='output')

  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'predictions': output})

  loss = _losses.huber_loss(labels, output, delta=1.0)
  if mode == _ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss)

  optimizer = _train.RMSPropOptimizer(learning_rate=0.005, momentum=0.9)
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _sequence_rows(
    rng: np.random.Generator, rows: int
) -> tuple[Features, np.ndarray]:
  t = np.arange(STEPS)
  frequency = rng.uniform(0.2, 1.0, (rows, 1))
  sequence = np.sin(frequency * t) + 0.1 * rng.standard_normal((rows, STEPS))
  scale = rng.uniform(0.5, 2.0, (rows, 2))
  value = 2.0 * frequency[:, 0] * scale[:, 0] - scale[:, 1]
  features = {'sequence': _floats(sequence), 'scale': _floats(scale)}
  return features, _floats(value)[:, None]


def _conv1d_sequence() -> Case:
  rng = _rng('conv1d_sequence')
  train_features, train_labels = _sequence_rows(rng, 128)
  held_out, _ = _sequence_rows(rng, 24)
  return Case(
      name='conv1d_sequence',
      model_fn=conv1d_sequence_model_fn,
      params={},
      train_features=train_features,
      train_labels=train_labels,
      held_out=held_out,
      batch_size=32,
      optimizers=('RMSPropOptimizer',),
  )


# -- 9. The demo's own custom model_fn -----------------------------------------


def _demo_images(first: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
  """The demo's input: scans in MNIST's 28x28x1 layout, float32 in [0, 1]."""
  scans, digits = _digit_scans(first, rows)
  images = np.stack([uci_digits.to_mnist_layout(s) for s in scans])
  return _floats(images / 255.0), _ints(digits)[:, np.newaxis]


def _demo_custom() -> Case:
  images, digits = _demo_images(0, 128)
  held_out, _ = _demo_images(uci_digits.TRAIN_SIZE, 32)
  return Case(
      name='demo_custom',
      model_fn=tf1_project.custom_model_fn,
      params={
          'num_classes': uci_digits.NUM_CLASSES,
          'learning_rate': tf1_project.LEARNING_RATE,
      },
      train_features={'image': images},
      train_labels=digits,
      held_out={'image': held_out},
      batch_size=32,
      optimizers=('AdamOptimizer',),
  )


CASES: tuple[Case, ...] = (
    _premade_mlp(),
    _guide_cnn(),
    _batchnorm_dropout(),
    _embedding_table(),
    _multi_task(),
    _wide_deep_regressor(),
    _keras_layers_inside(),
    _conv1d_sequence(),
    _demo_custom(),
)


# -- Refusals -----------------------------------------------------------------


def _regression_spec(mode, output, labels) -> tf.estimator.EstimatorSpec:
  """PREDICT `{'predictions': output}`; TRAIN/EVAL a mean squared error."""
  if mode == _ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions={'predictions': output})
  loss = _losses.mean_squared_error(labels, output)
  optimizer = _train.GradientDescentOptimizer(learning_rate=0.1)
  train_op = optimizer.minimize(loss, global_step=_train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def py_func_model_fn(features, labels, mode, params):
  """A numpy function on the input (`tf.compat.v1.py_func`)."""
  del params  # unused
  with tf.compat.v1.variable_scope('numpy_tower'):
    x = tf.compat.v1.py_func(np.tanh, [features['x']], tf.float32)
    x.set_shape(features['x'].shape)
    net = _layers.dense(x, 4, name='hidden')
    output = _layers.dense(net, 1, name='output')
  return _regression_spec(mode, output, labels)


def while_loop_model_fn(features, labels, mode, params):
  """A fixed-point iteration (`tf.while_loop`) on the hidden layer."""
  with tf.compat.v1.variable_scope('iterate'):
    net = _layers.dense(features['x'], 4, name='hidden')
    _, net = tf.while_loop(
        lambda i, h: i < params['iterations'],
        lambda i, h: (i + 1, 0.5 * h + tf.tanh(h)),
        [tf.constant(0), net],
    )
    output = _layers.dense(net, 1, name='output')
  return _regression_spec(mode, output, labels)


def lstm_model_fn(features, labels, mode, params):
  """An LSTM over the sequence (`dynamic_rnn`), its last output regressed."""
  sequence = tf.reshape(features['sequence'], [-1, params['steps'], 1])
  with tf.compat.v1.variable_scope('encoder'):
    cell = tf.compat.v1.nn.rnn_cell.LSTMCell(4, name='lstm')
    outputs, _ = tf.compat.v1.nn.dynamic_rnn(cell, sequence, dtype=tf.float32)
    output = _layers.dense(outputs[:, -1], 1, name='output')
  return _regression_spec(mode, output, labels)


def noise_model_fn(features, labels, mode, params):
  """Uniform noise added to the prediction (`tf.random.uniform`)."""
  with tf.compat.v1.variable_scope('jitter'):
    output = _layers.dense(features['x'], 1, name='output')
    output += tf.random.uniform(tf.shape(output), -params['noise'], 0.0)
  return _regression_spec(mode, output, labels)


def svd_model_fn(features, labels, mode, params):
  """Singular values of a 3x3 matrix feature (`tf.linalg.svd`)."""
  del params  # unused
  with tf.compat.v1.variable_scope('spectrum'):
    matrix = tf.reshape(features['x'], [-1, 3, 3])
    singular_values = tf.linalg.svd(matrix, compute_uv=False)
    output = _layers.dense(singular_values, 1, name='output')
  return _regression_spec(mode, output, labels)


def string_split_model_fn(features, labels, mode, params):
  """Word counts of a text feature (`tf.strings.split`)."""
  del params  # unused
  with tf.compat.v1.variable_scope('word_count'):
    words = tf.strings.split(tf.reshape(features['text'], [-1]))
    counts = tf.cast(words.row_lengths(), tf.float32)[:, tf.newaxis]
    output = _layers.dense(counts, 1, name='output')
  return _regression_spec(mode, output, labels)


def conv3d_model_fn(features, labels, mode, params):
  """A 3-D convolution over a 4x4x4 volume (`tf.compat.v1.layers.conv3d`)."""
  side = params['side']
  with tf.compat.v1.variable_scope('voxels'):
    volume = tf.reshape(features['volume'], [-1, side, side, side, 1])
    net = _layers.conv3d(volume, 2, 3, activation=tf.nn.relu, name='conv')
    net = _layers.flatten(net)
    output = _layers.dense(net, 1, name='output')
  return _regression_spec(mode, output, labels)


def _refusal_features() -> Features:
  rng = _rng('refusals')
  return {
      'x': _floats(rng.standard_normal((8, 9))),
      'sequence': _floats(rng.standard_normal((8, 5))),
      'text': _strings(['a b', 'c', '', 'd e f', 'g', 'h i', 'j', 'k l m n']),
      'volume': _floats(rng.standard_normal((8, 64))),
  }


def _refusal(
    name: str,
    model_fn: Callable[..., tf.estimator.EstimatorSpec],
    params: Mapping[str, Any],
    keys: list[str],
    op_words: tuple[str, ...],
) -> Refusal:
  features = _refusal_features()
  return Refusal(
      name, model_fn, params, {k: features[k] for k in keys}, op_words
  )


# Each op_words[0] is the op type on the path from the features to the
# predictions (while_loop and dynamic_rnn build TF 2's functional
# `StatelessWhile`; the RNN's path also holds TensorList ops around it).
REFUSALS: tuple[Refusal, ...] = (
    _refusal('py_func', py_func_model_fn, {}, ['x'], ('PyFunc', 'numpy_tower')),
    _refusal(
        'while_loop',
        while_loop_model_fn,
        {'iterations': 3},
        ['x'],
        ('StatelessWhile', 'iterate'),
    ),
    _refusal(
        'lstm',
        lstm_model_fn,
        {'steps': 5},
        ['sequence'],
        ('StatelessWhile', 'encoder'),
    ),
    _refusal(
        'random_noise',
        noise_model_fn,
        {'noise': 0.01},
        ['x'],
        ('RandomUniform', 'jitter'),
    ),
    _refusal('svd', svd_model_fn, {}, ['x'], ('Svd', 'spectrum')),
    _refusal(
        'string_split',
        string_split_model_fn,
        {},
        ['text'],
        ('StringSplitV2', 'word_count'),
    ),
    _refusal(
        'conv3d', conv3d_model_fn, {'side': 4}, ['volume'], ('Conv3D', 'voxels')
    ),
)


# -- Estimators ----------------------------------------------------------------


def input_fn(
    features: Features,
    labels: Labels | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shuffle: bool = False,
    repeat: bool = False,
) -> Callable[[], tf.data.Dataset]:
  """An Estimator input_fn over numpy arrays.

  Args:
    features: Feature arrays, all with the same number of rows.
    labels: Label array(s) of those rows; None for `predict`.
    batch_size: Rows per batch.
    shuffle: Shuffle the rows (seeded by `SEED`, reshuffled every epoch).
    repeat: Repeat the rows without end; batches then run across the end of
      the rows (rows are taken cyclically), so every batch is full.

  Returns:
    A no-argument function building the dataset in the caller's graph.
  """

  def make() -> tf.data.Dataset:
    data = features if labels is None else (features, labels)
    dataset = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
      rows = len(next(iter(features.values())))
      dataset = dataset.shuffle(rows, seed=SEED)
    if repeat:
      dataset = dataset.repeat()
    return dataset.batch(batch_size)

  return make


def estimator(case: Case, model_dir: str) -> tf.estimator.Estimator:
  """The case's Estimator: seeded, a checkpoint at the end of each train."""
  config = tf.estimator.RunConfig(
      model_dir=model_dir,
      tf_random_seed=SEED,
      save_summary_steps=None,
      log_step_count_steps=None,
  )
  return tf.estimator.Estimator(
      model_fn=case.model_fn, params=dict(case.params), config=config
  )


@contextlib.contextmanager
def _keras_seeds() -> Iterator[None]:
  """Seeds the initializers and dropout of Keras-based layers, then restores.

  `tf.compat.v1.layers` and `tf.keras.layers` draw a seed for each stateless
  initializer and dropout from Keras' seed generator (else from Python's
  `random`), not from the graph seed, so `tf_random_seed` alone leaves their
  initial weights to chance. The generator is thread-local, and the Estimator
  builds its graph in the calling thread.
  """
  seeds = importlib.import_module('keras.src.backend')._SEED_GENERATOR
  previous = getattr(seeds, 'generator', None)
  seeds.generator = random.Random(SEED)
  try:
    yield
  finally:
    seeds.generator = previous


def train(case: Case, model_dir: str, steps: int) -> tf.estimator.Estimator:
  """Trains (or continues training) on the `steps` batches of `batches`.

  Args:
    case: The case.
    model_dir: Its model directory; training continues from a checkpoint
      there, and writes one at the end.
    steps: Batches to train on.

  Returns:
    The trained Estimator.
  """
  trained = estimator(case, model_dir)
  with _keras_seeds():
    trained.train(
        input_fn(
            case.train_features,
            case.train_labels,
            batch_size=case.batch_size,
            repeat=True,
        ),
        steps=steps,
    )
  return trained


def predict(
    case: Case, model_dir: str, features: Features | None = None
) -> dict[str, np.ndarray]:
  """Every prediction key of the latest checkpoint, stacked over the rows.

  Args:
    case: The case.
    model_dir: Its trained model directory.
    features: Rows to predict (default: `case.held_out`).

  Returns:
    `{key: array}`, each array's first dimension the rows.
  """
  features = case.held_out if features is None else features
  outputs = estimator(case, model_dir).predict(
      input_fn(features, batch_size=case.batch_size),
      yield_single_examples=False,
  )
  batches = list(outputs)
  return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def evaluate_loss(
    case: Case,
    model_dir: str,
    features: Features | None = None,
    labels: Labels | None = None,
) -> float:
  """The EVAL mode's loss of the latest checkpoint (default: the train rows).

  Args:
    case: The case.
    model_dir: Its trained model directory.
    features: Rows to evaluate; None for `case.train_features`.
    labels: Their labels (ignored when `features` is None).

  Returns:
    The loss averaged over the batches (of `case.batch_size` rows).
  """
  if features is None:
    features, labels = case.train_features, case.train_labels
  metrics = estimator(case, model_dir).evaluate(
      input_fn(features, labels, batch_size=case.batch_size)
  )
  return float(metrics['loss'])


def _rows(data, index: np.ndarray):
  if isinstance(data, dict):
    return {k: v[index] for k, v in data.items()}
  return data[index]


def batches(case: Case, steps: int) -> list[tuple[Features, Labels]]:
  """The `(features, labels)` batches one `train(case, _, steps)` call reads.

  Every `train` call starts again at row 0 (the Estimator builds a new input
  pipeline), so training twice for `steps` reads this list twice.
  """
  rows = len(next(iter(case.train_features.values())))
  out = []
  for step in range(steps):
    index = np.arange(step * case.batch_size, (step + 1) * case.batch_size)
    index %= rows
    out.append(
        (_rows(case.train_features, index), _rows(case.train_labels, index))
    )
  return out


def _demo_model_fn_without_dropout(features, labels, mode, params):
  with mock.patch.object(tf1_project, 'DROPOUT', 0.0):
    return tf1_project.custom_model_fn(features, labels, mode, params)


def without_dropout(case: Case) -> Case:
  """The case with every dropout rate 0, its TRAIN mode free of randomness.

  Two trainings agree step by step only without dropout (each side draws its
  own masks). Cases read their rate from `params['dropout']`; the demo's
  model_fn reads the module constant `tf1_project.DROPOUT`, patched to 0
  while its graph is built. A rate of 0 builds no random op.

  Args:
    case: A case of `CASES`.

  Returns:
    The case unchanged if it has no dropout, else a copy without it.
  """
  if 'dropout' in case.params:
    return dataclasses.replace(case, params={**case.params, 'dropout': 0.0})
  if case.model_fn is tf1_project.custom_model_fn:
    return dataclasses.replace(case, model_fn=_demo_model_fn_without_dropout)
  return case


def refusal_case(refusal: Refusal) -> Case:
  """The refused model_fn as a trainable case (its batch, zero targets).

  Every refusal trains and predicts on TF 2.15, so a refusal can be tested
  against a real checkpoint.
  """
  rows = len(next(iter(refusal.features.values())))
  return Case(
      name=refusal.name,
      model_fn=refusal.model_fn,
      params=refusal.params,
      train_features=refusal.features,
      train_labels=np.zeros((rows, 1), np.float32),
      held_out=refusal.features,
      batch_size=rows,
      optimizers=('GradientDescentOptimizer',),
  )


def one_batch(case: Case) -> Features:
  """The first `batch_size` train rows (the exporter's `features=`)."""
  return {k: v[: case.batch_size] for k, v in case.train_features.items()}
