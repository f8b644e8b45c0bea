"""Keras models as Estimators: `model_to_estimator` with its errors up front.

`tf.keras.estimator.model_to_estimator` finds most mistakes late: a
`metric_names_map` or `export_outputs` typo inside the model_fn, after the
input pipeline has started; features or labels that do not fit the model deep
inside training; a custom object it cannot rebuild at the first `train`.
`to_estimator` accepts every input `model_to_estimator` runs, checks these
when it is called, and says what to change; what it cannot know before the
model_fn runs it leaves to `model_to_estimator`, never refusing a valid use.

Example:
  model.compile(optimizer=tf.keras.optimizers.legacy.SGD(0.1),
                loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  estimator = keras_estimator.to_estimator(
      model, model_dir='/tmp/m', input_fn=train_input_fn)
"""

from collections.abc import Callable, Mapping, Sequence
import contextlib
import dataclasses
import inspect
import random
import sys
from typing import Any

from absl import logging
import numpy as np
import tensorflow as tf

from estimator_migrate import errors

# model_to_estimator reads sample weights from features shaped exactly
# {'features': ..., 'sample_weights': ...}; any other dict is all features.
_WEIGHTED_KEYS = frozenset({'features', 'sample_weights'})
CHECKPOINT_FORMATS = ('checkpoint', 'saver')


@dataclasses.dataclass(frozen=True)
class InputCheck:
  """What the first element of an input_fn holds, and how it fits the model.

  Attributes:
    features: Spec of the features (sample weights split off).
    labels: Spec of the labels, or None.
    problems: What model_to_estimator cannot run, each with what to change.
    notes: What it runs but the user may not expect (ignored keys, checks
      left to model_to_estimator).
    output_names: The outputs as model_to_estimator names them (a subclassed
      model's `output_1`, ... counted by calling it), or None when unknown.
  """

  features: Any
  labels: Any
  problems: tuple[str, ...]
  notes: tuple[str, ...] = ()
  output_names: tuple[str, ...] | None = None

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


def _spec(value):
  return tf.type_spec_from_value(
      tf.compat.v1.convert_to_tensor_or_sparse_tensor(value)
  )


def _structure(input_fn):
  """(features, labels) specs of the input_fn's first element."""
  with tf.Graph().as_default():
    result = _call_input_fn(input_fn)
    if isinstance(result, tf.data.Dataset):
      spec = result.element_spec
    else:
      spec = tf.nest.map_structure(_spec, result)
  if isinstance(spec, tuple) and len(spec) == 2:
    return spec
  return spec, None


def _describe(spec) -> str:
  if isinstance(spec, Mapping):
    return f'a dict with keys {sorted(spec)}'
  if isinstance(spec, (list, tuple)):
    return f'a {type(spec).__name__} of {len(spec)}'
  return 'a single tensor'


def _brief(error: Exception) -> str:
  """One line of a Keras error: its innermost 'SomeError: ...' line."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  inner = [line for line in lines if 'Error: ' in line]
  if inner:
    return inner[-1]
  return f'{type(error).__name__}: {lines[0] if lines else ""}'


def _has_names(model: tf.keras.Model) -> bool:
  """Whether model_to_estimator maps features and labels by layer name."""
  return model._is_graph_network  # pylint: disable=protected-access


@contextlib.contextmanager
def _random_state_kept():
  """Leaves Python's and NumPy's global random state as it found it.

  Keras draws initializer seeds from both when none is given, and so does
  the Estimator's clone of the model: the throwaway models the checks build
  must not change the weights a subclassed model starts from.
  """
  # tf.keras.utils.set_random_seed also installs a generator of Keras's own.
  keras = getattr(sys.modules.get('keras.src.backend'), '_SEED_GENERATOR', None)
  generators = [g for g in (random, getattr(keras, 'generator', None)) if g]
  states = [g.getstate() for g in generators]
  numpy_state = np.random.get_state()
  try:
    yield
  finally:
    for generator, state in zip(generators, states, strict=True):
      generator.setstate(state)
    np.random.set_state(numpy_state)


def _scratch():
  """Where checks build throwaway models: eagerly, or in a graph of their own.

  Never a scratch graph when executing eagerly: building a Keras model in a
  graph swaps its class to the v1 one, which breaks the eager model that
  model_to_estimator then reads (`get_weights` raises AttributeError).
  """
  if tf.executing_eagerly():
    return contextlib.nullcontext()
  return tf.Graph().as_default()


def _input(spec):
  """A symbolic input for one feature: what the model_fn's tensor would be."""
  if tf.executing_eagerly():
    return tf.keras.Input(type_spec=spec)
  if isinstance(spec, tf.SparseTensorSpec):
    return tf.compat.v1.sparse_placeholder(spec.dtype, spec.shape)
  return tf.compat.v1.placeholder(spec.dtype, spec.shape)


def _keras_inputs(spec):
  return tf.nest.map_structure(_input, spec)


def _check_side(what, spec, names, problems, notes):
  """Checks features or labels against named inputs or outputs."""
  if spec is None:
    return
  if isinstance(spec, Mapping):
    missing = sorted(set(names) - set(spec))
    unknown = sorted(set(spec) - set(names))
    if missing:
      problems.append(
          f'{what} keys {sorted(spec)} do not cover the model {what} names'
          f' {list(names)} (missing: {missing}): rename the dict keys, or'
          f' name the Keras Input/output layers to match.'
      )
    elif unknown:
      notes.append(
          f'{what} keys {unknown} are not model {what} names; model_to_estimator'
          ' ignores them.'
      )
  elif isinstance(spec, (list, tuple)):
    if len(spec) != len(names):
      problems.append(
          f'{what} is {_describe(spec)} but the model has {len(names)}'
          f' {what}s {list(names)}: give one per {what}, in that order,'
          f' or a dict keyed by those names.'
      )
  elif len(names) != 1:
    problems.append(
        f'{what} is a single tensor but the model has {len(names)}'
        f' {what}s {list(names)}: return a tuple in that order or a dict'
        ' keyed by those names.'
    )


def _check_weights(weights, names, problems):
  """Sample weights as model_to_estimator's standardize_sample_weights."""
  if weights is None or names is None:
    return
  fix = (
      'give a tuple with one weight per output, in the order'
      f' {list(names)}, or a dict keyed by output names'
  )
  if isinstance(weights, Mapping):
    unknown = sorted(set(weights) - set(names))
    if unknown:
      problems.append(
          f'sample_weights keys {unknown} are not model outputs'
          f' {list(names)}: {fix}.'
      )
  elif isinstance(weights, (list, tuple)):
    if len(names) > 1 and len(weights) != len(names):
      problems.append(
          f'sample_weights is {_describe(weights)} but the model has'
          f' {len(names)} outputs: {fix}.'
      )
  elif len(names) > 1:
    problems.append(
        f'sample_weights is a single tensor but the model has {len(names)}'
        f' outputs: {fix}.'
    )


def _ordered(features, names):
  """Features as the list model_to_estimator passes to a named model."""
  if isinstance(features, Mapping):
    return [features[name] for name in names]
  if isinstance(features, (list, tuple)):
    return list(features)
  return [features]


def _check_rebuild(model, features, custom_objects, problems):
  """Rebuilds a functional or Sequential model on the features' specs.

  model_to_estimator clones the model in the Estimator's graph from its
  config, on the input_fn's tensors, then warm-starts it from the Keras
  weights: the clone must build (custom objects known) with every weight
  of the same shape.
  """
  with _scratch(), tf.keras.utils.custom_object_scope(custom_objects or {}):
    inputs = None
    if features is not None:
      inputs = _keras_inputs(_ordered(features, model.input_names))
    try:
      clone = tf.keras.models.clone_model(model, input_tensors=inputs)
    except Exception as e:  # pylint: disable=broad-except
      problems.append(
          f'the model cannot be rebuilt from its config, as the Estimator'
          f' does in its own graph: {_brief(e)}. Pass'
          ' custom_objects={name: object} for every custom layer, function'
          ' or class it names.'
      )
      return
    changed = [
        f'{w.name} {w.shape} -> {c.shape}'
        for w, c in zip(model.weights, clone.weights, strict=False)
        if w.shape != c.shape
    ]
  if changed:
    problems.append(
        "on the input_fn's features the rebuilt model has weights of other"
        f' shapes than the Keras model ({", ".join(changed)}), so the'
        ' Estimator cannot start from its weights: make each feature the'
        ' shape of its Input.'
    )


def _subclassed_outputs(model, features, custom_objects, problems):
  """Number of outputs of a fresh copy called on the features, or None."""
  with _scratch(), tf.keras.utils.custom_object_scope(custom_objects or {}):
    inputs = _keras_inputs(features)
    if isinstance(inputs, (list, tuple)):
      inputs = inputs[0] if len(inputs) == 1 else list(inputs)
    try:
      outputs = type(model).from_config(model.get_config())(inputs)
    except Exception as e:  # pylint: disable=broad-except
      problems.append(
          f"{type(model).__name__}.call() fails on the input_fn's features"
          f' ({_describe(features)}), which model_to_estimator passes to it'
          f' as they are (a one-element tuple or list unwrapped):'
          f' {_brief(e)}. Return features in the structure'
          ' call() takes.'
      )
      return None
  return len(tf.nest.flatten(outputs))


def _check_subclassed_labels(labels, count, problems):
  """model_to_estimator names a subclassed model's outputs output_1, ..."""
  if labels is None:
    return
  given = len(labels) if isinstance(labels, (Mapping, list, tuple)) else 1
  if isinstance(labels, Mapping):
    expected = [f'output_{i}' for i in range(1, len(labels) + 1)]
    if set(labels) != set(expected):
      problems.append(
          f'labels keys {sorted(labels)} are not {expected}: model_to_estimator'
          ' names the outputs of a subclassed model output_1, output_2, ...;'
          ' key the labels so, or return a tuple in output order.'
      )
  if count is not None and given != count:
    problems.append(
        f'labels is {_describe(labels)} but the model returns {count}'
        ' outputs: give one label per output.'
    )


def check_input_fn(
    model: tf.keras.Model,
    input_fn: Callable[..., Any],
    custom_objects: Mapping[str, Any] | None = None,
) -> InputCheck:
  """Checks an input_fn's structure (not its data) against a Keras model.

  Features and labels are matched as model_to_estimator matches them: dicts
  by input/output name (extra keys ignored), tuples and lists by position, a
  single tensor to a single input or output. A functional or Sequential
  model is rebuilt on the features' specs; a subclassed model (no names) is
  rebuilt from its config and called on them.

  Args:
    model: The compiled Keras model the Estimator wraps.
    input_fn: Returns a `tf.data.Dataset` of `(features, labels)` or the
      tuple itself; features may be `{'features': ..., 'sample_weights': ...}`.
    custom_objects: Needed to rebuild the model, as for `to_estimator`.

  Returns:
    The specs seen, the problems (empty when everything fits) and notes.
  """
  with _random_state_kept():
    return _check_input_fn(model, input_fn, custom_objects)


def _check_input_fn(model, input_fn, custom_objects) -> InputCheck:
  features, labels = _structure(input_fn)
  weights = None
  if isinstance(features, Mapping) and set(features) == _WEIGHTED_KEYS:
    features, weights = features['features'], features['sample_weights']
  problems, notes = [], []
  outputs = None
  if _has_names(model):
    outputs = list(model.output_names)
    _check_side('input', features, model.input_names, problems, notes)
    _check_side('output', labels, outputs, problems, notes)
  elif isinstance(model, tf.keras.Sequential):
    notes.append(
        'the Sequential model has no Input yet, so model_to_estimator builds'
        ' it on the features: their structure is checked only then.'
    )
  else:
    count = _subclassed_outputs(model, features, custom_objects, problems)
    _check_subclassed_labels(labels, count, problems)
    outputs = None if count is None else _subclassed_names(count)
  _check_weights(weights, outputs, problems)
  if not problems and _has_names(model):
    _check_rebuild(model, features, custom_objects, problems)
  return InputCheck(
      features,
      labels,
      tuple(problems),
      tuple(notes),
      None if outputs is None else tuple(outputs),
  )


def _subclassed_names(count: int) -> list[str]:
  return [f'output_{i}' for i in range(1, count + 1)]


def _metric_name(metric, weighted: bool) -> str:
  """Keras's v1 `get_metric_name`, which model_to_estimator's clone uses."""
  if tf.__internal__.tf2.enabled():
    if isinstance(metric, str):
      return metric
  elif metric in ('accuracy', 'acc', 'crossentropy', 'ce'):
    suffix = 'acc' if metric in ('accuracy', 'acc') else 'ce'
    return ('weighted_' if weighted else '') + suffix
  metric = tf.keras.metrics.get(metric)
  name = getattr(metric, 'name', None) or metric.__name__
  return (
      name
      if tf.__internal__.tf2.enabled() or not weighted
      else ('weighted_' + name)
  )


def _per_output(metrics, outputs) -> list[list[Any]]:
  if not metrics:
    return [[] for _ in outputs]
  if isinstance(metrics, Mapping):
    return [tf.nest.flatten(metrics.get(name, [])) for name in outputs]
  if any(isinstance(m, list) for m in metrics):
    return [tf.nest.flatten(m) for m in metrics]
  return [list(metrics) for _ in outputs]


def compiled_metric_names(
    model: tf.keras.Model, output_names: Sequence[str] | None = None
) -> list[str]:
  """The eval metric names model_to_estimator gives the compiled metrics.

  Keras names a metric by its string ('accuracy'), its object's `name` or
  its function's `__name__`, prefixed with the output name when the model
  has several outputs, and made unique with `_1`, `_2`, ... Works for models
  compiled eagerly or in graph mode.

  Args:
    model: A compiled Keras model.
    output_names: Its outputs as model_to_estimator names them; defaults to
      `model.output_names` (a subclassed model has none before it is cloned).

  Returns:
    The names, in Keras's order.
  """
  outputs = list(output_names or model.output_names)
  compiled = getattr(model, 'compiled_metrics', None)
  if compiled is not None:
    metrics = compiled._user_metrics  # pylint: disable=protected-access
    weighted = compiled._user_weighted_metrics  # pylint: disable=protected-access
  else:  # compiled in graph mode (Keras's v1 training loop)
    metrics = getattr(model, '_compile_metrics', None)
    weighted = getattr(model, '_compile_weighted_metrics', None)
  taken = {'loss'} | (
      {f'{out}_loss' for out in outputs} if len(outputs) > 1 else set()
  )
  names = []
  per_output = zip(
      _per_output(metrics, outputs),
      _per_output(weighted, outputs),
      strict=True,
  )
  for index, (plain, weighted_metrics) in enumerate(per_output):
    for metrics_of, is_weighted in ((plain, False), (weighted_metrics, True)):
      seen = {}
      for metric in metrics_of:
        seen.setdefault(_metric_name(metric, is_weighted), metric)
      for name, metric in seen.items():
        if len(outputs) > 1 and not getattr(metric, '_from_serialized', False):
          name = f'{outputs[index]}_{name}'
        unique, i = name, 1
        while unique in taken:
          unique, i = f'{name}_{i}', i + 1
        taken.add(unique)
        names.append(unique)
  return names


def _check_optimizer(model) -> None:
  if not getattr(model, 'optimizer', None):
    raise errors.ModelError(
        'keras_model is not compiled: call model.compile(optimizer='
        'tf.keras.optimizers.legacy.<Optimizer>(...), loss=..., metrics=...)'
        ' first.'
    )
  optimizer = model.optimizer
  # model_to_estimator converts a new-style optimizer to its legacy twin when
  # executing eagerly; in graph mode it cannot. Legacy optimizers and the
  # TFOptimizer wrapper Keras puts around tf.compat.v1.train optimizers run.
  if (
      isinstance(optimizer, tf.keras.optimizers.experimental.Optimizer)
      and not tf.executing_eagerly()
  ):
    name = type(optimizer).__name__
    legacy = (
        f'tf.keras.optimizers.legacy.{name}(...)'
        if hasattr(tf.keras.optimizers.legacy, name)
        else 'a tf.keras.optimizers.legacy.Optimizer subclass'
    )
    raise errors.ModelError(
        f'keras_model is compiled with {name}, a new-style Keras optimizer,'
        ' which Estimators cannot use in graph mode: compile with'
        f' {legacy} or a tf.compat.v1.train optimizer.'
    )


def _check_subclassed(model, checkpoint_format, custom_objects) -> None:
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


def _check_outputs(model, outputs, metric_names_map, export_outputs) -> None:
  """Checks the mappings keyed by metric or output names."""
  if metric_names_map is not None:
    names = compiled_metric_names(model, outputs)
    if set(metric_names_map) != set(names):
      raise errors.ModelError(
          f'metric_names_map keys {sorted(metric_names_map)} must be exactly'
          f' the compiled metric names {names}.'
      )
  if export_outputs is not None:
    unknown = sorted(set(export_outputs) - set(outputs))
    if unknown:
      raise errors.ModelError(
          f'export_outputs keys {unknown} are not model outputs; the outputs'
          f' are {list(outputs)}.'
      )


def _check_arguments(keras_model, keras_model_path, model_dir, config, fmt):
  if (keras_model is None) == (keras_model_path is None):
    raise errors.ModelError(
        'pass exactly one of keras_model= (a compiled Keras model) and'
        f' keras_model_path= (a saved one); received'
        f' keras_model={type(keras_model).__name__},'
        f' keras_model_path={keras_model_path!r}.'
    )
  if fmt not in CHECKPOINT_FORMATS:
    raise errors.ModelError(
        f'checkpoint_format={fmt!r} is not one of {list(CHECKPOINT_FORMATS)}.',
        argument='checkpoint_format',
    )
  if config is not None and not isinstance(config, tf.estimator.RunConfig):
    raise errors.ModelError(
        f'config= must be a tf.estimator.RunConfig; received {type(config)}.',
        argument='config',
    )
  if (
      model_dir is not None
      and config is not None
      and config.model_dir is not None
      and str(model_dir) != config.model_dir
  ):
    raise errors.ModelError(
        f'model_dir={str(model_dir)!r} differs from config.model_dir='
        f'{config.model_dir!r}: pass one of them, or the same directory.',
        argument='model_dir',
    )


def _load(keras_model_path, custom_objects) -> tf.keras.Model:
  try:
    return tf.keras.models.load_model(
        keras_model_path, custom_objects=custom_objects
    )
  except (OSError, ValueError, TypeError) as e:
    raise errors.ModelError(
        f'keras_model_path={keras_model_path!r} cannot be loaded as a Keras'
        f' model: {_brief(e)}. Pass the path model.save() wrote (HDF5 file or'
        ' SavedModel directory), with custom_objects= for its custom layers.',
        argument='keras_model_path',
    ) from e


def _check(model, checkpoint_format, custom_objects, input_fn):
  """Every check of the model: returns its output names (or None) and notes."""
  _check_optimizer(model)
  subclassed = not _has_names(model) and not isinstance(
      model, tf.keras.Sequential
  )
  if subclassed:
    _check_subclassed(model, checkpoint_format, custom_objects)
  if input_fn is not None:
    check = check_input_fn(model, input_fn, custom_objects)
    if not check.ok:
      raise errors.ModelError(
          'input_fn does not fit the model: ' + ' '.join(check.problems)
      )
    return check.output_names, check.notes
  if not _has_names(model):
    return None, ()
  problems = []
  _check_rebuild(model, None, custom_objects, problems)
  if problems:
    raise errors.ModelError(problems[0])
  return tuple(model.output_names), ()


def to_estimator(
    keras_model: tf.keras.Model | None = None,
    *,
    keras_model_path: str | None = None,
    model_dir: str | None = None,
    config: tf.estimator.RunConfig | None = None,
    checkpoint_format: str | None = 'checkpoint',
    custom_objects: Mapping[str, Any] | None = None,
    metric_names_map: Mapping[str, str] | None = None,
    export_outputs: Mapping[str, Any] | None = None,
    warm_start_from: Any = None,
    input_fn: Callable[..., Any] | None = None,
) -> tf.estimator.Estimator:
  """`model_to_estimator` that fails early with a message saying what to do.

  Accepts every input `tf.keras.estimator.model_to_estimator` runs. Checked
  before the Estimator exists: the arguments; the model is compiled, with an
  optimizer Estimators can run in the current mode; a subclassed model
  round-trips through its config and uses `checkpoint_format='saver'`; the
  model rebuilds from its config (custom objects); `metric_names_map` and
  `export_outputs` keys; and, with `input_fn=`, the structure of its first
  element against the model (see `check_input_fn`).

  Args:
    keras_model: A compiled Keras model; or pass `keras_model_path`.
    keras_model_path: A model saved with `model.save()`, loaded here with
      `custom_objects` and then checked as `keras_model` is.
    model_dir: The Estimator's model_dir.
    config: The Estimator's RunConfig.
    checkpoint_format: `'checkpoint'` (object-based; None means this) or
      `'saver'` (name-based, required for subclassed models).
    custom_objects: Custom layers etc. needed to rebuild the model.
    metric_names_map: Compiled metric name -> name in the eval results.
    export_outputs: Output name -> `tf.estimator.export.ExportOutput` class.
    warm_start_from: Passed to the Estimator; replaces the warm start from
      the Keras model's current weights.
    input_fn: When given, its structure is checked against the model; keys
      model_to_estimator ignores are logged as warnings.

  Returns:
    The Estimator.

  Raises:
    ModelError: An argument, the model, a mapping or the input_fn does not
      fit; the message says what to change.
  """
  checkpoint_format = checkpoint_format or 'checkpoint'
  _check_arguments(
      keras_model, keras_model_path, model_dir, config, checkpoint_format
  )
  if keras_model is None:
    keras_model = _load(keras_model_path, custom_objects)
  with _random_state_kept():
    outputs, notes = _check(
        keras_model, checkpoint_format, custom_objects, input_fn
    )
    if outputs is not None:  # else model_to_estimator checks in the model_fn
      _check_outputs(keras_model, outputs, metric_names_map, export_outputs)
  for note in notes:
    logging.warning('to_estimator: %s', note)
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
  return type(estimator)(
      estimator.model_fn,
      config=estimator.config,
      warm_start_from=warm_start_from,
  )


__all__: Sequence[str] = (
    'CHECKPOINT_FORMATS',
    'InputCheck',
    'check_input_fn',
    'compiled_metric_names',
    'to_estimator',
)
