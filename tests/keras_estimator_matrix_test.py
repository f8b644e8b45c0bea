"""model_to_estimator's own test matrix, run through to_estimator as well.

The scenarios are those of tensorflow_estimator's
`tensorflow_estimator/python/estimator/keras_test.py` (sequential,
functional and subclassed models; both checkpoint formats; `fit` before
conversion; hooks; a `tf.compat.v1.train` optimizer; dense features; many
metrics; multi-input/multi-output models fed dicts, lists and tuples;
`metric_names_map`; loading from a file; custom objects; TF_CONFIG; session
and model_dir configuration; pretrained weights; export with default, custom
and unknown signatures; warm start; sample weights; LSTM and GRU), written
anew, plus graph-mode cases and the misuses found beside them.

Each accepted scenario runs through `tf.keras.estimator.model_to_estimator`
and `keras_estimator.to_estimator` (with `input_fn=` where it has one) from
the same initial weights and graph seed: eval metrics, predictions and the
scenario's own numbers must agree within 1e-5. Each misuse must make
model_to_estimator fail (at any stage) and to_estimator refuse when called,
before anything is written, with a message naming the fix; the scenario that
follows the fix is among the accepted ones.
"""

from collections.abc import Callable, Mapping
import contextlib
import dataclasses
import json
import os
import tempfile
from typing import Any
from unittest import mock

from absl import logging
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.tf2 import keras_estimator

_SEED = 1337
_STEPS = 2
_BATCH = 16
_TOLERANCE = 1e-5


def _test_data(n, input_shape, classes, seed):
  """Class templates plus noise, as upstream's get_test_data."""
  rng = np.random.RandomState(seed)
  templates = 2 * classes * rng.random_sample((classes,) + input_shape)
  y = rng.randint(0, classes, size=(n,))
  x = templates[y] + rng.normal(size=(n,) + input_shape)
  return x.astype(np.float32), tf.keras.utils.to_categorical(y, classes)


_X, _Y = _test_data(48, (10,), 2, 0)
_X_TRAIN, _Y_TRAIN, _X_TEST, _Y_TEST = _X[:32], _Y[:32], _X[32:], _Y[32:]
_XA, _YC = _test_data(48, (16,), 3, 1)
_XB, _YD = _test_data(48, (16,), 2, 2)
_XM = np.random.RandomState(3).normal(size=(48, 8)).astype(str)


def _input_fn(x, y=None, repeat=False):
  def input_fn():
    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    return (data.repeat() if repeat else data).batch(_BATCH)

  return input_fn


def _returning(value):
  """An input_fn that returns its (features, labels) as they are."""
  return lambda: value


class _SimpleSubclassed(tf.keras.Model):
  """Upstream's subclassed model, with the get_config it needs."""

  def __init__(self):
    super().__init__()
    self.dense1 = tf.keras.layers.Dense(8, activation='relu')
    self.dp = tf.keras.layers.Dropout(0.1)
    self.dense2 = tf.keras.layers.Dense(2, activation='softmax')

  def call(self, inputs):
    return self.dense2(self.dp(self.dense1(inputs)))

  def get_config(self):
    return {}

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls()


class _NoConfig(_SimpleSubclassed):

  def get_config(self):
    raise NotImplementedError


class _MyHook(tf.compat.v1.train.SessionRunHook):
  """Upstream's hook: creates a variable in begin() (b/109935364)."""

  def begin(self):
    tf.compat.v1.get_variable('temp', [1])


def custom_relu(x):
  return tf.keras.backend.relu(x, max_value=6)


def _sequential():
  return tf.keras.Sequential(
      [
          tf.keras.layers.Dense(8, activation='relu', input_shape=(10,)),
          tf.keras.layers.Dropout(0.1),
          tf.keras.layers.Dense(2, activation='softmax'),
      ]
  )


def _functional(activation='relu'):
  inputs = tf.keras.Input((10,), name='input_layer')
  x = tf.keras.layers.Dense(8, activation=activation)(inputs)
  x = tf.keras.layers.Dropout(0.1)(x)
  return tf.keras.Model(
      inputs, tf.keras.layers.Dense(2, activation='softmax')(x)
  )


def _multi_io(string_input: bool) -> tf.keras.Model:
  """Upstream's multi-IO models: inputs a, b (and a string m), two heads.

  With `string_input`, m is parsed by a Lambda and scales a's features.
  """
  inputs = [tf.keras.Input((16,), name=name) for name in ('input_a', 'input_b')]
  dense = tf.keras.layers.Dense(8, name='dense_1')
  features = [dense(inputs[0]), dense(inputs[1])]
  if string_input:
    inputs.append(tf.keras.Input((8,), dtype='string', name='input_m'))
    number = tf.keras.layers.Lambda(lambda s: tf.strings.to_number(s))(
        inputs[2]
    )
    features[0] = tf.keras.layers.Lambda(lambda k: k[0] * k[1])(
        [number, features[0]]
    )
  merged = tf.keras.layers.concatenate(features, name='merge')
  heads = [
      tf.keras.layers.Dense(units, activation='softmax', name=name)(merged)
      for units, name in ((3, 'dense_2'), (2, 'dense_3'))
  ]
  return tf.keras.Model(inputs, heads)


def _two_in_two_out():
  return _multi_io(string_input=False)


def _string_input_model():
  return _multi_io(string_input=True)


def _dict_io():
  """Upstream's export model: dict inputs a, b and dict outputs c, d."""
  a = tf.keras.Input((1,), name='a')
  b = tf.keras.Input((1,), name='b')
  return tf.keras.Model(
      {'a': a, 'b': b},
      {
          'c': tf.keras.layers.Dense(1, name='c')(a),
          'd': tf.keras.layers.Dense(1, name='d', activation='sigmoid')(b),
      },
  )


def _rnn(layer):
  return tf.keras.Sequential(
      [
          tf.keras.layers.Reshape([10, 1], input_shape=[10]),
          layer(4, return_sequences=True),
          layer(4),
          tf.keras.layers.Dense(1),
      ]
  )


def _tf_rmsprop():
  return tf.compat.v1.train.RMSPropOptimizer(1e-3)


def _legacy_rmsprop():
  return tf.keras.optimizers.legacy.RMSprop(1e-3)


def _model(
    make,
    optimizer: Any = 'rmsprop',
    loss: Any = 'categorical_crossentropy',
    metrics: Any = ('accuracy',),
    fit: Callable[[tf.keras.Model], Any] | None = None,
    compiled: bool = True,
):
  """A build function: the same compiled model, from the same seed, each call."""

  def build(tmp):
    del tmp
    if tf.executing_eagerly():  # in a graph, clear_session resets it
      tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(_SEED)
    model = make()
    if compiled:
      model.compile(
          optimizer() if callable(optimizer) else optimizer,
          loss,
          list(metrics) if isinstance(metrics, tuple) else metrics,
      )
    if fit:
      fit(model)
    return {'keras_model': model}

  return build


def _fit(model):
  model.fit(_X_TRAIN, _Y_TRAIN, batch_size=_BATCH, verbose=0, shuffle=False)


@dataclasses.dataclass(frozen=True)
class _Scenario:
  """One use of model_to_estimator: the model, its input_fns, what to read.

  build(tmp) returns the model arguments (keras_model= and/or
  keras_model_path=); kwargs(tmp) the other arguments; inspect(estimator,
  arguments, tmp) extra values to compare (numbers within the tolerance,
  anything else exactly).
  """

  build: Callable[[str], dict[str, Any]]
  train: Callable[..., Any] | None = None
  eval: Callable[..., Any] | None = None
  predict: Callable[..., Any] | None = None
  kwargs: Callable[[str], dict[str, Any]] | None = None
  hooks: Callable[[], list[Any]] | None = None
  inspect: Callable[..., dict[str, Any]] | None = None
  graph: bool = False
  env: Mapping[str, str] | None = None
  mkdtemp: bool = False  # tempfile.mkdtemp gives tmp/est, as upstream mocks

  @property
  def input_fn(self):
    return self.train or self.eval


def _config(tmp, **kwargs):
  return {
      'config': tf.estimator.RunConfig(
          tf_random_seed=_SEED, model_dir=os.path.join(tmp, 'est'), **kwargs
      )
  }


def _with(**extra):
  return lambda tmp: {**_config(tmp), **extra}


def _m2e(arguments, input_fn, **kwargs):
  del input_fn  # model_to_estimator has no input check
  return tf.keras.estimator.model_to_estimator(**arguments, **kwargs)


def _toolkit(arguments, input_fn, **kwargs):
  return keras_estimator.to_estimator(**arguments, input_fn=input_fn, **kwargs)


def _construct(convert, scenario, tmp):
  arguments = scenario.build(tmp)
  kwargs = (scenario.kwargs or _config)(tmp)
  mkdtemp = (
      mock.patch.object(
          tempfile, 'mkdtemp', return_value=os.path.join(tmp, 'est')
      )
      if scenario.mkdtemp
      else contextlib.nullcontext()
  )
  with mkdtemp:
    return convert(arguments, scenario.input_fn, **kwargs), arguments


def _graph(scenario):
  """Graph-mode scenarios run, from the model's build on, in a graph."""
  if scenario.graph:
    return tf.Graph().as_default()
  return contextlib.nullcontext()


def _run(convert, scenario: _Scenario, tmp: str) -> dict[str, Any]:
  """Converts, trains, evaluates, predicts and inspects as the scenario says."""
  env = mock.patch.dict(os.environ, scenario.env or {})
  with env, _graph(scenario):
    estimator, arguments = _construct(convert, scenario, tmp)
    results = {}
    if scenario.train:
      estimator.train(
          scenario.train,
          steps=_STEPS,
          hooks=scenario.hooks() if scenario.hooks else None,
      )
    if scenario.eval:
      results['eval'] = estimator.evaluate(scenario.eval, steps=1)
    if scenario.predict:
      predictions = list(estimator.predict(scenario.predict))
      results['predict'] = {
          key: np.stack([p[key] for p in predictions]) for key in predictions[0]
      }
    if scenario.inspect:
      results['inspect'] = scenario.inspect(estimator, arguments, tmp)
  return results


def _flat(results, prefix=''):
  if isinstance(results, Mapping):
    flat = {}
    for key, value in results.items():
      flat.update(_flat(value, f'{prefix}/{key}'))
    return flat
  return {prefix: results}


# ---------------------------------------------------------------- inspections


def _serving_fn(spec):
  return tf.estimator.export.build_raw_serving_input_receiver_fn(
      {name: tf.zeros((1,) + shape, dtype) for name, (shape, dtype) in spec}
  )


def _exported(estimator, tmp, spec, feed):
  """Exports, then runs every signature of the SavedModel on `feed`."""
  path = estimator.export_saved_model(os.path.join(tmp, 'export'), spec)
  loaded = tf.saved_model.load(path.decode())
  return {
      name: {k: v.numpy() for k, v in signature(**feed).items()}
      for name, signature in loaded.signatures.items()
  }


def _sequential_numpy(weights, x):
  """_sequential's forward pass in NumPy (Dropout is identity at inference)."""
  kernel, bias, out_kernel, out_bias = weights
  logits = np.maximum(x @ kernel + bias, 0) @ out_kernel + out_bias
  exp = np.exp(logits - logits.max(axis=1, keepdims=True))
  return exp / exp.sum(axis=1, keepdims=True)


def _inspect_export(estimator, arguments, tmp):
  """Upstream's export test: exported before and after training.

  Exported right away, the SavedModel computes what the Keras weights do.
  """
  model = arguments['keras_model']
  weights = [w.numpy() for w in model.weights]
  spec = _serving_fn([('dense_input', ((10,), tf.float32))])
  feed = {'dense_input': tf.constant(_X_TEST)}
  before = _exported(estimator, os.path.join(tmp, 'a'), spec, feed)
  np.testing.assert_allclose(
      before['serving_default'][model.output_names[0]],
      _sequential_numpy(weights, _X_TEST),
      atol=_TOLERANCE,
  )
  estimator.train(_input_fn(_X_TRAIN, _Y_TRAIN, repeat=True), steps=_STEPS)
  after = _exported(estimator, os.path.join(tmp, 'b'), spec, feed)
  return {'before': before, 'after': after}


def _examples(columns):
  """Serialized tf.Examples with one float feature per column."""
  return tf.constant(
      [
          tf.train.Example(
              features=tf.train.Features(
                  feature={
                      name: tf.train.Feature(
                          float_list=tf.train.FloatList(value=[value])
                      )
                      for name, value in zip(columns, row, strict=True)
                  }
              )
          ).SerializeToString()
          for row in _X_TEST[:, : len(columns)]
      ]
  )


def _inspect_signatures(estimator, arguments, tmp):
  """Upstream's custom signatures: c and d beside serving_default.

  Classification and regression signatures need one serialized tf.Example
  input, hence the parsing receiver; each signature is run on examples.
  """
  del arguments
  spec = tf.estimator.export.build_parsing_serving_input_receiver_fn(
      {
          'a': tf.io.FixedLenFeature([1], tf.float32),
          'b': tf.io.FixedLenFeature([1], tf.float32),
      }
  )
  path = estimator.export_saved_model(os.path.join(tmp, 'export'), spec)
  signatures = tf.saved_model.load(path.decode()).signatures
  if set(signatures) != {'c', 'd', 'serving_default'}:
    raise AssertionError(f'signatures {sorted(signatures)}')
  results = {}
  for name, signature in signatures.items():
    (argument,) = signature.structured_input_signature[1]
    outputs = signature(**{argument: _examples(['a', 'b'])})
    results[name] = {k: v.numpy() for k, v in outputs.items()}
  return results


def _inspect_state(estimator, arguments, tmp):
  """A subclassed model keeps its optimizer and iterations after train."""
  del tmp
  model = arguments['keras_model']
  optimizer = model.optimizer
  iterations = tf.keras.backend.get_value(optimizer.iterations)
  estimator.train(_input_fn(_X_TRAIN, _Y_TRAIN, repeat=True), steps=_STEPS)
  return {
      'same_optimizer': model.optimizer is optimizer,
      'iterations': (
          tf.keras.backend.get_value(model.optimizer.iterations) - iterations
      ),
  }


def _inspect_config(estimator, arguments, tmp):
  del arguments
  config = estimator.config
  return {
      'model_dir': os.path.relpath(estimator.model_dir, tmp),
      'session_config': (
          config.session_config == tf.estimator.RunConfig().session_config
      ),
      'task': (config.task_type, config.task_id, config.is_chief),
      'cluster': json.dumps(config.cluster_spec.as_dict(), sort_keys=True),
  }


def _inspect_session(estimator, arguments, tmp):
  del estimator, arguments, tmp
  session = tf.compat.v1.keras.backend.get_session()
  return {
      'gpu_fraction': (
          session._config.gpu_options.per_process_gpu_memory_fraction  # pylint: disable=protected-access
      )
  }


def _inspect_warm_start(estimator, arguments, tmp):
  del arguments
  path = estimator._warm_start_settings.ckpt_to_initialize_from  # pylint: disable=protected-access
  return {'warm_start': os.path.relpath(path, tmp)}


# ----------------------------------------------------------------- scenarios


def _saved_h5(tmp):
  model = _model(_functional, metrics=['categorical_accuracy'], fit=_fit)(tmp)
  path = os.path.join(tmp, 'keras_model.h5')
  tf.keras.models.save_model(model['keras_model'], path)
  return {'keras_model_path': path}


def _saved_weights_for_warm_start(tmp):
  arguments = _model(_functional, optimizer=_tf_rmsprop, fit=_fit)(tmp)
  arguments['keras_model'].save_weights(
      os.path.join(tmp, 'est', 'keras', 'warm_start.ckpt')
  )
  return arguments


def _pretrained(tmp):
  first = _model(_sequential, optimizer=_tf_rmsprop, metrics=['mse'])(tmp)[
      'keras_model'
  ]
  first.train_on_batch(_X_TRAIN[:10], _Y_TRAIN[:10])
  weights = first.get_weights()
  second = _model(
      _sequential,
      optimizer='sgd',
      metrics=['mse', tf.keras.metrics.CategoricalAccuracy()],
  )(tmp)['keras_model']
  second.set_weights(weights)
  return {'keras_model': second}


def _both_model_and_path(tmp):
  return {**_model(_functional)(tmp), **_saved_h5(tmp)}


def _fit_two_in_two_out(model):
  model.fit(
      (_XA[:32], _XB[:32]),
      (_YC[:32], _YD[:32]),
      batch_size=_BATCH,
      verbose=0,
      shuffle=False,
  )


def _fit_dict_io(model):
  model.fit(_dict_io_data().batch(_BATCH), verbose=0)


def _dict_io_data():
  rng = np.random.RandomState(4)
  a, b, c, d = (rng.random_sample((32, 1)).astype(np.float32) for _ in 'abcd')
  return tf.data.Dataset.from_tensor_slices(
      ({'a': a, 'b': b}, {'c': c, 'd': d})
  )


def _dict_io_fn():
  return _dict_io_data().repeat().batch(_BATCH)


def _dense_features_model():
  columns, inputs = [], {}
  for name, values in sorted(_DENSE_FEATURES.items()):
    buckets = len(np.unique(values))
    columns.append(
        tf.feature_column.indicator_column(
            tf.feature_column.categorical_column_with_identity(name, buckets)
        )
    )
    inputs[name] = tf.keras.Input((buckets,), name=name, dtype=tf.int64)
  x = tf.compat.v1.keras.layers.DenseFeatures(columns)(inputs)
  x = tf.keras.layers.Dense(8, activation='relu')(x)
  return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))


_DENSE_FEATURES = {
    'sex': np.int64([1, 1, 1, 1, 0]),
    'cp': np.int64([0, 3, 3, 2, 1]),
    'slope': np.int64([3, 2, 0, 3, 1]),
}


def _dense_features_fn():
  return tf.compat.v1.estimator.inputs.numpy_input_fn(
      x=_DENSE_FEATURES, y=np.int64([0, 1, 0, 0, 0]), shuffle=False
  )()


def _pass_through(outputs):
  def make():
    inputs = tf.keras.Input((1,), name='input_layer')
    return tf.keras.Model(inputs, [inputs] * outputs if outputs > 1 else inputs)

  return make


_FEATURES = [[0.0], [0.0], [1.0], [1.0]]
_SAMPLE_WEIGHTS = [0.0, 0.4, 1.0, 1.0]
_TARGETS = [[0.0], [1.0], [0.0], [1.0]]


def _weighted_fn(outputs, weights=None):
  """Upstream's sample-weight input_fn: weights per output as a tuple.

  `weights` replaces that tuple (the misuse gives one tensor).
  """

  def split(x, w, y):  # a def: autograph misreads neighbouring lambdas
    if outputs == 1:
      return {'features': x, 'sample_weights': w}, y
    given = (w,) * outputs if weights is None else weights
    return {'features': x, 'sample_weights': given}, (y,) * outputs

  def input_fn():
    data = tf.data.Dataset.from_tensors((_FEATURES, _SAMPLE_WEIGHTS, _TARGETS))
    return data.map(split)

  return input_fn


def _weighted_loss(outputs):
  """The loss against NumPy: Keras's weighted MAE, summed over outputs.

  Keras reduces sum(weight * |target - x|) over the batch size (4), not
  over the weights' sum.
  """
  error = np.abs(np.float32(_TARGETS) - np.float32(_FEATURES))[:, 0]
  expected = outputs * np.sum(np.float32(_SAMPLE_WEIGHTS) * error) / len(error)

  def inspect(estimator, arguments, tmp):
    del arguments, tmp
    loss = estimator.evaluate(_weighted_fn(outputs), steps=1)['loss']
    np.testing.assert_allclose(loss, expected, atol=_TOLERANCE)
    return {'loss_minus_numpy': loss - expected}

  return inspect


_TRAIN = _input_fn(_X_TRAIN, _Y_TRAIN, repeat=True)
_EVAL = _input_fn(_X_TEST, _Y_TEST)
_PREDICT = _input_fn(_X_TEST)
_TRAIN_DICT = _input_fn(
    {'input_layer': _X_TRAIN}, {'dense_1': _Y_TRAIN}, repeat=True
)
_EVAL_DICT = _input_fn({'input_layer': _X_TEST}, {'dense_1': _Y_TEST})
_MULTI_TRAIN = _input_fn(
    (_XA[:32], _XB[:32]), (_YC[:32], _YD[:32]), repeat=True
)
_MULTI_EVAL = _input_fn((_XA[32:], _XB[32:]), (_YC[32:], _YD[32:]))
_STRING_DICT = (
    {'input_a': _XA[32:], 'input_b': _XB[32:], 'input_m': _XM[32:]},
    {'dense_2': _YC[32:], 'dense_3': _YD[32:]},
)
_STRING_LIST = (
    [_XA[32:], _XB[32:], _XM[32:]],
    [_YC[32:], _YD[32:]],
)
_MANY_METRICS = (
    'binary_accuracy',
    'binary_crossentropy',
    'categorical_accuracy',
    'categorical_crossentropy',
    'cosine_proximity',
    'hinge',
    'kullback_leibler_divergence',
    'mean_absolute_error',
    'mean_absolute_percentage_error',
    'mean_squared_error',
    'mean_squared_logarithmic_error',
    'poisson',
    'squared_hinge',
    'top_k_categorical_accuracy',
)
_TF_CONFIG = json.dumps(
    {
        'cluster': {
            'ps': ['localhost:1234'],
            'worker': ['localhost:1236'],
            'master': ['localhost:1238'],
        },
        'task': {'type': 'master', 'index': 0},
    }
)
_MULTI_MAP = {
    'dense_2_categorical_accuracy': 'acc_1',
    'dense_3_categorical_accuracy': 'acc_2',
}
_MULTI_METRICS = {
    'dense_2': 'categorical_accuracy',
    'dense_3': 'categorical_accuracy',
}


def _export_scenario(checkpoint_format):
  return _Scenario(
      _model(_sequential, optimizer='adam', fit=_fit),
      kwargs=_with(checkpoint_format=checkpoint_format),
      inspect=_inspect_export,
  )


_EXPORT_OUTPUTS = {
    'c': tf.estimator.export.RegressionOutput,
    'd': tf.estimator.export.ClassificationOutput,
}
_UNKNOWN_OUTPUTS = {
    'c': tf.estimator.export.RegressionOutput,
    'p': tf.estimator.export.ClassificationOutput,
}


def _signatures_scenario(checkpoint_format, export_outputs=None):
  """Upstream's dict-IO model exported with signatures c and d.

  With other export_outputs (the misuse) it is neither fit nor trained:
  model_to_estimator fails at the export.
  """
  fit = export_outputs is None
  return _Scenario(
      _model(
          _dict_io,
          optimizer='sgd',
          loss={'c': 'mse', 'd': 'binary_crossentropy'},
          metrics=[],
          fit=_fit_dict_io if fit else None,
      ),
      train=_dict_io_fn if fit else None,
      kwargs=_with(
          checkpoint_format=checkpoint_format,
          export_outputs=_EXPORT_OUTPUTS if fit else export_outputs,
      ),
      inspect=_inspect_signatures,
  )


def _rnn_scenario(layer):
  return _Scenario(
      _model(lambda: _rnn(layer), optimizer='sgd', loss='mse', metrics=()),
      train=_input_fn(_X_TRAIN, _Y_TRAIN[:, :1], repeat=True),
      eval=_input_fn(_X_TEST, _Y_TEST[:, :1]),
      kwargs=_with(checkpoint_format='checkpoint'),
  )


_ACCEPTED: dict[str, _Scenario] = {
    # test_train_keras_estimator's ten cases.
    'functional_saver': _Scenario(
        _model(_functional),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(checkpoint_format='saver'),
    ),
    'sequential_saver_legacy_optimizer': _Scenario(
        _model(_sequential, optimizer=_legacy_rmsprop),
        train=_TRAIN,
        eval=_EVAL,
        predict=_PREDICT,
        kwargs=_with(checkpoint_format='saver'),
    ),
    'subclass_tf_optimizer': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(checkpoint_format='saver'),
    ),
    'functional_object_ckpt_dict_io': _Scenario(
        _model(_functional),
        train=_TRAIN_DICT,
        eval=_EVAL_DICT,
        predict=_input_fn({'input_layer': _X_TEST}),
        kwargs=_with(checkpoint_format='checkpoint'),
    ),
    'sequential_object_ckpt_fit': _Scenario(
        _model(_sequential, optimizer=_tf_rmsprop, fit=_fit),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(checkpoint_format='checkpoint'),
    ),
    'functional_fit': _Scenario(
        _model(_functional, optimizer=_tf_rmsprop, fit=_fit),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(checkpoint_format='saver'),
    ),
    'subclass_fit': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop, fit=_fit),
        train=_TRAIN,
        eval=_EVAL,
        predict=_PREDICT,
        kwargs=_with(checkpoint_format='saver'),
    ),
    'subclass_hooks': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
        train=_TRAIN,
        eval=_EVAL,
        hooks=lambda: [_MyHook()],
        kwargs=_with(checkpoint_format='saver'),
    ),
    'subclass_hooks_fit': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop, fit=_fit),
        train=_TRAIN,
        eval=_EVAL,
        hooks=lambda: [_MyHook()],
        kwargs=_with(checkpoint_format='saver'),
    ),
    'subclass_labels_dict': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
        train=_input_fn(_X_TRAIN, {'output_1': _Y_TRAIN}, repeat=True),
        eval=_input_fn(_X_TEST, {'output_1': _Y_TEST}),
        kwargs=_with(checkpoint_format='saver'),
    ),
    'dense_features': _Scenario(
        _model(
            _dense_features_model,
            loss='binary_crossentropy',
            metrics=['accuracy'],
        ),
        train=_dense_features_fn,
        eval=_dense_features_fn,
    ),
    'evaluate_many_metrics': _Scenario(
        _model(_functional, optimizer='adam', metrics=_MANY_METRICS, fit=_fit),
        eval=_EVAL,
    ),
    'evaluate_multi_io_tuples': _Scenario(
        _model(
            _two_in_two_out, metrics=_MULTI_METRICS, fit=_fit_two_in_two_out
        ),
        train=_MULTI_TRAIN,
        eval=_MULTI_EVAL,
        # An input_fn's 2-tuple or 2-list is (features, labels).
        predict=_input_fn({'input_a': _XA[32:], 'input_b': _XB[32:]}),
    ),
    'evaluate_multi_io_metric_names_map': _Scenario(
        _model(
            _two_in_two_out, metrics=_MULTI_METRICS, fit=_fit_two_in_two_out
        ),
        eval=_MULTI_EVAL,
        kwargs=_with(metric_names_map=_MULTI_MAP),
    ),
    'multi_io_string_input_dicts': _Scenario(
        _model(_string_input_model, metrics=_MULTI_METRICS),
        train=_returning(_STRING_DICT),
        eval=_returning(_STRING_DICT),
        # A Dataset: predicting from constant tensors never ends.
        predict=_input_fn(_STRING_DICT[0]),
    ),
    'multi_io_string_input_lists': _Scenario(
        _model(_string_input_model, metrics=_MULTI_METRICS),
        train=_returning(_STRING_LIST),
        eval=_returning(_STRING_LIST),
        # No predict: an input_fn returning a 3-list is refused by the
        # Estimator itself (upstream never consumes its predict generator).
    ),
    'extra_feature_keys': _Scenario(
        _model(_functional),
        train=_input_fn(
            {'input_layer': _X_TRAIN, 'unused': _X_TRAIN}, _Y_TRAIN, repeat=True
        ),
        eval=_input_fn({'input_layer': _X_TEST, 'unused': _X_TEST}, _Y_TEST),
    ),
    'init_from_h5': _Scenario(_saved_h5, predict=_PREDICT),
    'custom_objects': _Scenario(
        _model(lambda: _functional(custom_relu), optimizer='adam', metrics=()),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(custom_objects={'custom_relu': custom_relu}),
    ),
    'tf_config': _Scenario(
        _model(
            _sequential, metrics=['mse', tf.keras.metrics.CategoricalAccuracy()]
        ),
        kwargs=lambda tmp: {'model_dir': os.path.join(tmp, 'est')},
        inspect=_inspect_config,
        env={'TF_CONFIG': _TF_CONFIG},
    ),
    'gpu_session_config_graph': _Scenario(
        _model(_sequential),
        kwargs=lambda tmp: _config(
            tmp,
            session_config=tf.compat.v1.ConfigProto(
                gpu_options=tf.compat.v1.GPUOptions(
                    per_process_gpu_memory_fraction=0.3
                )
            ),
        ),
        inspect=_inspect_session,
        graph=True,
    ),
    'empty_config': _Scenario(
        _model(_sequential),
        eval=_EVAL,
        kwargs=lambda tmp: {
            'model_dir': os.path.join(tmp, 'est'),
            'config': tf.estimator.RunConfig(),
        },
        inspect=_inspect_config,
    ),
    'empty_config_empty_model_dir': _Scenario(
        _model(_sequential),
        kwargs=lambda tmp: {'config': tf.estimator.RunConfig()},
        inspect=_inspect_config,
        mkdtemp=True,
    ),
    'pretrained_weights': _Scenario(
        _pretrained, train=_TRAIN, eval=_EVAL, predict=_PREDICT
    ),
    'export_object_ckpt': _export_scenario('checkpoint'),
    'export_name_ckpt': _export_scenario('saver'),
    'export_signatures_object_ckpt': _signatures_scenario('checkpoint'),
    'export_signatures_name_ckpt': _signatures_scenario('saver'),
    'export_subclass_keeps_state': _Scenario(
        _model(_SimpleSubclassed, optimizer=_tf_rmsprop, fit=_fit),
        eval=_EVAL,
        kwargs=_with(checkpoint_format='saver'),
        inspect=_inspect_state,
    ),
    'warm_start_from_keras_ckpt': _Scenario(
        _saved_weights_for_warm_start,
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(checkpoint_format='saver'),
        inspect=_inspect_warm_start,
    ),
    'sample_weights': _Scenario(
        _model(_pass_through(1), optimizer='adam', loss='mae', metrics=()),
        eval=_weighted_fn(1),
        inspect=_weighted_loss(1),
    ),
    'sample_weights_multi_output_tuples': _Scenario(
        _model(_pass_through(2), optimizer='adam', loss='mae', metrics=()),
        eval=_weighted_fn(2),
        inspect=_weighted_loss(2),
    ),
    'lstm': _rnn_scenario(tf.keras.layers.LSTM),
    'gru': _rnn_scenario(tf.keras.layers.GRU),
    # Graph mode (TF1 code calling Keras): Keras wraps a
    # tf.compat.v1.train optimizer as TFOptimizer; compiled_metrics is None.
    'graph_tf_optimizer': _Scenario(
        _model(_functional, optimizer=_tf_rmsprop),
        train=_TRAIN,
        eval=_EVAL,
        graph=True,
    ),
    'graph_legacy_optimizer': _Scenario(
        _model(
            _functional, optimizer=lambda: tf.keras.optimizers.legacy.Adam()
        ),
        train=_TRAIN,
        eval=_EVAL,
        graph=True,
    ),
    'graph_metric_names_map': _Scenario(
        _model(_functional, optimizer=_tf_rmsprop),
        train=_TRAIN,
        eval=_EVAL,
        kwargs=_with(metric_names_map={'accuracy': 'acc'}),
        graph=True,
    ),
}


@dataclasses.dataclass(frozen=True)
class _Misuse:
  """A use model_to_estimator fails on, and the scenario that fixes it."""

  scenario: _Scenario
  upstream: type[Exception]  # what model_to_estimator raises, at any stage
  upstream_regex: str
  advice: str  # regex on to_estimator's message: names the fix
  fixed: str  # the accepted scenario that follows the advice


_MISUSES: dict[str, _Misuse] = {
    'not_compiled': _Misuse(
        _Scenario(_model(_functional, compiled=False), train=_TRAIN),
        ValueError,
        'compiled',
        r'not compiled: call model\.compile\(optimizer=tf\.keras\.optimizers'
        r'\.legacy',
        'sequential_saver_legacy_optimizer',
    ),
    'no_model': _Misuse(
        _Scenario(lambda tmp: {}),
        ValueError,
        'Either',
        'exactly one of keras_model=',
        'functional_saver',
    ),
    'model_and_path': _Misuse(
        _Scenario(_both_model_and_path),
        ValueError,
        'not both',
        'exactly one of keras_model=',
        'init_from_h5',
    ),
    'metric_names_map_missing_key': _Misuse(
        _Scenario(
            _model(_functional, optimizer='adam', metrics=['binary_accuracy']),
            eval=_EVAL,
            kwargs=_with(metric_names_map={'binary_acc': ''}),
        ),
        ValueError,
        'Invalid `metric_names_map`.*do not exist',
        r"must be exactly the compiled metric names \['binary_accuracy'\]",
        'evaluate_multi_io_metric_names_map',
    ),
    'metric_names_map_extra_key': _Misuse(
        _Scenario(
            _model(_functional, optimizer='adam', metrics=['binary_accuracy']),
            eval=_EVAL,
            kwargs=_with(
                metric_names_map={'binary_accuracy': 'acc', 'abcde': ''}
            ),
        ),
        ValueError,
        'Invalid `metric_names_map`.*unexpected keys',
        r"must be exactly the compiled metric names \['binary_accuracy'\]",
        'graph_metric_names_map',
    ),
    'invalid_input_name': _Misuse(
        _Scenario(
            _model(_functional, optimizer='adam'),
            train=_input_fn({'invalid_input_name': _X_TRAIN}, _Y_TRAIN),
        ),
        KeyError,
        'Missed keys',
        r"missing: \['input_layer'\]\): rename the dict keys",
        'functional_object_ckpt_dict_io',
    ),
    'invalid_output_name': _Misuse(
        _Scenario(
            _model(_functional, optimizer='adam'),
            train=_input_fn(
                {'input_layer': _X_TRAIN}, {'invalid_output_name': _Y_TRAIN}
            ),
        ),
        KeyError,
        'Missed keys',
        r"missing: \['dense_1'\]\): rename the dict keys",
        'functional_object_ckpt_dict_io',
    ),
    'custom_objects_missing': _Misuse(
        _Scenario(
            _model(lambda: _functional(custom_relu), optimizer='adam'),
            train=_TRAIN,
        ),
        Exception,
        'custom_relu',
        r'custom_relu.*Pass custom_objects=',
        'custom_objects',
    ),
    'conflicting_model_dir_and_config': _Misuse(
        _Scenario(
            _model(_sequential),
            kwargs=lambda tmp: {
                'model_dir': os.path.join(tmp, 'est'),
                'config': tf.estimator.RunConfig(
                    model_dir=os.path.join(tmp, 'other')
                ),
            },
        ),
        ValueError,
        '`model_dir` are set both',
        'differs from config.model_dir.*pass one of them',
        'empty_config',
    ),
    'export_unknown_signature_object_ckpt': _Misuse(
        _signatures_scenario('checkpoint', _UNKNOWN_OUTPUTS),
        KeyError,
        'Missed keys',
        r"export_outputs keys \['p'\] are not model outputs",
        'export_signatures_object_ckpt',
    ),
    'export_unknown_signature_name_ckpt': _Misuse(
        _signatures_scenario('saver', _UNKNOWN_OUTPUTS),
        KeyError,
        'Missed keys',
        r"export_outputs keys \['p'\] are not model outputs",
        'export_signatures_name_ckpt',
    ),
    'subclass_object_ckpt': _Misuse(
        _Scenario(
            _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
            train=_TRAIN,
            kwargs=_with(checkpoint_format='checkpoint'),
        ),
        ValueError,
        'Object-based checkpoints are currently not supported',
        "pass checkpoint_format='saver'",
        'subclass_tf_optimizer',
    ),
    'subclass_without_config': _Misuse(
        _Scenario(
            _model(_NoConfig, optimizer=_tf_rmsprop),
            train=_TRAIN,
            kwargs=_with(checkpoint_format='saver'),
        ),
        ValueError,
        'must implement `Model.get_config` and `Model.from_config`',
        r'must implement get_config\(\) and from_config\(\)',
        'subclass_tf_optimizer',
    ),
    'subclass_features_call_cannot_take': _Misuse(
        _Scenario(
            _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
            train=_input_fn({'input_1': _X_TRAIN}, _Y_TRAIN),
            kwargs=_with(checkpoint_format='saver'),
        ),
        TypeError,
        'input_1',
        r'(?s)_SimpleSubclassed\.call\(\) fails on .*Return features in the'
        r' structure call\(\) takes',
        'subclass_tf_optimizer',
    ),
    'subclass_labels_keys': _Misuse(
        _Scenario(
            _model(_SimpleSubclassed, optimizer=_tf_rmsprop),
            train=_input_fn(_X_TRAIN, {'probs': _Y_TRAIN}),
            kwargs=_with(checkpoint_format='saver'),
        ),
        KeyError,
        'Missed keys',
        r"labels keys \['probs'\] are not \['output_1'\].*key the labels so",
        'subclass_labels_dict',
    ),
    'graph_new_optimizer': _Misuse(
        _Scenario(
            _model(_functional, optimizer=lambda: tf.keras.optimizers.Adam()),
            train=_TRAIN,
            graph=True,
        ),
        ValueError,
        r'tf\.keras\.optimizers\.legacy\.Optimizer',
        r'compile with tf\.keras\.optimizers\.legacy\.Adam\(\.\.\.\)',
        'graph_legacy_optimizer',
    ),
    'checkpoint_format_unknown': _Misuse(
        _Scenario(
            _model(_functional), kwargs=_with(checkpoint_format='object')
        ),
        ValueError,
        'Checkpoint format must be one of',
        r"checkpoint_format='object' is not one of \['checkpoint', 'saver'\]",
        'functional_object_ckpt_dict_io',
    ),
    'features_tuple_too_short': _Misuse(
        _Scenario(
            _model(_two_in_two_out, metrics=_MULTI_METRICS),
            train=_input_fn((_XA[:32],), (_YC[:32], _YD[:32])),
        ),
        tf.errors.InvalidArgumentError,
        "must feed a value for placeholder tensor 'input_b'",
        r'input is a tuple of 1 but the model has 2 inputs.*give one per'
        r' input, in that order',
        'evaluate_multi_io_tuples',
    ),
    'labels_single_tensor_for_two_outputs': _Misuse(
        _Scenario(
            _model(_two_in_two_out, metrics=_MULTI_METRICS),
            train=_input_fn((_XA[:32], _XB[:32]), _YC[:32]),
        ),
        ValueError,
        '',
        r'output is a single tensor but the model has 2 outputs.*return a'
        r' tuple in that order',
        'evaluate_multi_io_tuples',
    ),
    'sample_weights_single_tensor_for_two_outputs': _Misuse(
        _Scenario(
            _model(_pass_through(2), optimizer='adam', loss='mae', metrics=()),
            eval=_weighted_fn(2, weights=np.float32(_SAMPLE_WEIGHTS)),
        ),
        TypeError,
        'sample_weights',
        r'sample_weights is a single tensor but the model has 2 outputs: give'
        r' a tuple',
        'sample_weights_multi_output_tuples',
    ),
    'feature_shape': _Misuse(
        _Scenario(
            _model(_functional),
            train=_input_fn(_X_TRAIN[:, :8], _Y_TRAIN),
        ),
        ValueError,
        "doesn't match",
        r'weights of other shapes .*make each feature the shape of its Input',
        'functional_saver',
    ),
}

_DIFFERENCES: dict[str, float] = {}


def tearDownModule():  # pylint: disable=invalid-name
  for name, difference in sorted(_DIFFERENCES.items()):
    logging.info('accepted %-40s max |difference| %.3g', name, difference)


class ModelToEstimatorMatrixTest(tf.test.TestCase, parameterized.TestCase):

  def tearDown(self):
    tf.compat.v1.summary.FileWriterCache.clear()
    tf.keras.backend.clear_session()
    super().tearDown()

  @parameterized.named_parameters(*_ACCEPTED.items())
  def test_accepted_and_equal(self, scenario):
    expected = _flat(_run(_m2e, scenario, self.create_tempdir().full_path))
    got = _flat(_run(_toolkit, scenario, self.create_tempdir().full_path))
    self.assertEqual(sorted(expected), sorted(got))
    worst = 0.0
    for key, value in expected.items():
      if isinstance(value, (str, bool, tuple)) or value is None:
        self.assertEqual(value, got[key], key)
        continue
      difference = float(
          np.max(np.abs(np.asarray(value) - got[key]), initial=0)
      )
      self.assertLessEqual(difference, _TOLERANCE, key)
      worst = max(worst, difference)
    if scenario.train and 'eval' in expected:
      self.assertEqual(expected['/eval/global_step'], _STEPS)
    _DIFFERENCES[self._testMethodName] = worst

  @parameterized.named_parameters(*_MISUSES.items())
  def test_both_refuse_toolkit_first(self, misuse):
    with self.assertRaisesRegex(misuse.upstream, misuse.upstream_regex):
      _run(_m2e, misuse.scenario, self.create_tempdir().full_path)
    tmp = self.create_tempdir().full_path
    with _graph(misuse.scenario):
      with self.assertRaisesRegex(errors.ModelError, misuse.advice):
        _construct(_toolkit, misuse.scenario, tmp)
    self.assertFalse(tf.io.gfile.exists(os.path.join(tmp, 'est')))
    self.assertIn(misuse.fixed, _ACCEPTED)


if __name__ == '__main__':
  tf.test.main()
