"""The entry point: `canned_to_keras` and the result it returns."""

import dataclasses
import importlib
import importlib.util
import os
import sys

from estimator_migrate import errors
from estimator_migrate import report as report_lib
from estimator_migrate.export import codegen
from estimator_migrate.export import columns as columns_lib
from estimator_migrate.export import families
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import settings as settings_lib
from estimator_migrate.export import signatures
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.export import weights as weights_lib


@dataclasses.dataclass(frozen=True)
class ExportResult:
  """A canned estimator's Keras 3 twin, ready to be saved."""

  estimator: str
  prefix: str
  global_step: int | None
  spec: spec_lib.CannedSpec
  mappings: tuple[columns_lib.Mapping, ...]
  arrays: dict
  optimizer_notes: tuple[str, ...] = ()
  settings: tuple[settings_lib.Setting, ...] = ()
  graph: str | None = None  # the graph the settings were read from

  def report(self) -> str:
    """Every column and variable: how it was mapped, exact or not."""
    lines = [
        f'# {self.estimator} exported to Keras 3',
        '',
        f'Checkpoint: `{self.prefix}` (global step {self.global_step}).',
        '',
        '## Training settings',
        '',
        (
            f'Read from the checkpoint and its graph `{self.graph}` where'
            ' they record them; config kwargs that contradict them are'
            ' refused.'
            if self.graph
            else 'No graph (`.meta` or `graph.pbtxt`) beside the checkpoint:'
            ' the loss reduction, weight column and Python-only optimizer'
            ' config come from the kwargs or defaults, as marked.'
        ),
        '',
        report_lib.markdown_table(
            ('setting', 'value', 'from'),
            [(s.name, s.value, s.source) for s in self.settings],
        ),
        '',
        '## Feature columns',
        '',
        report_lib.markdown_table(
            ('column', 'kind', 'Keras 3', 'exact', 'note'),
            [
                (m.column, m.kind, m.keras, 'yes' if m.exact else 'NO', m.note)
                for m in self.mappings
            ],
        ),
        '',
        '## Variables',
        '',
        report_lib.markdown_table(
            ('Keras layer', 'checkpoint variable', 'shape', 'exact'),
            [
                (
                    layer,
                    name,
                    'x'.join(map(str, self.arrays[name].shape)),
                    'yes',
                )
                for layer, names in sorted(self.spec.model.weights.items())
                for name in names
            ],
        ),
        '',
        'Predictions: `logits`, `probabilities`, `class_ids`, `classes`,'
        ' `all_classes`, `all_class_ids` (and `logistic` for binary'
        ' classifiers), or `predictions` for regressors.',
        '',
        *codegen.optimizer_report(
            self.spec.training, _optimizer_table, self.optimizer_notes
        ),
        *_serving_report(self.spec.serving),
    ]
    return '\n'.join(lines) + '\n'

  def save(self, target: str, saved_model: bool = False) -> str:
    """Writes model.py, spec.json, weights.npz and report.md into `target`.

    As `codegen.write` does: under a temporary name, renamed into place
    when complete.

    Args:
      target: A new (or empty) directory outside the checkpoint's model_dir.
      saved_model: Also write `saved_model/`, a serving SavedModel, in the
        modern environment (`serving.write_saved_models`).

    Returns:
      `target`.

    Raises:
      MigrationError: See `codegen.write`; the target is left as it was.
    """
    return codegen.write(
        target,
        template=codegen.TEMPLATE,
        source=self.estimator,
        prefix=self.prefix,
        spec=self.spec,
        report=self.report(),
        arrays=self.arrays,
        saved_model=saved_model,
    )


def _serving_report(serving: spec_lib.Serving | None) -> list[str]:
  """report.md's serving section: the receiver and the signatures."""
  if serving is None:
    return []
  receiver = serving.receiver
  if receiver.parse is not None:
    (name,) = receiver.inputs
    how = (
        f'serialized tf.Examples (input `{name}`), parsed:'
        f' {", ".join(f"`{k}` {f.kind}" for k, f in receiver.parse.items())}.'
    )
  else:
    how = 'raw tensors: ' + ', '.join(
        f'`{k}` {i.dtype} {list(i.shape)}' for k, i in receiver.inputs.items()
    )
  return [
      '',
      '## Serving (`saved_model/`)',
      '',
      f'Receiver: {how}',
      '',
      report_lib.markdown_table(
          ('signature', 'method', 'inputs', 'outputs'),
          [
              (
                  key,
                  s.method,
                  ', '.join(s.inputs),
                  ', '.join(f'{k} ({v})' for k, v in s.outputs.items()),
              )
              for key, s in serving.signatures.items()
          ],
      ),
  ]


def _optimizer_table(optimizers: tuple[spec_lib.Optimizer, ...]) -> str:
  return report_lib.markdown_table(
      ('optimizer', 'Keras 3', 'variables', 'iterations', 'config'),
      [
          (
              o.name,
              o.keras_class,
              len(o.variables),
              o.iterations,
              ', '.join(f'{k}={v}' for k, v in o.config.items()),
          )
          for o in optimizers
      ],
  )


def canned_to_keras(
    estimator,
    *,
    model_dir: str,
    serving_input_receiver_fn=None,
    **constructor_kwargs,
) -> ExportResult:
  """Carries a trained canned estimator to a Keras 3 model.

  Args:
    estimator: Name or class of the canned estimator, v1 or v2 (e.g.
      `'DNNClassifier'`, `tf.compat.v1.estimator.LinearRegressor`).
    model_dir: Its model_dir or a checkpoint prefix.
    serving_input_receiver_fn: The function the estimator is served with
      (`export_saved_model`'s): `saved_model/` takes what it takes. Default:
      the parsing receiver of the feature columns (serialized tf.Examples
      parsed by `make_parse_example_spec`).
    **constructor_kwargs: The kwargs the estimator was built with (its
      feature columns live in user code).

  Returns:
    The export; `save(directory)` writes it.

  Raises:
    TranslationError: Not an exportable estimator or option.
    ColumnError: A feature column the exporter does not carry.
    ServingError: A `serving_input_receiver_fn` whose receiver the
      export cannot reproduce.
    CheckpointError: No checkpoint, one of another model, or corrupt or
      truncated data (every byte read is checked against its CRC-32C, as
      the converter checks it), or an unreadable v1 graph.
  """
  if not model_dir:
    raise errors.CheckpointError(
        'model_dir is empty: give the estimator model_dir or a checkpoint'
        ' prefix.',
        argument='model_dir',
    )
  constructor_kwargs.pop('model_dir', None)
  model = families.model_spec(estimator, constructor_kwargs)
  serving = signatures.serving_spec(
      model.spec.head,
      [
          column
          for key in (
              'feature_columns',
              'dnn_feature_columns',
              'linear_feature_columns',
          )
          for column in constructor_kwargs.get(key) or ()
      ],
      serving_input_receiver_fn,
      features_read=set(model.spec.inputs) - {spec_lib.BASELINE_INPUT},
  )
  weights = weights_lib.read_weights(
      model_dir,
      model.shapes,
      settings_lib.head_check(model.spec, constructor_kwargs)
      if model.row.kind != 'Estimator'
      else None,
  )
  try:
    record = settings_lib.read_graph(weights.prefix)
    state = optimizer_state.read_state(
        weights.reader,
        weights.source.variables,
        model.trained,
        {
            part.scope: constructor_kwargs.get(part.optimizer.name)
            for part in model.row.family.parts
        },
        weights.global_step,
        record.graph,
    )
    if state.v1_slots:
      state = optimizer_state.read_v1_state(
          weights.source, model.trained, weights.global_step
      )
    # The checkpoint decides: kwargs that contradict it are refused before
    # the rest of the data is read.
    settings = _settings(estimator, model, constructor_kwargs, state, record)
  except BaseException:
    weights.source.close()
    raise
  weights.reader.finish()  # checks what was read in part; closes the files
  spec = spec_lib.CannedSpec(
      model=model.spec,
      training=spec_lib.Training.of(state.entries, state.reason),
      loss_reduction=settings[0].value,
      serving=serving,
  )
  return ExportResult(
      estimator=model.row.name,
      prefix=weights.prefix,
      global_step=weights.global_step,
      spec=spec,
      mappings=model.mappings,
      arrays={**weights.arrays, **state.arrays},
      optimizer_notes=state.notes,
      settings=tuple(settings),
      graph=record.path,
  )


def _settings(
    estimator, model, kwargs: dict, state, record
) -> list[settings_lib.Setting]:
  """Every training setting carried, the loss reduction first.

  Raises:
    MigrationError: A kwarg contradicts what the checkpoint records.
  """
  given = kwargs.get('loss_reduction')
  reduction = settings_lib.check_reduction(
      record,
      _loss_reduction(estimator, kwargs) if given is not None else None,
      given,
  )
  if reduction is None:
    why = (
        'no graph beside the checkpoint'
        if record.path is None
        else 'its graph does not show it'
    )
    if given is not None:
      source = f'kwargs ({why})'
    elif _is_v1_class(estimator):
      source = f'v1 default ({why})'
    else:
      source = f'v2 default, the estimator given by name ({why})'
    reduction = settings_lib.Setting(
        'loss_reduction', _loss_reduction(estimator, kwargs), source
    )
  settings_lib.check_optimizers(
      model.row.family, model.row.name, kwargs, state, record
  )
  rows = [reduction]
  if model.row.kind != 'Estimator':
    rows += settings_lib.head_settings(model.spec, kwargs)
    rows.append(
        settings_lib.check_weight_column(record, kwargs.get('weight_column'))
    )
  rows += settings_lib.optimizer_settings(model.row.family, state)
  return rows


# v1 (tf.compat.v1.losses.Reduction) names of the reductions Keras 3 has.
_V1_REDUCTIONS = {
    'weighted_sum': 'sum',
    'weighted_sum_over_batch_size': 'sum_over_batch_size',
}


def _is_v1_class(estimator) -> bool:
  return not isinstance(estimator, str) and not estimator.__name__.endswith(
      'V2'
  )


def _loss_reduction(estimator, kwargs: dict) -> str:
  """Keras 3's name of the estimator's loss reduction.

  The default is the class's: v1 canned estimators sum the loss over the
  batch, v2 ones average it. An estimator given by name is taken as v2.
  """
  value = kwargs.get(
      'loss_reduction', 'sum' if _is_v1_class(estimator) else None
  )
  value = getattr(value, 'value', value) or 'sum_over_batch_size'
  value = _V1_REDUCTIONS.get(value, value)
  if value not in ('sum', 'sum_over_batch_size'):
    raise errors.TranslationError(
        f'loss_reduction {value!r} has no Keras 3 reduction; use sum or'
        ' sum_over_batch_size.'
    )
  return value


def load_config(config: str) -> dict:
  """The constructor kwargs named by `config`: `module:callable`.

  `module` is a dotted module name or a `.py` file; the callable takes no
  argument and returns the kwargs the estimator was built with (a dict may
  stand in for the callable).

  Raises:
    MigrationError: Malformed, not importable, or not returning a dict.
  """
  value = load_attribute(config, 'config', 'returning the kwargs')
  kwargs = value() if callable(value) else value
  if not isinstance(kwargs, dict):
    raise errors.MigrationError(
        f'config {config!r} returned {type(kwargs).__name__}, not the dict'
        ' of constructor kwargs.',
        argument='config',
    )
  return kwargs


def load_receiver_fn(name: str):
  """The serving input receiver function named by `module:function`.

  Raises:
    MigrationError: Malformed, not importable, or not callable.
  """
  argument = 'serving_input_receiver_fn'
  value = load_attribute(name, argument, 'building the ServingInputReceiver')
  if not callable(value):
    raise errors.MigrationError(
        f'{argument} {name!r} is {type(value).__name__}, not a function.',
        argument=argument,
    )
  return value


def load_attribute(config: str, argument: str, what: str):
  """The attribute named by `module:attribute` (a module or a `.py` file).

  Raises:
    MigrationError: Malformed, not importable, or no such attribute; names
      `argument`.
  """
  module_name, _, attribute = (config or '').rpartition(':')
  if not module_name or not attribute:
    raise errors.MigrationError(
        f'{argument} {config!r} is not `module:callable` (a callable'
        f' {what}, e.g. my_pkg.config:estimator_kwargs or'
        ' path/to/config.py:kwargs).',
        argument=argument,
    )
  try:
    if module_name.endswith('.py'):
      spec = importlib.util.spec_from_file_location(
          'estimator_migrate_export_config', module_name
      )
      if spec is None or not os.path.isfile(module_name):
        raise FileNotFoundError(module_name)
      # As `python path/to/config.py` would: the file's own directory
      # imports (its sibling modules, the package beside it), searched last
      # so that it shadows nothing.
      directory = os.path.dirname(os.path.abspath(module_name))
      if directory not in sys.path:
        sys.path.append(directory)
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
    else:
      module = importlib.import_module(module_name)
  except (ImportError, FileNotFoundError, SyntaxError) as e:
    raise errors.MigrationError(
        f'{argument} {config!r}: cannot import {module_name!r} ({e}). Give'
        ' an importable module (on PYTHONPATH) or a .py file.',
        argument=argument,
    ) from e
  value = getattr(module, attribute, None)
  if value is None:
    raise errors.MigrationError(
        f'{argument} {config!r}: {module_name!r} has no {attribute!r}.',
        argument=argument,
    )
  return value
