"""Keras models as Estimators: `model_to_estimator` with its errors up front.

`tf.keras.estimator.model_to_estimator` checks `metric_names_map` and
`export_outputs` only inside the model_fn, so a typo surfaces after the input
pipeline has started; a new-style Keras optimizer fails in graph mode without
saying what to use; input/label structure mismatches fail deep inside
training. `to_estimator` checks all of these when it is called, and says what
to change.

Example:
  model.compile(optimizer=tf.keras.optimizers.legacy.SGD(0.1),
                loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  estimator = keras_estimator.to_estimator(
      model, model_dir='/tmp/m', input_fn=train_input_fn)
"""

from collections.abc import Callable, Mapping, Sequence
import dataclasses
import inspect
from typing import Any

import tensorflow as tf

from estimator_migrate import errors

_SAMPLE_WEIGHTS = 'sample_weights'


@dataclasses.dataclass(frozen=True)
class InputCheck:
  """What the first element of an input_fn holds, and what does not fit."""

  features: Any
  labels: Any
  problems: tuple[str, ...]

  @property
  def ok(self) -> bool:
    return not self.problems


def _call_input_fn(input_fn: Callable[..., Any]):
  """Calls an Estimator input_fn with the arguments it asks for."""
  names = inspect.signature(input_fn).parameters
  kwargs = {}
  if 'mode' in names:
    kwargs['mode'] = tf.estimator.ModeKeys.TRAIN
  if 'params' in names:
    kwargs['params'] = {}
  if 'config' in names:
    kwargs['config'] = tf.estimator.RunConfig()
  return input_fn(**kwargs)


def _structure(input_fn):
  """(features, labels) specs of the input_fn's first element."""
  with tf.Graph().as_default():
    result = _call_input_fn(input_fn)
    if isinstance(result, tf.data.Dataset):
      spec = result.element_spec
    else:
      spec = tf.nest.map_structure(
          lambda t: tf.TensorSpec(t.shape, t.dtype), result
      )
  if isinstance(spec, tuple) and len(spec) == 2:
    return spec
  return spec, None


def _check_side(what, spec, names, problems):
  if spec is None:
    return
  if isinstance(spec, Mapping):
    got = set(spec)
    if got != set(names):
      problems.append(
          f"{what} keys {sorted(got)} are not the model's {what} names"
          f' {list(names)}: rename the dict keys, or name the Keras'
          f' Input/output layers to match (missing: {sorted(set(names) - got)},'
          f' unknown: {sorted(got - set(names))}).'
      )
  elif len(names) != 1:
    problems.append(
        f'{what} is a single tensor but the model has {len(names)}'
        f' {what}s {list(names)}: return a dict keyed by those names.'
    )


def check_input_fn(
    model: tf.keras.Model, input_fn: Callable[..., Any]
) -> InputCheck:
  """Checks an input_fn's structure (not its data) against a Keras model.

  Args:
    model: The Keras model the Estimator wraps.
    input_fn: Returns a `tf.data.Dataset` of `(features, labels)` or the
      tuple itself; features may be `{'features': ..., 'sample_weights': ...}`.

  Returns:
    The specs seen and a list of problems (empty when everything fits).
  """
  features, labels = _structure(input_fn)
  problems = []
  if isinstance(features, Mapping) and _SAMPLE_WEIGHTS in features:
    weights = features[_SAMPLE_WEIGHTS]
    features = {k: v for k, v in features.items() if k != _SAMPLE_WEIGHTS}
    if set(features) == {'features'}:
      features = features['features']
    if isinstance(weights, Mapping):
      _check_side('sample_weights', weights, model.output_names, problems)
  _check_side('input', features, model.input_names, problems)
  _check_side('output', labels, model.output_names, problems)
  return InputCheck(features, labels, tuple(problems))


def compiled_metric_names(model: tf.keras.Model) -> list[str]:
  """The names model_to_estimator gives the compiled metrics.

  Keras names a metric by its string ('accuracy'), its object's `name` or
  its function's `__name__`, prefixed with the output name when the model
  has several outputs.
  """
  user = model.compiled_metrics._user_metrics  # pylint: disable=protected-access
  outputs = model.output_names

  def name(metric):
    if isinstance(metric, str):
      return metric
    return getattr(metric, 'name', None) or metric.__name__

  def listed(value):
    if value is None:
      return []
    return list(value) if isinstance(value, (list, tuple)) else [value]

  if isinstance(user, Mapping):
    return [
        f'{out}_{name(m)}' if len(outputs) > 1 else name(m)
        for out in outputs
        for m in listed(user.get(out))
    ]
  names = [name(m) for m in listed(user)]
  if len(outputs) > 1:
    return [f'{out}_{n}' for out in outputs for n in names]
  return names


def _check_model(
    model, checkpoint_format, custom_objects, metric_names_map, export_outputs
) -> None:
  if not getattr(model, 'optimizer', None):
    raise errors.ModelError(
        'the Keras model is not compiled: call model.compile(optimizer='
        'tf.keras.optimizers.legacy.<Optimizer>(...), loss=..., metrics=...)'
        ' first.'
    )
  if (
      not isinstance(model.optimizer, tf.keras.optimizers.legacy.Optimizer)
      and not tf.executing_eagerly()
  ):
    raise errors.ModelError(
        f'the model is compiled with {type(model.optimizer).__name__}, a'
        ' new-style Keras optimizer, which Estimators cannot use in graph'
        ' mode: compile with'
        f' tf.keras.optimizers.legacy.{type(model.optimizer).__name__}(...).'
    )
  subclassed = not (
      model._is_graph_network  # pylint: disable=protected-access
      or isinstance(model, tf.keras.Sequential)
  )
  if subclassed:
    if checkpoint_format == 'checkpoint':
      raise errors.ModelError(
          f'{type(model).__name__} is a subclassed model, which'
          " checkpoint_format='checkpoint' does not support: pass"
          " checkpoint_format='saver', or build it with the functional API."
      )
    fix = (
        f'{type(model).__name__} must implement get_config() and'
        ' from_config(): the Estimator rebuilds the model in its own graph'
        ' from them.'
    )
    try:
      config = model.get_config()
      with tf.keras.utils.custom_object_scope(custom_objects or {}):
        type(model).from_config(config)
    except NotImplementedError as e:
      raise errors.ModelError(fix) from e
    arguments = [
        p
        for p in inspect.signature(type(model).__init__).parameters
        if p not in ('self', 'args', 'kwargs')
    ]
    if not config and arguments:
      # Keras 2.15 falls back to an empty config when __init__ arguments
      # cannot be serialized: the rebuilt model would silently lack them.
      raise errors.ModelError(
          f'{fix} Its automatic config is empty, so the arguments'
          f' {arguments} would be lost.'
      )
  if metric_names_map is not None:
    names = compiled_metric_names(model)
    if set(metric_names_map) != set(names):
      raise errors.ModelError(
          f'metric_names_map keys {sorted(metric_names_map)} must be exactly'
          f' the compiled metric names {names}.'
      )
  if export_outputs is not None:
    unknown = sorted(set(export_outputs) - set(model.output_names))
    if unknown:
      raise errors.ModelError(
          f'export_outputs keys {unknown} are not model outputs; the outputs'
          f' are {list(model.output_names)}.'
      )


def to_estimator(
    keras_model: tf.keras.Model,
    *,
    model_dir: str | None = None,
    config: tf.estimator.RunConfig | None = None,
    checkpoint_format: str = 'checkpoint',
    custom_objects: Mapping[str, Any] | None = None,
    metric_names_map: Mapping[str, str] | None = None,
    export_outputs: Mapping[str, Any] | None = None,
    warm_start_from: Any = None,
    input_fn: Callable[..., Any] | None = None,
) -> tf.estimator.Estimator:
  """`model_to_estimator` that fails early with a message saying what to do.

  Args:
    keras_model: A compiled Keras model (legacy optimizer in graph mode).
    model_dir: The Estimator's model_dir.
    config: The Estimator's RunConfig.
    checkpoint_format: `'checkpoint'` (object-based) or `'saver'`.
    custom_objects: Custom layers etc. needed to rebuild the model.
    metric_names_map: Compiled metric name -> name in the eval results.
    export_outputs: Output name -> `tf.estimator.export.ExportOutput` class.
    warm_start_from: Passed to the Estimator; replaces the warm start from
      the Keras model's current weights.
    input_fn: When given, its structure is checked against the model.

  Returns:
    The Estimator.

  Raises:
    ModelError: The model, a mapping or the input_fn does not fit.
  """
  _check_model(
      keras_model,
      checkpoint_format,
      custom_objects,
      metric_names_map,
      export_outputs,
  )
  if input_fn is not None:
    check = check_input_fn(keras_model, input_fn)
    if not check.ok:
      raise errors.ModelError(
          'input_fn does not fit the model: ' + ' '.join(check.problems)
      )
  estimator = tf.keras.estimator.model_to_estimator(
      keras_model=keras_model,
      model_dir=model_dir,
      config=config,
      checkpoint_format=checkpoint_format,
      custom_objects=custom_objects,
      metric_names_map=metric_names_map,
      export_outputs=export_outputs,
  )
  if warm_start_from is None:
    return estimator
  return tf.estimator.Estimator(
      estimator.model_fn,
      config=estimator.config,
      warm_start_from=warm_start_from,
  )


__all__: Sequence[str] = (
    'InputCheck',
    'check_input_fn',
    'compiled_metric_names',
    'to_estimator',
)
