"""Runs a TF 1.x `model_fn` in a graph and records what it built.

The exporter of custom `model_fn`s (`model_fn_export`) reads a model from
the graph the user's own code builds, not from a hand-written twin. The
`model_fn` is called as the Estimator calls it, in a fresh `tf.Graph`, on
placeholders shaped like one batch of features. While it runs, the calls
that make up a model are recorded with their arguments, inputs, outputs and
the variables they created:

  layer                Keras layers (`tf.compat.v1.layers.*`, which are
                       legacy Keras layers, and `tf.keras.layers.*`)
  input_layer          `tf.compat.v1.feature_column.input_layer`
  linear_model         `tf.compat.v1.feature_column.linear_model`
  safe_embedding_lookup_sparse
                       `tf.nn.safe_embedding_lookup_sparse` (v1 and v2)
  loss                 `tf.compat.v1.losses.*` (TRAIN mode)
  optimizer            `tf.compat.v1.train.Optimizer.minimize` and
                       `apply_gradients` (TRAIN mode)

Only the outermost call is recorded (a layer calling a layer is one call).
Everything else the graph holds between the features and the predictions
is read op by op (`model_fn_graph`).
"""

from collections.abc import Callable, Mapping
import contextlib
import dataclasses
import inspect
import os

from keras.src.engine import base_layer  # the layers' class (Keras 2.15)
from keras.src.engine import base_layer_v1
import numpy as np
import tensorflow as tf
from tensorflow.python.feature_column import feature_column as fc_v1
from tensorflow.python.ops import embedding_ops

from estimator_migrate import errors

PREDICT = tf.estimator.ModeKeys.PREDICT
TRAIN = tf.estimator.ModeKeys.TRAIN

# tf.compat.v1.losses functions recorded by name (model_fn_graph maps them).
LOSSES = (
    'huber_loss',
    'mean_squared_error',
    'sigmoid_cross_entropy',
    'softmax_cross_entropy',
    'sparse_softmax_cross_entropy',
)


class ModelFnError(errors.MigrationError):
  """The model_fn cannot be run or read as the exporter needs."""


@dataclasses.dataclass
class Call:
  """One recorded call of the model_fn.

  `kind`: see the module docstring. `target`: the layer or optimizer
  object, else None. `arguments`: the call's other arguments by name.
  `variables`: names of the variables created during the call, in order.
  `line`: `file:line` of the model_fn's code that made the call.
  """

  kind: str
  function: str
  target: object
  arguments: dict
  inputs: tuple
  outputs: tuple
  variables: tuple[str, ...]
  line: str | None


@dataclasses.dataclass
class Trace:
  """The graph of one mode of the model_fn and the calls that built it."""

  mode: str
  graph: tf.Graph
  features: dict[str, tf.Tensor]
  labels: object
  spec: object  # the EstimatorSpec returned
  calls: list[Call]
  variables: dict[str, tuple[tuple[int, ...], str]]
  user_files: tuple[str, ...]

  def predictions(self) -> dict:
    """The EstimatorSpec's predictions by key (one tensor: 'predictions')."""
    predictions = self.spec.predictions
    if not isinstance(predictions, Mapping):
      return {'predictions': predictions}
    return dict(predictions)

  def call_of(self, tensor) -> tuple[Call, int] | None:
    """The recorded call whose output `tensor` is, and its output index."""
    for call in self.calls:
      for index, output in enumerate(call.outputs):
        if output is tensor:
          return call, index
    return None

  def line_of(self, op) -> str | None:
    """`file:line` of the model_fn's code that created `op`, if known."""
    return _user_line(op.traceback, self.user_files)


def _user_line(frames, user_files) -> str | None:
  for frame in reversed(list(frames)):
    filename = getattr(frame, 'filename', None) or frame[0]
    lineno = getattr(frame, 'lineno', None) or frame[1]
    if os.path.abspath(filename) in user_files:
      return f'{filename}:{lineno}'
  return None


def _stack_line(user_files) -> str | None:
  return _user_line(
      [(f.filename, f.lineno) for f in inspect.stack()[2:]], user_files
  )


def _flat(value) -> tuple:
  return tuple(tf.nest.flatten(value, expand_composites=True))


class _Recorder:
  """Wraps the recorded functions while a model_fn runs."""

  def __init__(self, graph: tf.Graph, user_files: tuple[str, ...]):
    self.graph = graph
    self.user_files = user_files
    self.calls: list[Call] = []
    self.depth = 0

  def _variables(self) -> list[str]:
    return [
        v.op.name
        for v in self.graph.get_collection(
            tf.compat.v1.GraphKeys.GLOBAL_VARIABLES
        )
    ]

  def record(self, kind: str, function: Callable, target_of=None):
    """`function` wrapped: its outermost calls are recorded as `kind`."""
    recorder = self

    def wrapped(*args, **kwargs):
      if (
          recorder.depth
          or tf.compat.v1.get_default_graph() is not recorder.graph
      ):
        return function(*args, **kwargs)
      before = set(recorder._variables())  # noqa: SLF001
      line = _stack_line(recorder.user_files)
      recorder.depth += 1
      try:
        result = function(*args, **kwargs)
      finally:
        recorder.depth -= 1
      try:
        bound = inspect.signature(function).bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
      except TypeError:
        arguments = {'args': args, **kwargs}
      target = target_of(args) if target_of else None
      inputs = None
      if target is not None:  # a layer or an optimizer: (self, inputs, ...)
        arguments.pop('self', None)
        inputs = args[1] if len(args) > 1 else kwargs.get('inputs')
      recorder.calls.append(
          Call(
              kind=kind,
              function=function.__name__,
              target=target,
              arguments=arguments,
              inputs=_flat(inputs) if inputs is not None else (),
              outputs=_flat(result),
              variables=tuple(
                  v for v in recorder._variables() if v not in before  # noqa: SLF001
              ),
              line=line,
          )
      )
      return result

    wrapped.__wrapped__ = function
    wrapped.__signature__ = inspect.signature(function)
    return wrapped


def _patches(recorder: _Recorder) -> list[tuple[object, str, Callable]]:
  """(owner, attribute, replacement) for every recorded function."""
  first = lambda args: args[0]  # noqa: E731
  out = []
  for owner in (base_layer.Layer, base_layer_v1.Layer):
    out.append(
        (
            owner,
            '__call__',
            recorder.record('layer', owner.__call__, target_of=first),
        )
    )
  for name in ('input_layer', 'linear_model'):
    function = getattr(fc_v1, name)
    wrapped = recorder.record(name, function)
    out += [
        (fc_v1, name, wrapped),
        (tf.compat.v1.feature_column, name, wrapped),
    ]
  v1 = recorder.record(
      'safe_embedding_lookup_sparse', embedding_ops.safe_embedding_lookup_sparse
  )
  v2 = recorder.record(
      'safe_embedding_lookup_sparse',
      embedding_ops.safe_embedding_lookup_sparse_v2,
  )
  out += [
      (tf.compat.v1.nn, 'safe_embedding_lookup_sparse', v1),
      (tf.nn, 'safe_embedding_lookup_sparse', v2),
  ]
  for name in LOSSES:
    out.append(
        (
            tf.compat.v1.losses,
            name,
            recorder.record('loss', getattr(tf.compat.v1.losses, name)),
        )
    )
  optimizer = tf.compat.v1.train.Optimizer
  for name in ('minimize', 'apply_gradients'):
    out.append(
        (
            optimizer,
            name,
            recorder.record(
                'optimizer', getattr(optimizer, name), target_of=first
            ),
        )
    )
  return out


@contextlib.contextmanager
def _patched(recorder: _Recorder):
  patches = _patches(recorder)
  saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
  try:
    for owner, name, replacement in patches:
      setattr(owner, name, replacement)
    yield
  finally:
    for owner, name, original in reversed(saved):
      setattr(owner, name, original)


def placeholders(features: Mapping[str, np.ndarray]) -> dict[str, tf.Tensor]:
  """One placeholder per feature: its dtype, any batch size."""
  out = {}
  for key, value in sorted(features.items()):
    array = np.asarray(value)
    if array.dtype.kind in 'OSU':
      dtype = tf.string
    elif array.dtype.kind in 'iu':
      dtype = (
          tf.int64 if array.dtype.itemsize == 8 else tf.as_dtype(array.dtype)
      )
    else:
      dtype = tf.as_dtype(array.dtype)
    if array.ndim == 0:
      raise ModelFnError(
          f'features[{key!r}] is a scalar: give one batch of features, each'
          ' [batch, ...] as the input_fn yields them.',
      )
    out[key] = tf.compat.v1.placeholder(
        dtype, (None, *array.shape[1:]), name=key
    )
  return out


def _label_placeholders(labels):
  if labels is None:
    return None
  if isinstance(labels, Mapping):
    return {k: _label_placeholders(v) for k, v in sorted(labels.items())}
  array = np.asarray(labels)
  dtype = tf.as_dtype(np.int64 if array.dtype.kind in 'iu' else array.dtype)
  return tf.compat.v1.placeholder(dtype, (None, *array.shape[1:]))


def user_files(model_fn: Callable) -> tuple[str, ...]:
  """The source files whose lines name the user's code in errors."""
  files = []
  function = inspect.unwrap(model_fn)
  try:
    files.append(os.path.abspath(inspect.getsourcefile(function)))
  except TypeError:
    pass
  return tuple(files)


def trace(
    model_fn: Callable,
    features: Mapping[str, np.ndarray],
    *,
    mode: str = PREDICT,
    params: Mapping | None = None,
    labels=None,
) -> Trace:
  """Calls `model_fn` in `mode` in a fresh graph, recording what it builds.

  Args:
    model_fn: The Estimator's `model_fn(features, labels, mode, params,
      config)` (any subset of these argument names, as Estimators allow).
    features: One batch of features (numpy arrays), as the input_fn yields.
    mode: PREDICT or TRAIN.
    params: The Estimator's params.
    labels: One batch of labels (TRAIN): an array or a dict of arrays.

  Raises:
    ModelFnError: The model_fn fails, takes arguments the Estimator does
      not pass, or returns no EstimatorSpec (with predictions in PREDICT).
  """
  accepted = inspect.signature(model_fn).parameters
  unknown = [
      n
      for n in accepted
      if n not in ('features', 'labels', 'mode', 'params', 'config')
      and accepted[n].default is inspect.Parameter.empty
  ]
  if unknown:
    raise ModelFnError(
        f'model_fn takes {unknown}: an Estimator passes only features,'
        ' labels, mode, params and config.',
        argument='model_fn',
    )
  graph = tf.Graph()
  files = user_files(model_fn)
  recorder = _Recorder(graph, files)
  with graph.as_default():
    # The graph is read, never run; a seed lets its random ops be built
    # where op determinism is on (it refuses unseeded ones).
    tf.compat.v1.set_random_seed(0)
    tf.compat.v1.train.create_global_step()
    inputs = placeholders(features)
    label_inputs = _label_placeholders(labels) if mode == TRAIN else None
    given = {
        'features': dict(inputs),
        'labels': label_inputs,
        'mode': mode,
        'params': dict(params or {}),
        'config': tf.estimator.RunConfig(),
    }
    kwargs = {k: v for k, v in given.items() if k in accepted}
    with _patched(recorder):
      try:
        spec = model_fn(**kwargs)
      except errors.MigrationError:
        raise
      except Exception as e:  # the user's code: any error
        raise ModelFnError(
            f'model_fn failed in {mode} mode on placeholders shaped like'
            f' features: {type(e).__name__}: {e}',
            argument='model_fn',
        ) from e
  if not isinstance(spec, tf.estimator.EstimatorSpec):
    raise ModelFnError(
        f'model_fn returned {type(spec).__name__} in {mode} mode, not a'
        ' tf.estimator.EstimatorSpec.',
        argument='model_fn',
    )
  variables = {
      v.op.name: (tuple(v.shape.as_list()), v.dtype.base_dtype.name)
      for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
  }
  return Trace(
      mode=mode,
      graph=graph,
      features=inputs,
      labels=label_inputs,
      spec=spec,
      calls=recorder.calls,
      variables=variables,
      user_files=files,
  )
