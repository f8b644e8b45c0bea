"""Custom `model_fn`s out: `model_fn_to_keras`, no hand-written twin.

The user's TF 1.x `model_fn` is run on TF 2.15 as the Estimator runs it
(`model_fn_trace`), in PREDICT mode for the model and in TRAIN mode for its
loss and optimizers. Its PREDICT graph becomes Keras 3 code
(`model_fn_graph`): one Keras layer per TF 1.x layer, named after its
variable scope, the canned exit's column layers for feature columns,
`keras.ops` for the ops between them. What has no exact mapping is refused
before anything is written.

The export directory is the canned exit's: `model.py` (the canned template,
whose layers and `load()` it uses, followed by the generated
`build_model`), `spec.json` (`spec.ModelFnSpec`), `weights.npz` (read
through the converter's checked reader), `report.md`, `integrity.json`,
optionally `saved_model/`.
"""

from collections.abc import Callable, Mapping
import dataclasses

import numpy as np

from estimator_migrate import errors
from estimator_migrate import report as report_lib
from estimator_migrate.export import codegen
from estimator_migrate.export import custom
from estimator_migrate.export import model_fn_graph
from estimator_migrate.export import model_fn_losses
from estimator_migrate.export import model_fn_trace
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import signatures
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.export import weights as weights_lib

ModelFnError = model_fn_trace.ModelFnError


@dataclasses.dataclass(frozen=True)
class ModelFnExportResult:
  """A custom model_fn's model on Keras 3, ready to be saved."""

  model_fn: str
  prefix: str
  global_step: int | None
  spec: spec_lib.ModelFnSpec
  arrays: dict
  code: str
  mappings: tuple[model_fn_graph.LayerMapping, ...]
  optimizer_notes: tuple[str, ...] = ()

  def report(self) -> str:
    """Each TF 1.x step and its Keras 3 layer; every weight; the training."""
    model = self.spec.model
    lines = [
        f'# model_fn `{self.model_fn}` exported to Keras 3',
        '',
        f'Checkpoint: `{self.prefix}` (global step {self.global_step}).',
        'Read from the graph the model_fn builds in PREDICT mode; model.py'
        ' ends with the generated `build_model`.',
        '',
        '## Layers',
        '',
        report_lib.markdown_table(
            ('TF 1.x', 'Keras 3', 'model_fn line'),
            [(m.what, m.keras, m.line or '') for m in self.mappings],
        ),
        '',
        '## Variables',
        '',
        report_lib.markdown_table(
            ('Keras layer', 'checkpoint variable', 'shape'),
            [
                (layer, name, 'x'.join(map(str, self.arrays[name].shape)))
                for layer, names in sorted(model.weights.items())
                for name in names
            ],
        ),
        '',
        f'Outputs: {", ".join(f"`{k}`" for k in model.outputs)}.',
        '',
        *codegen.optimizer_report(
            self.spec.training, self._training_line, self.optimizer_notes
        ),
    ]
    return '\n'.join(lines) + '\n'

  def _training_line(self, optimizers) -> str:
    losses = ' + '.join(
        f'{loss.keras_class}({loss.output!r})' for loss in self.spec.losses
    )
    names = ', '.join(
        f'{o.keras_class} (iterations {o.iterations}, {len(o.variables)}'
        ' variables)'
        for o in optimizers
    )
    return f'Loss: {losses}. Optimizers: {names}.'

  def save(self, target: str, saved_model: bool = False) -> str:
    """Writes the export directory into `target` (as `codegen.write`).

    Raises:
      MigrationError: See `codegen.write`; the target is left as it was.
    """
    return codegen.write(
        target,
        template=codegen.TEMPLATE,
        source=self.model_fn,
        prefix=self.prefix,
        spec=self.spec,
        report=self.report(),
        arrays=self.arrays,
        saved_model=saved_model,
        generated=self.code,
    )


def _check_features(features) -> dict[str, np.ndarray]:
  if not isinstance(features, Mapping) or not features:
    raise ModelFnError(
        'features must be one batch of the feature dict (numpy arrays, as'
        f' the input_fn yields), not {type(features).__name__}: it fixes'
        ' the names, dtypes and shapes of the inputs.',
    )
  out = {}
  sizes = set()
  for key, value in features.items():
    array = np.asarray(value)
    if array.ndim == 0 or array.dtype.kind not in 'biufOSU':
      raise ModelFnError(
          f'features[{key!r}] is {array.dtype} of shape {array.shape}: give'
          ' each feature as a [batch, ...] numpy array.',
      )
    out[str(key)] = array
    sizes.add(array.shape[0])
  if len(sizes) != 1:
    raise ModelFnError(
        f'features have different batch sizes {sorted(sizes)}: give one batch.',
    )
  return out


def _code(reference: str, program: model_fn_graph.Program) -> str:
  """The generated part of model.py: `build_model` for this model_fn."""
  body = [
      'inputs = _inputs(spec)',
      'ids = _ids(spec, inputs)',
      "initializer = 'zeros' if restoring else 'glorot_uniform'",
      *program.lines,
      'outputs = {',
      *(f'    {key!r}: {name},' for key, name in program.outputs.items()),
      '}',
      f'return EstimatorModel(inputs, outputs, name={"model_fn"!r})',
  ]
  return '\n'.join(
      [
          '',
          '',
          '# ' + '-' * 76,
          f'# The model_fn {reference}, read from the graph it builds in',
          '# PREDICT mode. Replaces the canned build_model above; load() uses',
          '# it. One Keras layer per TF 1.x layer, named after its variable',
          '# scope; keras.ops for the ops between them.',
          '',
          '',
          'def build_model(spec, restoring=False):  # noqa: F811',
          f'  """The model_fn `{reference}`.',
          '',
          '  As a Keras 3 model: the feature dict to every prediction key (and',
          '  any tensor the TRAIN loss reads).',
          '  """',
          *(f'  {line}' for line in body),
          '',
          '',
          model_fn_losses.LOSS_CODE,
      ]
  )


def model_fn_to_keras(
    model_fn: str | Callable,
    model_dir: str,
    *,
    features: Mapping[str, np.ndarray],
    params: Mapping | None = None,
    labels=None,
    serving_input_receiver_fn: Callable | None = None,
) -> ModelFnExportResult:
  """Carries a custom TF 1.x `model_fn`'s trained model to Keras 3.

  Args:
    model_fn: The Estimator's model_fn, as `'module:function'` or the
      function itself (any callable: model.py does not import it).
    model_dir: The estimator's model_dir or a checkpoint prefix.
    features: One batch of the feature dict (numpy arrays, as the input_fn
      yields them): fixes the inputs' names, dtypes and shapes.
    params: The Estimator's params.
    labels: One batch of labels (an array or a dict of arrays) for the
      TRAIN mode trace that reads the loss and optimizers; without it,
      `load(compile=True)` is not available.
    serving_input_receiver_fn: The receiver the estimator is exported with:
      `saved_model/` then serves the signatures the model_fn's
      `export_outputs` declare, as the estimator's SavedModel does
      (without it, one `serving_default` taking the feature dict).

  Returns:
    The export; `save(directory)` writes it.

  Raises:
    ModelFnError: The model_fn fails, or builds an op, layer or call
      without an exact Keras 3 mapping (named, with its scope and line).
    ColumnError: A feature column the canned exit does not carry.
    CheckpointError: No checkpoint, one of another model, or corrupt data.
    ServingError: A receiver the export cannot reproduce.
  """
  if not model_dir:
    raise errors.CheckpointError(
        'model_dir is empty: give the estimator model_dir or a checkpoint'
        ' prefix.',
        argument='model_dir',
    )
  if callable(model_fn):  # read here, never imported by model.py
    function = model_fn
    reference = (
        f'{getattr(model_fn, "__module__", "?")}:'
        f'{getattr(model_fn, "__qualname__", type(model_fn).__name__)}'
    )
  else:
    reference, function, _ = custom.resolve_builder(
        model_fn, argument='model_fn'
    )
  batch = _check_features(features)
  predict = model_fn_trace.trace(
      function, batch, mode=model_fn_trace.PREDICT, params=params
  )
  predictions = predict.predictions()
  training = model_fn_losses.read_training(
      function, batch, params, labels, predictions, predict
  )
  declared, served = {}, {}
  if serving_input_receiver_fn is not None:
    declared, served = signatures.declared_outputs(
        predict.spec.export_outputs,
        {**predictions, **training.extra_outputs},
    )
  program = model_fn_graph.read(
      predict,
      {**predictions, **training.extra_outputs, **served},
      batch,
      regularize=training.regularized,
  )
  serving = None
  if serving_input_receiver_fn is not None:
    serving = signatures.model_fn_serving(
        declared,
        signatures.read_receiver(serving_input_receiver_fn),
        features_read=program.columns.inputs,
    )
  training = model_fn_losses.check_penalties(training, program, predict)
  weights = weights_lib.read_weights(model_dir, program.shapes)
  try:
    state = optimizer_state.State((), {}, (), reason=training.reason)
    if training.reason is None:
      state = model_fn_losses.read_state(
          weights, training, list(program.shapes)
      )
  except BaseException:
    weights.source.close()
    raise
  weights.reader.finish()
  columns = program.columns
  spec = spec_lib.ModelFnSpec(
      model=spec_lib.GraphModel(
          model_fn=reference,
          inputs=columns.inputs,
          categorical=columns.categorical,
          feature_columns=program.feature_columns,
          weights=program.weights,
          outputs=tuple(program.outputs),
      ),
      training=spec_lib.Training.of(state.entries, state.reason),
      losses=() if state.reason else training.losses,
      serving=serving,
  )
  return ModelFnExportResult(
      model_fn=reference,
      prefix=weights.prefix,
      global_step=weights.global_step,
      spec=spec,
      arrays={**weights.arrays, **state.arrays},
      code=_code(reference, program),
      mappings=tuple(program.mappings),
      optimizer_notes=state.notes,
  )


__all__ = ['ModelFnExportResult', 'model_fn_to_keras']
