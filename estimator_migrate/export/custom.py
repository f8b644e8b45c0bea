"""Custom estimators out: `keras_model_to_keras` and the result it returns.

An estimator built with `model_fn.make_model_fn(build_model, ...)` or
`keras_estimator.to_estimator(model)` holds a Keras 2 model in its
checkpoint. `keras_model_to_keras` carries its weights and optimizer state
into the same model built by the user's builder on Keras 3, in the canned
exporter's layout: `model.py` (importing the builder by its `module:function`
reference), `spec.json`, `weights.npz`, `report.md` and, on request,
`saved_model/`.
"""

from collections.abc import Callable, Mapping
import dataclasses
import importlib
import json
import os

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import report as report_lib
from estimator_migrate.export import codegen
from estimator_migrate.export import custom_checkpoint
from estimator_migrate.export import custom_serving
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import spec as spec_lib

TEMPLATE = codegen.CUSTOM_TEMPLATE
# Keras 3 classes `keras3/custom_model.py` restores state into: the update
# rule is Keras 2's for dense gradients (`optimizer_state.KERAS3` notes).
COMPILABLE = ('Adam', 'Ftrl', 'SGD')


@dataclasses.dataclass(frozen=True)
class CustomExportResult:
  """A custom estimator's model on Keras 3, ready to be saved."""

  builder: str
  prefix: str
  global_step: int | None
  spec: spec_lib.CustomSpec
  arrays: dict
  optimizer_notes: tuple[str, ...] = ()
  # Weight -> its checkpoint tensor, where the names differ (a model built
  # by its first call names its weights under its own name).
  checkpoint_keys: dict = dataclasses.field(default_factory=dict)
  code: str = ''  # model.py's generated `serving_model`, when serving
  serving_mappings: tuple = ()  # model_fn_graph.LayerMapping, when serving

  def report(self) -> str:
    """Every weight: which checkpoint tensor fills it; the optimizer."""
    model = self.spec.model
    weights = [
        (kind, position, name)
        for kind, names in (
            ('trainable', model.trainable),
            ('non_trainable', model.non_trainable),
        )
        for position, name in enumerate(names)
    ]
    rows = [
        (
            kind,
            position,
            f'`{path}`',
            self.checkpoint_keys.get(name, name),
            'x'.join(map(str, model.shapes[name])),
        )
        for (kind, position, name), path in zip(
            weights, model.weight_paths, strict=True
        )
    ]
    lines = [
        f'# Custom estimator exported to Keras 3: `{self.builder}`',
        '',
        f'Checkpoint: `{self.prefix}` (global step {self.global_step},'
        f' {model.checkpoint_format}).',
        '',
        '## Weights, matched by layer (the Keras 2 path)',
        '',
        report_lib.markdown_table(
            ('kind', 'position', 'Keras 2 path', 'checkpoint tensor', 'shape'),
            rows,
        ),
        '',
        *codegen.optimizer_report(
            self.spec.training, self._optimizer_line, self.optimizer_notes
        ),
        *self._serving_report(),
    ]
    return '\n'.join(lines) + '\n'

  def _serving_report(self) -> list[str]:
    serving = self.spec.serving
    if serving is None:
      return []
    rows = [
        (key, s.method, ', '.join(f'{k} <- {v}' for k, v in s.outputs.items()))
        for key, s in serving.signatures.items()
    ]
    steps = [(m.what, m.keras, m.line or '') for m in self.serving_mappings]
    return [
        '',
        "## Serving (saved_model/): the estimator's signatures",
        '',
        report_lib.markdown_table(('signature', 'method', 'outputs'), rows),
        '',
        "model.py's `serving_model(model)`, read from the model_fn:",
        '',
        report_lib.markdown_table(('TF 2.15', 'Keras 3', 'line'), steps),
    ]

  def _optimizer_line(self, optimizers: tuple[spec_lib.Optimizer, ...]) -> str:
    (optimizer,) = optimizers
    name = optimizer.keras_class
    return (
        f'{name} (Keras 3 `keras.optimizers.{name}`),'
        f' iterations {optimizer.iterations}, '
        + ', '.join(f'{k}={v}' for k, v in optimizer.config.items())
        + f'; loss `{spec_lib.thaw(self.spec.loss)}`.'
    )

  def save(self, target: str, saved_model: bool = False) -> str:
    """Writes model.py, spec.json, weights.npz and report.md into `target`.

    Written as the canned export is (`codegen.write`).

    Args:
      target: A new (or empty) directory outside the checkpoint's model_dir.
      saved_model: Also write `saved_model/` in the modern environment.

    Returns:
      `target`.

    Raises:
      MigrationError: `target` is not allowed, exists and is not empty, is
        being written by another export or cannot be written; or, with
        `saved_model`, no modern environment or the builder fails there.
    """
    return codegen.write(
        target,
        template=TEMPLATE,
        source=self.builder,
        prefix=self.prefix,
        spec=self.spec,
        report=self.report(),
        arrays=self.arrays,
        saved_model=saved_model,
        generated=self.code,
    )


def resolve_builder(
    build_model, argument: str = 'build_model'
) -> tuple[str, Callable, str]:
  """(`module:function` reference, the function, its sys.path root).

  Args:
    build_model: `'module:function'` or a module-level function.
    argument: The argument it was given as (named in errors).

  Raises:
    ModelError: Not a reference or an importable module-level function.
  """
  if isinstance(build_model, str):
    module_name, _, attribute = build_model.rpartition(':')
  else:
    module_name = getattr(build_model, '__module__', None) or ''
    attribute = getattr(build_model, '__qualname__', '')
  if (
      not module_name
      or not attribute
      or module_name == '__main__'
      or '<' in attribute
  ):
    raise errors.ModelError(
        f'{argument} {build_model!r} cannot be imported by reference:'
        ' give `module:function` (e.g. my_pkg.models:build) or a function'
        ' defined at module level in an importable module.',
        argument=argument,
    )
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise errors.ModelError(
        f'{argument} {build_model!r}: cannot import {module_name!r} ({e}).'
        ' Put its package on PYTHONPATH.',
        argument=argument,
    ) from e
  function = module
  for part in attribute.split('.'):
    function = getattr(function, part, None)
  if not callable(function):
    raise errors.ModelError(
        f'{argument} {build_model!r}: {module_name!r} has no function'
        f' {attribute!r}.',
        argument=argument,
    )
  root = os.path.abspath(module.__file__)
  for _ in module_name.split('.'):
    root = os.path.dirname(root)
  if os.path.basename(module.__file__) == '__init__.py':
    root = os.path.dirname(root)
  return f'{module_name}:{attribute}', function, root


def keras_model_to_keras(
    model_dir: str,
    build_model: str | Callable,
    *,
    params: Mapping | None = None,
    loss=None,
    optimizer=None,
    serving_input_receiver_fn: Callable | None = None,
    model_fn: str | Callable | None = None,
    export_outputs: Mapping | None = None,
) -> CustomExportResult:
  """Carries a custom estimator's Keras model to Keras 3.

  Args:
    model_dir: The estimator's model_dir or a checkpoint prefix.
    build_model: The builder the estimator was made from, as
      `'module:function'` or the function itself (module level, importable):
      `make_model_fn`'s `build_model`, or a function returning the model
      given to `to_estimator`. It is called with `params` if it takes an
      argument. It must build the same model on Keras 3 (e.g. through
      `tf.keras`, which is Keras 3 on current TensorFlow).
    params: The estimator's params (what `make_model_fn` passes the
      builder); JSON-serializable.
    loss: The loss trained with (a Keras loss name or object): needed for
      `load(compile=True)` unless the builder compiles the model.
    optimizer: The optimizer argument trained with (name, Keras 2 legacy
      optimizer, or factory): its Python-side config (epsilon, nesterov) is
      carried; a compiled model's optimizer is used if not given.
    serving_input_receiver_fn: The receiver the estimator is exported with:
      `saved_model/` then serves the signatures the estimator's
      `export_outputs` declare, as its own SavedModel does (without it,
      one `serving_default` taking the model's inputs).
    model_fn: For a `make_model_fn` estimator, the model_fn it was built
      with (`'module:function'` or the function): run in PREDICT mode to
      read its predictions and export_outputs. Without it, the estimator
      is read as `to_estimator`'s.
    export_outputs: For a `to_estimator` estimator, the `export_outputs`
      it was given (output name -> ExportOutput class).

  Returns:
    The export; `save(directory)` writes it.

  Raises:
    ModelError: `build_model` is not importable or builds no Keras model.
    CheckpointError: No checkpoint, or the built model does not match it
      (the message names each differing position).
    MigrationError: `params` or `loss` cannot be stored; `model_fn` or
      `export_outputs` without `serving_input_receiver_fn`.
    ServingError: A receiver or export output the export cannot reproduce.
    ModelFnError: What the estimator serves is computed by an op without
      an exact Keras 3 mapping (named, with its line).
  """
  if not model_dir:
    raise errors.CheckpointError(
        'model_dir is empty: give the estimator model_dir or a checkpoint'
        ' prefix.',
        argument='model_dir',
    )
  reference, builder, root = resolve_builder(build_model)
  try:
    params_json = json.loads(json.dumps(dict(params or {})))
  except TypeError as e:
    raise errors.MigrationError(
        f'params is not JSON-serializable ({e}): model.py passes the builder'
        ' the params it stores; give plain values.'
    ) from e
  served = _serving(
      reference,
      builder,
      params,
      serving_input_receiver_fn,
      model_fn,
      export_outputs,
  )
  found = custom_checkpoint.match(model_dir, builder, params, optimizer)
  reader = found.reader  # every byte checked against its CRC-32C
  try:
    arrays = {
        name: reader.get_array(found.keys[name])
        for name in found.trainable + found.non_trainable
    }
    compiled = getattr(found.keras2_model, 'optimizer', None)
    state = optimizer_state.read_state(
        _ViewReader(reader, found.optimizer_view),
        found.optimizer_view,
        list(found.trainable),
        {'': optimizer if optimizer is not None else compiled},
        found.global_step,
    )
  except BaseException:
    reader.source.close()
    raise
  reader.finish()
  reason = _compile_unavailable(state, found)
  if loss is None:
    loss = getattr(found.keras2_model, 'loss', None)
  spec = spec_lib.CustomSpec(
      model=spec_lib.CustomModel(
          builder=reference,
          builder_path=root,
          params=params_json,
          checkpoint_format='object-based' if found.object_based else 'named',
          trainable=found.trainable,
          non_trainable=found.non_trainable,
          shapes=found.shapes,
          weight_paths=found.paths,
      ),
      training=spec_lib.Training.of(state.entries, reason),
      loss=loss_config(loss),
      serving=served.serving if served else None,
  )
  return CustomExportResult(
      builder=reference,
      prefix=found.prefix,
      global_step=found.global_step,
      spec=spec,
      arrays={**arrays, **({} if reason else state.arrays)},
      optimizer_notes=() if reason else state.notes,
      checkpoint_keys={
          name: key
          for name, key in found.keys.items()
          if key != name and not found.object_based
      },
      code=served.code if served else '',
      serving_mappings=served.mappings if served else (),
  )


def _serving(
    reference, builder, params, receiver_fn, model_fn, export_outputs
) -> custom_serving.CustomServing | None:
  """What saved_model/ serves: the estimator's signatures, if a receiver."""
  if receiver_fn is None:
    given = [
        n
        for n, v in (('model_fn', model_fn), ('export_outputs', export_outputs))
        if v is not None
    ]
    if given:
      raise errors.MigrationError(
          f"{given[0]} is read only to serve the estimator's signatures:"
          ' give serving_input_receiver_fn too (the receiver the estimator'
          ' is exported with).',
          argument=given[0],
      )
    return None
  if isinstance(model_fn, str):
    _, model_fn, _ = resolve_builder(model_fn, argument='model_fn')
  return custom_serving.read(
      reference,
      builder,
      params,
      receiver_fn,
      model_fn=model_fn,
      export_outputs=export_outputs,
  )


class _ViewReader:
  """A checkpoint reader seen under the canned `training/...` names."""

  def __init__(self, reader, view: Mapping[str, str]):
    self._reader = reader
    self._view = view

  def get_tensor(self, name: str):
    return self._reader.get_tensor(self._view[name])

  def get_array(self, name: str):
    return self._reader.get_array(self._view[name])


def _compile_unavailable(state, found) -> str | None:
  if not found.optimizer_view:
    return (
        'the checkpoint holds no Keras optimizer state (a'
        ' tf.compat.v1.train optimizer, or none); only Keras 2 legacy'
        ' optimizers are carried'
    )
  if state.reason:
    return state.reason
  if len(state.entries) != 1:
    return f'{len(state.entries)} optimizers; one is carried'
  klass = state.entries[0]['class']
  if klass not in COMPILABLE:
    return (
        f'{klass}: model.py restores {list(COMPILABLE)} (Keras 3 Adagrad'
        ' divides by sqrt(acc + eps), Keras 2 by sqrt(acc) + eps)'
    )
  return None


def loss_config(loss):
  """The loss as Keras 3's `keras.losses.get` takes it (JSON), or None.

  Raises:
    MigrationError: Not a Keras loss name, function or class instance, or a
      reduction Keras 3 cannot express.
  """
  if loss is None or isinstance(loss, str):
    return loss
  if isinstance(loss, tf.keras.losses.Loss):
    config = dict(loss.get_config())
    config.pop('fn', None)
    reduction = config.pop('reduction', 'auto')
    if reduction not in ('auto', 'sum_over_batch_size', 'sum'):
      raise errors.MigrationError(
          f'loss {type(loss).__name__} reduction {reduction!r}: fit needs a'
          ' scalar loss; use sum_over_batch_size (auto) or sum.'
      )
    config['reduction'] = 'sum' if reduction == 'sum' else None
    if config['reduction'] is None:
      config.pop('reduction')
    return {'class_name': type(loss).__name__, 'config': config}
  if callable(loss) and getattr(loss, '__module__', '').startswith('keras'):
    return loss.__name__
  raise errors.MigrationError(
      f'loss {loss!r}: give a Keras loss name (e.g.'
      " 'sparse_categorical_crossentropy') or a built-in Keras loss object;"
      ' a custom loss is compiled by your builder on Keras 3.'
  )


__all__ = ['CustomExportResult', 'keras_model_to_keras']
