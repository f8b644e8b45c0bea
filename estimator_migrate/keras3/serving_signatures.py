"""The estimator's serving signatures over an export's Keras 3 model.

Runs only in the modern environment and imports nothing of the package.
`write(model, serving, path)` writes a SavedModel whose signatures are the
ones spec.json's `serving` section records (estimator_migrate's
`export/signatures.py` reads them from the estimator on TF 2.15): the same
keys, method names (`tensorflow/serving/classify`, `.../regress`,
`.../predict`), input keys and dtypes, output keys, dtypes and shapes. A
parsing receiver's serialized tf.Examples are parsed with the recorded
parse spec (missing features get its defaults); variable-length features
become the model's dense inputs padded with a value the model drops
(SERVED_PAD for strings, whose explicit `''` becomes SERVED_EMPTY, looked up
as `''` as the estimator's sparse input looks it up; SERVED_INT_PAD for
int64s, whose explicit `-1` becomes SERVED_MINUS_ONE, looked up as `-1`).
`serving_raw` takes the model's own feature dict.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

try:
  from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting
except ImportError:  # a TensorFlow without SavedModel fingerprints
  fingerprinting = None

# estimator_migrate's export/signatures.py RAW and METHOD_NAMES.
RAW = 'serving_raw'
METHOD_NAMES = {
    'classify': 'tensorflow/serving/classify',
    'regress': 'tensorflow/serving/regress',
    'predict': 'tensorflow/serving/predict',
}
# The input of a Baseline model (canned_model.py's BATCH).
BATCH = 'batch_size_of'


# canned_model.py's SERVED_PAD and SERVED_EMPTY (tests hold them equal): a
# variable-length string feature's gaps, and its explicit ''.
SERVED_PAD = '\x00estimator_migrate:pad'
SERVED_EMPTY = '\x00estimator_migrate:empty'
# canned_model.py's SERVED_INT_PAD and SERVED_MINUS_ONE: a variable-length
# int64 feature's gaps, and its explicit -1.
SERVED_INT_PAD = -9223372036854775808
SERVED_MINUS_ONE = -9223372036854775807


# A sparse input's value that a dense input means "none" -> what is sent.
_EXPLICIT = {tf.string: ('', SERVED_EMPTY), tf.int64: (-1, SERVED_MINUS_ONE)}


def _padding(dtype):
  """What fills a variable-length feature's gaps: what the model drops."""
  if dtype == tf.string:
    return SERVED_PAD
  if dtype == tf.int64:
    return tf.constant(SERVED_INT_PAD, dtype)
  if dtype.is_integer:
    return tf.constant(-1, dtype)
  return tf.constant(0, dtype)


def parse_spec(receiver):
  """The receiver's parse spec, as `tf.io.parse_example` takes it."""
  out = {}
  for key, feature in receiver['parse'].items():
    dtype = tf.as_dtype(feature['dtype'])
    if feature['kind'] == 'var_len':
      out[key] = tf.io.VarLenFeature(dtype)
      continue
    shape = list(feature['shape'])
    default = feature.get('default')
    if default is not None:
      numpy_dtype = object if dtype == tf.string else dtype.as_numpy_dtype
      default = np.asarray(default, numpy_dtype).reshape(shape)
    out[key] = tf.io.FixedLenFeature(shape, dtype, default)
  return out


def receiver_features(receiver, tensors):
  """The features the receiver gives from its input tensors."""
  if receiver.get('parse') is not None:
    (serialized,) = tensors.values()
    return tf.io.parse_example(serialized, parse_spec(receiver))
  return {key: tensors[name] for key, name in receiver['features'].items()}


def model_inputs(model, features):
  """The Keras model's inputs from the receiver's features."""
  out = {}
  for key, spec in model.input.items():
    if key == BATCH:  # a Baseline model reads only the batch size
      first = next(iter(features.values()))
      if isinstance(first, tf.SparseTensor):
        batch = first.dense_shape[0]
      else:
        batch = tf.shape(first, out_type=tf.int64)[0]
      out[key] = tf.zeros(tf.stack([batch, 1]))
      continue
    value = features[key]
    if isinstance(value, tf.SparseTensor):
      explicit = _EXPLICIT.get(value.dtype)
      if explicit is not None:  # a value here, dropped from a dense input
        dropped, sent = (tf.constant(v, value.dtype) for v in explicit)
        value = tf.SparseTensor(
            value.indices,
            tf.where(tf.equal(value.values, dropped), sent, value.values),
            value.dense_shape,
        )
      value = tf.sparse.to_dense(value, _padding(value.dtype))
      if value.dtype == tf.string:
        # One SERVED_PAD column more, always: it marks the input as served
        # (canned_model.py's CrossedIds crosses it as sparse input).
        pad = tf.fill([tf.shape(value)[0], 1], SERVED_PAD)
        value = tf.concat([value, pad], axis=1)
    if value.shape.rank == 1 and len(spec.shape) == 2:
      value = value[:, None]
    dtype = tf.as_dtype(spec.dtype)
    if value.dtype != dtype and dtype != tf.string:
      value = tf.cast(value, dtype)
    out[key] = value
  return out


def _tensor_spec(name, entry):
  return tf.TensorSpec(entry['shape'], tf.as_dtype(entry['dtype']), name=name)


def _endpoint(model, receiver, signature):
  """The function of one signature: its inputs to its outputs."""
  inputs = signature['inputs']
  outputs = signature['outputs']

  def serve(tensors):
    by_receiver = {inputs[key]: value for key, value in tensors.items()}
    predictions = model(
        model_inputs(model, receiver_features(receiver, by_receiver)),
        training=False,
    )
    return {key: predictions[name] for key, name in outputs.items()}

  specs = {
      key: _tensor_spec(key, receiver['inputs'][name])
      for key, name in inputs.items()
  }
  return serve, [specs]


def _raw_endpoint(model):
  def serve(features):
    return model(model_inputs(model, features), training=False)

  specs = {
      key: tf.TensorSpec(spec.shape, spec.dtype, name=key)
      for key, spec in model.input.items()
  }
  return serve, [specs]


def _set_method_names(path, methods):
  """Writes each signature's method name into `path`'s saved_model.pb.

  `tf.saved_model.save` writes `tensorflow/serving/predict` for every
  signature; Serving's Classify and Regress APIs need theirs. The
  fingerprint (the checksum of saved_model.pb) is written again after.
  """
  pb = os.path.join(path, 'saved_model.pb')
  saved = saved_model_pb2.SavedModel()
  with open(pb, 'rb') as f:
    saved.ParseFromString(f.read())
  for graph in saved.meta_graphs:
    for key, method in methods.items():
      graph.signature_def[key].method_name = METHOD_NAMES[method]
  with open(pb, 'wb') as f:
    f.write(saved.SerializeToString(deterministic=True))
  if fingerprinting is None:  # no fingerprints in this TensorFlow
    return
  fingerprint = os.path.join(path, 'fingerprint.pb')
  if os.path.exists(fingerprint):
    data = fingerprinting.CreateFingerprintDef(path)
    with open(fingerprint, 'wb') as f:
      f.write(data)


def write(model, serving, path):
  """Writes the SavedModel of `model` serving `serving`'s signatures.

  Args:
    model: The export's Keras model (`load()`), taking a feature dict.
    serving: spec.json's `serving` section.
    path: A new directory.
  """
  archive = keras.export.ExportArchive()
  archive.track(model)
  methods = {}
  for key, signature in sorted(serving['signatures'].items()):
    function, specs = _endpoint(model, serving['receiver'], signature)
    archive.add_endpoint(key, function, input_signature=specs)
    methods[key] = signature['method']
  function, specs = _raw_endpoint(model)
  archive.add_endpoint(RAW, function, input_signature=specs)
  # Only these signatures: ExportArchive.write_out would add a
  # serving_default where the estimator has none (a raw receiver).
  archive._filter_and_track_resources()  # noqa: SLF001
  tf.saved_model.save(
      archive._tf_trackable,  # noqa: SLF001
      path,
      signatures={
          name: archive._get_concrete_fn(name)  # noqa: SLF001
          for name in [*methods, RAW]
      },
  )
  _set_method_names(path, methods)
