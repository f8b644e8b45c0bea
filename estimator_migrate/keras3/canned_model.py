"""A canned estimator rebuilt as a Keras 3 model (TensorFlow backend).

Written by `estimator-migrate-export`. This file needs only `keras`, `numpy`,
`tensorflow` (the backend) and the standard library. It reads two files
next to it: `spec.json` (the feature columns, towers and head the estimator
was built with) and `weights.npz` (the checkpoint's tensors, stored under
their checkpoint names).

  import model
  m = model.load()
  predictions = m(model.select_features(m, features))
  predict = model.predict_function(m)  # the fastest way to predict
  predictions = predict(model.select_features(m, features))

`load()` first checks every file the export wrote against `integrity.json`
(sha256 digests, written last) and refuses a directory that differs. It
imports nothing but the modules imported below.

Feature columns become Keras preprocessing layers (`StringLookup`,
`IntegerLookup`, `Hashing`, `Discretization`). As feature columns do, ids
from `''` (strings) and `-1` (integers) are dropped: the layers below carry
them as id `-1`, which every consumer skips.
"""

import hashlib
import json
import os
import zipfile

import keras
import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = 'estimator_migrate'
# The input of a Baseline model, which reads no feature but the batch size
# (`select_features` fills it from any feature): estimator_migrate's
# `export/spec.py` BASELINE_INPUT, as are the layer names below its
# `layer_name`, `hidden_layer_scope`, `batch_norm_scope` and `logits_scope`
# (tests/export_spec_test.py holds them equal).
BATCH = 'batch_size_of'
INTEGRITY = 'integrity.json'
# The layout of the integrity record this file reads (estimator_migrate's
# `export/integrity.py` writes it, after every other file of the export).
INTEGRITY_FORMAT = 1
# Files every export has: a record that does not list them is refused.
INTEGRITY_REQUIRED = ('model.py', 'spec.json', 'weights.npz')
# The layout of spec.json this file reads: estimator_migrate's
# `export/spec.py` writes it (SCHEMA_VERSION there). A spec.json without
# `schema_version` was written by estimator_migrate 0.1, whose keys are
# version 1's. READABLE: the versions this file reads.
SCHEMA_VERSION = 3
READABLE = (1, 2, 3)
SPEC = 'spec.json'
WEIGHTS = 'weights.npz'
# What keras3/serving_signatures.py gives a served tf.Example's
# variable-length string feature (it holds the same values): gaps, and an
# explicit '' (which the model's dense input would otherwise drop).
SERVED_PAD = '\x00estimator_migrate:pad'
SERVED_EMPTY = '\x00estimator_migrate:empty'
# The same for a variable-length int64 feature: its gaps (the smallest
# int64), and an explicit -1 (the next one), which the estimator's sparse
# input looks up where a dense -1 is dropped.
SERVED_INT_PAD = -9223372036854775808
SERVED_MINUS_ONE = -9223372036854775807
# Bytes of weights.npz read at a time when a large variable is restored.
RESTORE_BLOCK_BYTES = 16 << 20
# spec.json's keys (SPEC_SECTIONS: those it may lack).
SPEC_KEYS = (
    'categorical',
    'compile_unavailable',
    'estimator',
    'head',
    'inputs',
    'loss_reduction',
    'optimizers',
    'weights',
)
SPEC_SECTIONS = ('baseline', 'dnn', 'linear', 'serving')


class IntegrityError(ValueError):
  """The exported directory is not what the export wrote."""


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def verify_integrity(directory):
  """Checks every file the export wrote against its `integrity.json`.

  `load()` calls this first, before it reads `spec.json` or imports
  anything `spec.json` names. Files added later (`__pycache__/`) are
  not checked.

  Raises:
    IntegrityError: The record is missing, unreadable or of another
      format, or a file it lists is missing or differs; the message names
      the file.
  """
  record_path = os.path.join(directory, INTEGRITY)
  redo = (
      'Export the model again with estimator-migrate-export; do not edit'
      ' the exported directory (copy model.py elsewhere to change it).'
  )
  try:
    with open(record_path, encoding='utf-8') as f:
      record = json.load(f)
  except FileNotFoundError:
    raise IntegrityError(
        f'{record_path} is missing: load() cannot tell whether the export'
        f' was changed or corrupted. {redo}'
    ) from None
  except (OSError, ValueError) as e:
    raise IntegrityError(
        f'{record_path} cannot be read ({e}). {redo}'
    ) from None
  files = record.get('files') if isinstance(record, dict) else None
  if (
      not isinstance(files, dict)
      or record.get('format') != INTEGRITY_FORMAT
      or record.get('algorithm') != 'sha256'
      or not set(INTEGRITY_REQUIRED) <= set(files)
  ):
    raise IntegrityError(
        f'{record_path} is not an integrity record of format'
        f' {INTEGRITY_FORMAT} listing {", ".join(INTEGRITY_REQUIRED)}.'
        f' {redo}'
    )
  for name, expected in sorted(files.items()):
    parts = name.split('/')
    if any(part in ('', '.', '..') for part in parts):
      raise IntegrityError(
          f'{record_path} lists {name!r}, not a file inside the export.'
          f' {redo}'
      )
    path = os.path.join(directory, *parts)
    try:
      actual = _sha256(path)
    except OSError as e:
      raise IntegrityError(
          f'{path} cannot be read ({e.strerror}): the export is incomplete.'
          f' {redo}'
      ) from None
    if actual != expected:
      raise IntegrityError(
          f'{path} differs from what the export wrote (sha256 {actual},'
          f' {INTEGRITY} records {expected}): it was changed or corrupted'
          f' after the export. {redo}'
      )


def _array_header(f):
  """The shape and dtype of the .npy member `f`, read up to its data."""
  major, _ = np.lib.format.read_magic(f)
  read = (
      np.lib.format.read_array_header_1_0
      if major == 1
      else np.lib.format.read_array_header_2_0
  )
  shape, fortran_order, dtype = read(f)
  if fortran_order:
    raise ValueError('weights.npz holds a Fortran-ordered array')
  return tuple(shape), dtype


def _restore(variable, archive, key):
  """Restores `variable` from `key` of weights.npz.

  An array larger than `RESTORE_BLOCK_BYTES` is read and written into the
  variable one block of rows at a time, in place (TensorFlow's strided
  slice assign): memory holds one block beside the variable, never the
  whole array. TensorFlow then copies a variable written in part on every
  dense read (copy-on-read, for concurrent sparse updates); nothing else
  writes it during the restore, so that is switched off again.
  """
  with archive.open(key + '.npy') as f:
    shape, dtype = _array_header(f)
    if shape != tuple(variable.shape):
      raise ValueError(
          f'{WEIGHTS} holds {key!r} of shape {shape}; the model needs'
          f' {tuple(variable.shape)}'
      )
    size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    target = getattr(variable, 'value', variable)
    if (
        not shape
        or size <= RESTORE_BLOCK_BYTES
        or not hasattr(target, 'handle')  # not TensorFlow's
    ):
      variable.assign(np.frombuffer(f.read(size), dtype).reshape(shape))
      return
    import tensorflow  # only a large variable needs it

    rest = [int(n) for n in shape[1:]]
    want = np.dtype(target.dtype.as_numpy_dtype)
    row = size // shape[0]
    step = max(1, RESTORE_BLOCK_BYTES // max(row, 1))
    for start in range(0, shape[0], step):
      stop = min(shape[0], start + step)
      block = np.frombuffer(f.read((stop - start) * row), dtype)
      tensorflow.raw_ops.ResourceStridedSliceAssign(
          ref=target.handle,
          begin=[start] + [0] * len(rest),
          end=[stop, *rest],
          strides=[1] * len(shape),
          value=block.reshape((stop - start, *rest)).astype(want, copy=False),
      )
    tensorflow.raw_ops.DisableCopyOnRead(resource=target.handle)


def _restore_optimizer(optimizer, variables, slots, archive):
  """Builds `optimizer` for `variables` and restores its slots.

  `slots`: the optimizer's attribute holding a kind of slot (such as
  `_accumulators`) -> [(model variable, weights.npz key)]. Slots are built
  at zeros and filled in place (`_restore`): Keras would build an
  accumulator from a constant (the value times ones: twice the slot's
  memory at once). A slot weights.npz does not hold gets the value Keras
  gives it.
  """
  pending = []
  add = optimizer.add_variable_from_reference

  def add_at_zeros(reference_variable, name=None, initializer='zeros'):
    slot = add(reference_variable, name=name, initializer='zeros')
    if initializer != 'zeros':
      pending.append((slot, initializer))
    return slot

  optimizer.add_variable_from_reference = add_at_zeros
  try:
    optimizer.build(variables)
  finally:
    del optimizer.add_variable_from_reference
  restored = set()
  for attribute, pairs in slots.items():
    for variable, key in pairs:
      index = optimizer._get_variable_index(variable)  # noqa: SLF001
      slot = getattr(optimizer, attribute)[index]
      _restore(slot, archive, key)
      restored.add(id(slot))
  for slot, initializer in pending:
    if id(slot) not in restored:
      slot.assign(keras.initializers.get(initializer)(slot.shape, slot.dtype))


def read_spec(directory):
  """The directory's `spec.json`, if of the layout this file reads.

  Raises:
    ValueError: Another `schema_version`, or none and keys other than
      version 1's (one line: export again with a matching
      estimator_migrate).
  """
  path = os.path.join(directory, SPEC)
  with open(path, encoding='utf-8') as f:
    spec = json.load(f)
  version = spec.get('schema_version')
  keys = set(spec) - {'schema_version'}
  known = {*SPEC_KEYS, *SPEC_SECTIONS}
  if version is None and set(SPEC_KEYS) <= keys <= known:
    version = 1  # written by estimator_migrate 0.1
  if version not in READABLE or isinstance(version, bool):
    shown = 'unknown' if version is None else version
    raise ValueError(
        f'{path} is of spec schema version {shown}; this model.py reads'
        f' versions {", ".join(map(str, READABLE))}: export the model again'
        ' with a matching estimator_migrate.'
    )
  return spec


@keras.saving.register_keras_serializable(package=PACKAGE)
class CategoricalIds(keras.layers.Layer):
  """One categorical feature column: raw values to ids, `-1` where dropped.

  Ids are the feature column's: vocabulary ids `0..V-1`, then out-of-vocab
  buckets `V..V+num_oov_buckets-1` (FarmHash, as `StaticVocabularyTable`),
  else `default_value`.
  """

  def __init__(self, column, **kwargs):
    super().__init__(**kwargs)
    self.column = column
    kind = column['kind']
    if kind == 'vocabulary':
      if column['input_dtype'] == 'string':
        self.lookup = keras.layers.StringLookup(
            vocabulary=column['vocabulary'], num_oov_indices=1
        )
      else:
        self.lookup = keras.layers.IntegerLookup(
            vocabulary=column['vocabulary'], num_oov_indices=1
        )
      buckets = max(column['num_oov_buckets'], 1)
      self.oov_hash = keras.layers.Hashing(num_bins=buckets)
    elif kind == 'hash':
      self.hash = keras.layers.Hashing(num_bins=column['num_buckets'])
    elif kind == 'bucketized':
      self.discretize = keras.layers.Discretization(
          bin_boundaries=column['boundaries']
      )

  def build(self, input_shape):
    # Every lookup, also one `call` may not reach (the out-of-vocabulary
    # hashing of a column without buckets): Keras 3 warns of unbuilt state.
    for name in ('lookup', 'oov_hash', 'hash', 'discretize'):
      layer = getattr(self, name, None)
      if layer is not None and not layer.built:
        layer.build(input_shape)
    self.built = True

  def call(self, values):
    column = self.column
    kind = column['kind']
    if kind == 'bucketized':
      buckets = tf.cast(self.discretize(values), tf.int64)
      width = len(column['boundaries']) + 1
      offsets = tf.range(tf.shape(buckets)[-1], dtype=tf.int64) * width
      return buckets + offsets
    if values.dtype == tf.string:
      # A served tf.Example's variable-length feature (saved_model/): its
      # gaps are SERVED_PAD, dropped; an explicit '' is SERVED_EMPTY,
      # looked up as '', as the estimator's sparse input looks it up.
      valid = tf.not_equal(values, '') & tf.not_equal(values, SERVED_PAD)
      values = tf.where(tf.equal(values, SERVED_EMPTY), '', values)
    else:
      # Served gaps are SERVED_INT_PAD, dropped; a served -1 is
      # SERVED_MINUS_ONE, looked up as -1.
      values = tf.cast(values, tf.int64)
      valid = tf.not_equal(values, -1) & tf.not_equal(values, SERVED_INT_PAD)
      values = tf.where(
          tf.equal(values, SERVED_MINUS_ONE), np.int64(-1), values
      )
    if kind == 'vocabulary':
      index = tf.cast(self.lookup(values), tf.int64)
      size = len(column['vocabulary'])
      if column['num_oov_buckets']:
        missing = size + tf.cast(self.oov_hash(values), tf.int64)
      else:
        missing = tf.fill(tf.shape(index), np.int64(column['default_value']))
      ids = tf.where(index > 0, index - 1, missing)
    elif kind == 'hash':
      ids = tf.cast(self.hash(values), tf.int64)
    else:  # identity
      in_range = (values >= 0) & (values < column['num_buckets'])
      default = column['default_value']
      default = -1 if default is None else default
      ids = tf.where(in_range, values, np.int64(default))
    return tf.where(valid, ids, np.int64(-1))

  def get_config(self):
    return {**super().get_config(), 'column': self.column}


def _ids_to_sparse(ids):
  """Ids as the SparseTensor a categorical column gives (no `-1`)."""
  indices = tf.where(tf.not_equal(ids, -1))
  return tf.SparseTensor(
      indices, tf.gather_nd(ids, indices), tf.shape(ids, tf.int64)
  )


def _served_strings(values):
  """A served variable-length string feature as the estimator has it.

  Sparse: its gaps (SERVED_PAD) left out, its explicit `''` (SERVED_EMPTY)
  `''` again.
  """
  kept = tf.where(tf.not_equal(values, SERVED_PAD))
  strings = tf.gather_nd(values, kept)
  strings = tf.where(tf.equal(strings, SERVED_EMPTY), '', strings)
  return tf.SparseTensor(kept, strings, tf.shape(values, out_type=tf.int64))


@keras.saving.register_keras_serializable(package=PACKAGE)
class CrossedIds(keras.layers.Layer):
  """`crossed_column`: every combination of the leaves' values, hashed.

  The same op as feature columns (`tf.sparse.cross_hashed`, FingerprintCat64
  with the column's hash_key) over the same inputs: a raw key's dense values
  as they are (feature columns keep `''` and `-1` there), a categorical
  leaf's ids without the dropped ones. Examples with fewer crosses are
  padded with `-1`.
  """

  def __init__(self, column, **kwargs):
    super().__init__(**kwargs)
    self.column = column

  def call(self, sources):
    dense, served, strings = [], [], []
    for source, values in zip(self.column['sources'], sources, strict=True):
      if 'raw' in source and values.dtype == tf.string:
        dense.append(values)
        served.append(_served_strings(values))
        strings.append(values)
        continue
      if 'raw' in source:  # a served int's markers: -1, as before
        value = tf.cast(values, tf.int64)
        value = tf.where(value <= SERVED_MINUS_ONE, np.int64(-1), value)
      else:
        value = _ids_to_sparse(values)
      dense.append(value)
      served.append(value)
    if not strings:
      return self._cross(dense)
    # The op crosses sparse inputs before dense ones, so the estimator's
    # dense input (an input_fn) and its sparse input (a served tf.Example,
    # whose strings always carry SERVED_PAD) hash differently: each is
    # crossed as the estimator crosses it.
    is_served = tf.reduce_any(
        [tf.reduce_any(tf.equal(v, SERVED_PAD)) for v in strings]
    )
    return tf.cond(
        is_served, lambda: self._cross(served), lambda: self._cross(dense)
    )

  def _cross(self, inputs):
    crossed = tf.sparse.cross_hashed(
        inputs,
        num_buckets=self.column['num_buckets'],
        hash_key=self.column['hash_key'],
    )
    return tf.sparse.to_dense(crossed, default_value=np.int64(-1))

  def get_config(self):
    return {**super().get_config(), 'column': self.column}


def _ids_and_weights(inputs, dtype):
  """Ids and per-id weights (`weighted_categorical_column`, else ones)."""
  if isinstance(inputs, (list, tuple)):
    ids, weights = inputs
    return ids, tf.cast(weights, dtype)
  return inputs, tf.ones_like(inputs, dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SparseCombiner(keras.layers.Layer):
  """`safe_embedding_lookup_sparse`: rows of ids combined (sum, mean, sqrtn).

  Serves embedding columns (`units` = dimension) and the linear model's
  categorical weights (`units` = logits dimension). Takes ids, or `[ids,
  weights]` for a weighted column. Ids `-1` and weights `<= 0` are skipped;
  an example with no id gets zeros. `mean` divides by the sum of the
  weights, `sqrtn` by the square root of the sum of their squares.
  `initializer` starts the table (load() restores it over zeros).
  """

  def __init__(
      self, num_buckets, units, combiner, initializer='glorot_uniform', **kwargs
  ):
    super().__init__(**kwargs)
    self.num_buckets = num_buckets
    self.units = units
    self.combiner = combiner
    self.initializer = initializer

  def build(self, input_shape):
    self.embeddings = self.add_weight(
        shape=(self.num_buckets, self.units),
        initializer=self.initializer,
        name='embeddings',
    )

  def call(self, inputs):
    ids, weights = _ids_and_weights(inputs, self.embeddings.dtype)
    keep = (ids >= 0) & (weights > 0)
    weights = tf.where(keep, weights, tf.zeros_like(weights))
    # Gathered from the variable itself (a sparse read): never a copy of
    # the whole table, however load() restored it.
    rows = tf.gather(self.embeddings.value, tf.maximum(ids, 0))
    total = tf.reduce_sum(rows * weights[..., None], axis=-2)
    if self.combiner == 'mean':
      count = tf.reduce_sum(weights, axis=-1, keepdims=True)
      return tf.math.divide_no_nan(total, count)
    if self.combiner == 'sqrtn':
      squares = tf.reduce_sum(tf.square(weights), axis=-1, keepdims=True)
      return tf.math.divide_no_nan(total, tf.sqrt(squares))
    return total

  def get_config(self):
    return {
        **super().get_config(),
        'num_buckets': self.num_buckets,
        'units': self.units,
        'combiner': self.combiner,
        'initializer': self.initializer,
    }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHot(keras.layers.Layer):
  """`indicator_column`: counts of each id (ids `-1` skipped).

  Given `[ids, weights]` (a weighted column), the sum of each id's weights.
  """

  def __init__(self, num_buckets, **kwargs):
    super().__init__(**kwargs)
    self.num_buckets = num_buckets

  def call(self, inputs):
    ids, weights = _ids_and_weights(inputs, 'float32')
    hot = tf.one_hot(ids, self.num_buckets) * weights[..., None]
    return tf.reduce_sum(hot, axis=-2)

  def get_config(self):
    return {**super().get_config(), 'num_buckets': self.num_buckets}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BaselineLogits(keras.layers.Layer):
  """A Baseline estimator: its bias for every example of the batch."""

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    self.bias = self.add_weight(
        shape=(self.units,), initializer='zeros', name='bias'
    )

  def call(self, batch):
    return self.bias * tf.ones((tf.shape(batch)[0], self.units))

  def get_config(self):
    return {**super().get_config(), 'units': self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BiasAdd(keras.layers.Layer):
  """The linear model's `bias_weights` added to the summed column logits."""

  def build(self, input_shape):
    self.bias = self.add_weight(
        shape=(input_shape[-1],), initializer='zeros', name='bias'
    )

  def call(self, logits):
    return logits + self.bias


@keras.saving.register_keras_serializable(package=PACKAGE)
class Predictions(keras.layers.Layer):
  """The estimator head's prediction keys, computed from the logits.

  Classifiers also give the string keys of `estimator.predict`: `classes`
  (the head's `label_vocabulary` entry of `class_ids`, else the id as a
  string; `[batch, 1]`), `all_classes` (every class name, `[batch,
  n_classes]`) and `all_class_ids` (`0..n_classes-1`, int32).
  """

  def __init__(self, head, **kwargs):
    super().__init__(**kwargs)
    self.head = head

  def call(self, logits):
    head = self.head
    if head['type'] == 'regression':
      return {'predictions': logits}
    if head['type'] == 'binary':
      logistic = tf.sigmoid(logits)
      scores = tf.concat([tf.zeros_like(logits), logits], axis=-1)
      out = {
          'logits': logits,
          'logistic': logistic,
          'probabilities': tf.nn.softmax(scores),
      }
    else:
      scores = logits
      out = {'logits': logits, 'probabilities': tf.nn.softmax(logits)}
    class_ids = tf.argmax(scores, axis=-1)[:, None]
    n_classes = head['n_classes']
    # The class names as constants (the vocabulary, or the ids as strings):
    # a gather per row, cheaper than formatting every id.
    vocabulary = head.get('label_vocabulary') or [
        str(i) for i in range(n_classes)
    ]
    names = tf.constant(list(vocabulary), tf.string)
    classes = tf.gather(names, class_ids)
    batch = tf.shape(logits)[0]
    out.update(
        class_ids=class_ids,
        classes=classes,
        all_class_ids=tf.tile(tf.range(n_classes)[None], [batch, 1]),
        all_classes=tf.tile(names[None], [batch, 1]),
    )
    return out

  def get_config(self):
    return {**super().get_config(), 'head': self.head}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Adagrad(keras.optimizers.Adagrad):
  """Adagrad as TF 2.15 computes it: lr * g / (sqrt(acc) + epsilon).

  Keras 3's Adagrad divides by sqrt(acc + epsilon); the estimator's Keras 2
  Adagrad (ResourceApplyAdagradV2) adds epsilon after the square root.
  """

  def update_step(self, gradient, variable, learning_rate):
    lr = keras.ops.cast(learning_rate, variable.dtype)
    gradient = keras.ops.cast(gradient, variable.dtype)
    accumulator = self._accumulators[self._get_variable_index(variable)]
    self.assign_add(accumulator, keras.ops.square(gradient))
    self.assign_sub(
        variable,
        lr * gradient / (keras.ops.sqrt(accumulator) + self.epsilon),
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class SGD(keras.optimizers.SGD):
  """SGD whose momentum touches only the rows an embedding gradient names.

  TF 2.15 applies momentum to sparse gradients lazily
  (ResourceSparseApplyKerasMomentum); Keras 3 would decay every row.
  """

  def update_step(self, gradient, variable, learning_rate):
    if not (isinstance(gradient, tf.IndexedSlices) and self.momentum):
      return super().update_step(gradient, variable, learning_rate)
    lr = tf.cast(learning_rate, variable.dtype)
    momentum = self.momentums[self._get_variable_index(variable)]
    rows = gradient.indices
    accumulated = (
        tf.gather(momentum, rows) * self.momentum - lr * gradient.values
    )
    self.assign(momentum, tf.IndexedSlices(accumulated, rows))
    step = accumulated
    if self.nesterov:
      step = accumulated * self.momentum - lr * gradient.values
    self.assign_add(variable, tf.IndexedSlices(step, rows))
    return None


@keras.saving.register_keras_serializable(package=PACKAGE)
class Ftrl(keras.optimizers.Ftrl):
  """Ftrl whose embedding rows are updated lazily, as TF 2.15's sparse kernel.

  Keras 3 recomputes every row of a table from its `linear` slot, which
  sets a row no batch has reached yet (linear 0) to zero.
  """

  def update_step(self, gradient, variable, learning_rate):
    if not isinstance(gradient, tf.IndexedSlices):
      return super().update_step(gradient, variable, learning_rate)
    rows = gradient.indices
    lr = tf.cast(learning_rate, variable.dtype)
    grad = tf.cast(gradient.values, variable.dtype)
    index = self._get_variable_index(variable)
    accumulators, linears = self._accumulators[index], self._linears[index]
    accum = tf.gather(accumulators, rows)
    value = tf.gather(variable, rows)
    power = self.learning_rate_power
    l1 = self.l1_regularization_strength
    l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
    shrunk = grad + 2 * self.l2_shrinkage_regularization_strength * value
    new_accum = accum + tf.square(grad)
    sigma = (tf.pow(new_accum, -power) - tf.pow(accum, -power)) / lr
    linear = tf.gather(linears, rows) + shrunk - sigma * value
    quadratic = tf.pow(new_accum, -power) / lr + 2 * l2
    self.assign(linears, tf.IndexedSlices(linear, rows))
    self.assign(
        variable,
        tf.IndexedSlices(
            (tf.clip_by_value(linear, -l1, l1) - linear) / quadratic, rows
        ),
    )
    self.assign(accumulators, tf.IndexedSlices(new_accum, rows))
    return None


@keras.saving.register_keras_serializable(package=PACKAGE)
class RMSprop(keras.optimizers.RMSprop):
  """RMSprop whose embedding rows are updated lazily, as v1's sparse kernel.

  For dense gradients Keras 3's rule is v1's RMSProp (lr g / sqrt(ms +
  eps), accumulated with momentum); v1 updates only the rows a sparse
  gradient names, where Keras 3 would decay every row.
  """

  def update_step(self, gradient, variable, learning_rate):
    if not isinstance(gradient, tf.IndexedSlices):
      return super().update_step(gradient, variable, learning_rate)
    rows, grad = gradient.indices, gradient.values
    lr = tf.cast(learning_rate, variable.dtype)
    index = self._get_variable_index(variable)
    velocities = self._velocities[index]
    mean_square = tf.gather(velocities, rows) * self.rho + (
        1 - self.rho
    ) * tf.square(grad)
    self.assign(velocities, tf.IndexedSlices(mean_square, rows))
    denominator = mean_square + self.epsilon
    if self.centered:
      averages = self._average_gradients[index]
      average = tf.gather(averages, rows) * self.rho + (1 - self.rho) * grad
      self.assign(averages, tf.IndexedSlices(average, rows))
      denominator -= tf.square(average)
    step = lr * grad / tf.sqrt(denominator)
    if self.momentum > 0:
      momentums = self._momentums[index]
      step = tf.gather(momentums, rows) * self.momentum + step
      self.assign(momentums, tf.IndexedSlices(step, rows))
    self.assign_sub(variable, tf.IndexedSlices(step, rows))
    return None


# Keras 3 class of each optimizer spec.json names (optimizer_state.KERAS3_V1).
OPTIMIZERS = {
    'Adam': keras.optimizers.Adam,
    'Adagrad': Adagrad,
    'Ftrl': Ftrl,
    'RMSprop': RMSprop,
    'SGD': SGD,
}


def _summed(gradient):
  """Sums an embedding gradient's repeated rows, as TF 2.15 optimizers do.

  Keras 3 applies elementwise ops to `IndexedSlices` values: with a row
  repeated, Adagrad would add the sum of the squares instead of the square
  of the sum.
  """
  if not isinstance(gradient, tf.IndexedSlices):
    return gradient
  rows, positions = tf.unique(gradient.indices)
  values = tf.math.unsorted_segment_sum(
      gradient.values, positions, tf.shape(rows)[0]
  )
  return tf.IndexedSlices(values, rows, gradient.dense_shape)


class EstimatorModel(keras.Model):
  """A functional model whose `fit` applies each optimizer to its variables.

  A DNNLinearCombined estimator trains its DNN and its linear part with two
  optimizers; `groups` pairs each optimizer with the variables it trains.
  `load(compile=True)` fills it; any other `compile` empties it, and `fit`
  is then Keras' own.
  """

  groups = ()

  def compile(self, *args, **kwargs):
    # Your own compile: Keras' train_step, your optimizer on every trainable
    # weight. `load(compile=True)` sets `groups` after compiling.
    self.groups = ()
    super().compile(*args, **kwargs)

  def train_step(self, data):
    if not self.groups:
      return super().train_step(data)
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
      y_pred = self(x, training=True)
      loss = self.compute_loss(
          x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
      )
    # What Keras' own train_step reports as `loss`: the per-replica loss
    # unscaled, weighted by the batch size.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    self._loss_tracker.update_state(
        loss * replicas,
        sample_weight=tf.shape(keras.tree.flatten(y_pred)[0])[0],
    )
    variables = [v for _, group in self.groups for v in group]
    gradients = [_summed(g) for g in tape.gradient(loss, variables)]
    start = 0
    for optimizer, group in self.groups:
      optimizer.apply_gradients(
          zip(gradients[start : start + len(group)], group, strict=True)
      )
      start += len(group)
    return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SquaredError(keras.losses.Loss):
  """Squared errors summed over the label dimension (loss_reduction sum).

  An estimator's regression head sums the loss over examples and label
  dimensions; `MeanSquaredError` would average the dimensions first.
  """

  def call(self, y_true, y_pred):
    y_true = keras.ops.cast(y_true, y_pred.dtype)
    return keras.ops.sum(keras.ops.square(y_pred - y_true), axis=-1)


def _layer_name(checkpoint_name):
  """The Keras layer named after a checkpoint scope (Keras forbids `/`)."""
  return checkpoint_name.replace('/', '.')


def _hidden_layer_scope(scope, index):
  """The checkpoint scope of a DNN's hidden layer `index`."""
  return f'{scope}/hiddenlayer_{index}'


def _batch_norm_scope(scope, index):
  """The checkpoint scope of the batch norm after hidden layer `index`."""
  return f'{scope}/hiddenlayer_{index}/batchnorm_{index}'


def _logits_scope(scope):
  """The checkpoint scope of a DNN's logits layer."""
  return f'{scope}/logits'


def _inputs(spec):
  return {
      key: keras.Input(shape=tuple(f['shape']), dtype=f['dtype'], name=key)
      for key, f in sorted(spec['inputs'].items())
  }


def _ids(spec, inputs):
  ids = {}
  for name, column in sorted(spec['categorical'].items()):
    if column['kind'] not in ('crossed', 'weighted'):
      layer = CategoricalIds(column, name=f'ids.{name}')
      ids[name] = layer(inputs[column['key']])
  for name, column in sorted(spec['categorical'].items()):
    if column['kind'] == 'crossed':
      sources = [
          inputs[s['raw']] if 'raw' in s else ids[s['ids']]
          for s in column['sources']
      ]
      ids[name] = CrossedIds(column, name=f'ids.{name}')(sources)
  for name, column in sorted(spec['categorical'].items()):
    if column['kind'] == 'weighted':
      ids[name] = [ids[column['ids']], inputs[column['weight_key']]]
  return ids


def _dense_input(column, inputs, ids, embeddings, initializer):
  """One column of the DNN's input layer, flattened to [batch, width].

  `embeddings` holds the embedding layers by weight name: shared embedding
  columns use one layer.
  """
  if column['type'] == 'numeric':
    return keras.layers.Flatten(name=f'flatten.{column["name"]}')(
        inputs[column['key']]
    )
  if column['type'] == 'embedding':
    weight = column['weight']
    if weight not in embeddings:
      embeddings[weight] = SparseCombiner(
          column['num_buckets'],
          column['dimension'],
          column['combiner'],
          initializer,
          name=_layer_name(weight),
      )
    return embeddings[weight](ids[column['categorical']])
  return MultiHot(column['num_buckets'], name=f'multi_hot.{column["name"]}')(
      ids[column['categorical']]
  )


def _input_layer(columns, inputs, ids, initializer):
  """`input_layer`: its columns sorted by name, each [batch, width], joined."""
  embeddings = {}
  parts = [
      _dense_input(c, inputs, ids, embeddings, initializer)
      for c in sorted(columns, key=lambda c: c['name'])
  ]
  return parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)


def _dnn_logits(spec, inputs, ids, initializer):
  dnn = spec['dnn']
  net = _input_layer(dnn['columns'], inputs, ids, initializer)
  for index, units in enumerate(dnn['hidden_units']):
    net = keras.layers.Dense(
        units,
        activation=dnn['activation'],
        name=_layer_name(_hidden_layer_scope(dnn['scope'], index)),
    )(net)
    if dnn['dropout']:
      net = keras.layers.Dropout(dnn['dropout'])(net)
    if dnn.get('batch_norm'):
      # As the estimator: after the activation and dropout, momentum 0.999.
      net = keras.layers.BatchNormalization(
          momentum=0.999,
          epsilon=0.001,
          name=_layer_name(_batch_norm_scope(dnn['scope'], index)),
      )(net)
  return keras.layers.Dense(
      spec['head']['logits_dimension'],
      name=_layer_name(_logits_scope(dnn['scope'])),
  )(net)


def _linear_model(linear, units, inputs, ids, initializer):
  """`linear_model`: each column's weights summed, then `bias_weights`."""
  parts = []
  for column in sorted(linear['columns'], key=lambda c: c['name']):
    name = _layer_name(column['weight'])
    if column['type'] == 'numeric':
      flat = keras.layers.Flatten(name=f'flatten.{name}')(inputs[column['key']])
      parts.append(keras.layers.Dense(units, use_bias=False, name=name)(flat))
    else:
      parts.append(
          SparseCombiner(
              column['num_buckets'],
              units,
              linear['sparse_combiner'],
              initializer,
              name=name,
          )(ids[column['categorical']])
      )
  total = parts[0] if len(parts) == 1 else keras.layers.Add()(parts)
  return BiasAdd(name=_layer_name(linear['bias']))(total)


def _linear_logits(spec, inputs, ids, initializer):
  units = spec['head']['logits_dimension']
  return _linear_model(spec['linear'], units, inputs, ids, initializer)


def build_model(spec, restoring=False):
  """The estimator's model with fresh weights: feature dict to predictions.

  `restoring=True` (load()) starts the tables of sparse columns at zeros,
  to be overwritten: a random initializer would take several times a
  large table's memory for values never used.
  """
  inputs = _inputs(spec)
  ids = _ids(spec, inputs)
  initializer = 'zeros' if restoring else 'glorot_uniform'

  logits = []
  if spec.get('baseline'):
    logits.append(
        BaselineLogits(
            spec['head']['logits_dimension'],
            name=_layer_name(spec['baseline']['scope']),
        )(inputs[BATCH])
    )
  if spec.get('dnn'):
    logits.append(_dnn_logits(spec, inputs, ids, initializer))
  if spec.get('linear'):
    logits.append(_linear_logits(spec, inputs, ids, initializer))
  total = logits[0] if len(logits) == 1 else keras.layers.Add()(logits)
  outputs = Predictions(spec['head'], name='predictions')(total)
  return EstimatorModel(inputs, outputs, name=spec['estimator'])


def _variables_by_name(model, spec):
  """Checkpoint name -> the Keras variable holding it."""
  out = {}
  for layer_name, names in spec['weights'].items():
    out.update(zip(names, model.get_layer(layer_name).weights, strict=True))
  return out


def _loss(spec):
  reduction = spec['loss_reduction']
  head = spec['head']['type']
  if head == 'regression':
    if reduction == 'sum':  # over every label dimension, as the head does
      return {'predictions': SquaredError(reduction=reduction)}
    return {'predictions': keras.losses.MeanSquaredError(reduction=reduction)}
  if head == 'binary':
    loss = keras.losses.BinaryCrossentropy(
        from_logits=True, reduction=reduction
    )
  else:
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=reduction
    )
  return {'logits': loss}


def _compile(model, spec, weights):
  """Compiles with the estimator's loss and optimizers, state restored."""
  if spec['compile_unavailable']:
    raise ValueError(
        'compile=True is not available for this export: '
        + spec['compile_unavailable']
        + '. Call load(compile=False) and compile the model yourself.'
    )
  variables = _variables_by_name(model, spec)
  groups = []
  for entry in spec['optimizers']:
    optimizer = OPTIMIZERS[entry['class']](**entry['config'])
    group = [variables[name] for name in entry['variables']]
    slots = {
        attribute: list(zip(group, keys, strict=True))
        for attribute, keys in entry['slots'].items()
    }
    _restore_optimizer(optimizer, group, slots, weights)
    optimizer.iterations.assign(entry['iterations'])
    groups.append((optimizer, group))
  # XLA cannot compile the string lookups; the first optimizer is Keras'
  # own, the others are applied by EstimatorModel.train_step.
  model.compile(optimizer=groups[0][0], loss=_loss(spec), jit_compile=False)
  model.groups = tuple(groups)  # after compile, which empties it


def select_features(model, features):
  """The features `model` reads, as tensors (Keras 3 models reject others).

  An estimator's feature dict may hold more keys (a weight column, features
  of other models); a Keras 3 functional model given extra keys misassigns
  them, so pass `select_features(model, features)`. A feature given as
  `[batch]` (as an input_fn of scalars yields it, which feature columns
  take) becomes `[batch, 1]` where the model's input has that rank.
  """
  out = {}
  for key, spec in model.input.items():
    if key == BATCH:  # a Baseline model reads only the batch size
      first = next(iter(features.values()))
      out[key] = tf.zeros((len(first), 1))
      continue
    value = tf.constant(features[key])
    if value.shape.rank == len(spec.shape) - 1:
      value = value[:, None]
    out[key] = value
  return out


def predict_function(model):
  """`model`'s predictions as one traced TensorFlow function, for serving.

  Takes what `select_features` returns (any batch size) and returns the
  prediction dict as tensors. Traced once, for the model's inputs with any
  batch size: a call runs the graph, with none of the per-call work of
  `model(...)` (eager) or `predict_on_batch` (Keras' data handling), as a
  SavedModel's signature serves.

    predict = model.predict_function(m)
    predictions = predict(model.select_features(m, features))
  """
  signature = {
      name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
      for name, tensor in model.input.items()
  }

  @tf.function(input_signature=[signature], jit_compile=False)
  def predict(features):
    return model(features, training=False)

  return predict.get_concrete_function()


def load(directory=None, compile=False):  # noqa: A002 (Keras' own name)
  """Builds the model and restores the estimator's trained weights.

  Args:
    directory: The exported directory (default: the one holding this file).
    compile: Also compile with the estimator's loss on `logits` (or
      `predictions` for regressors) and its optimizer(s), their slots,
      iterations and hyperparameters restored, so that `fit` continues
      where the estimator stopped. Labels: `{'logits': class ids}` (float
      0/1 for binary heads) or `{'predictions': values}`.

  Returns:
    A `keras.Model` taking the estimator's feature dict (each feature
    `[batch, ...]`) and returning the estimator's prediction keys. Compile
    it yourself (`compile(optimizer=..., loss={'logits': ...})`) and `fit`
    trains every trainable weight with your optimizer, as Keras does.

  Raises:
    IntegrityError: A file of `directory` is not what the export wrote.
  """
  directory = directory or HERE
  verify_integrity(directory)
  spec = read_spec(directory)
  model = build_model(spec, restoring=True)
  with zipfile.ZipFile(os.path.join(directory, WEIGHTS)) as weights:
    for name, variable in _variables_by_name(model, spec).items():
      _restore(variable, weights, name)
    if compile:  # optimizer slots are read only here
      _compile(model, spec, weights)
  return model
