r"""Exports a trained estimator as a Keras 3 model for current TF.

Reads the estimator's checkpoint (v1 or v2 canned DNN, Linear or
DNNLinearCombined Classifier/Regressor) and the constructor kwargs it was
built with (`--config` names a callable returning them: feature columns live
in user code), and writes --target: `model.py` (Keras 3 code with
`load(directory=None, compile=False) -> keras.Model`), `spec.json`,
`weights.npz`, `report.md` and, with --saved_model, `saved_model/` (written
in the modern environment: the estimator's serving signatures, taking what
--serving_input_receiver_fn takes, by default serialized tf.Examples parsed
as the feature columns parse them). The target is written under a temporary
name and moved into place when complete; report.md lists how every feature
column and variable was carried.

A custom estimator (`make_model_fn` or `to_estimator`) is exported with
--build_model=module:function instead of --estimator: the builder of its Keras
model, which the generated model.py imports; --config, if given, then names a
callable returning `keras_model_to_keras`'s keyword arguments (`params`,
`loss`, `optimizer`; and `model_fn`, the make_model_fn result the estimator
was built with, or `export_outputs`, to_estimator's). With --saved_model and
--serving_input_receiver_fn, saved_model/ serves the signatures the
estimator's `export_outputs` declare.

A custom TF 1.x `model_fn` is exported with --model_fn=module:function: it is
run in PREDICT mode on TF 2.15 and the graph it builds becomes a generated
Keras 3 `build_model` in model.py (no hand-written twin). --config names a
callable returning `features` (one batch of the feature dict, numpy arrays:
names, dtypes and shapes), and optionally `params` and `labels` (one batch of
labels, to carry the TRAIN loss and optimizers for `load(compile=True)`).
What has no exact Keras 3 mapping is refused, naming the op, its scope and
the model_fn's line, and nothing is written. With --saved_model and
--serving_input_receiver_fn, saved_model/ serves the signatures the model_fn's
`export_outputs` declare, as the estimator's own SavedModel does.

Example:
  bazel run //estimator_migrate/cli:export -- --estimator=DNNClassifier \
      --model_dir=/models/v2 --config=my_pkg.config:estimator_kwargs \
      --target=/models/keras
  estimator-migrate-export --estimator=DNNLinearCombinedClassifier \
      --model_dir=/models/v2 --config=config.py:kwargs --target=/models/keras \
      --saved_model
  estimator-migrate-export --estimator=LinearRegressor --model_dir=/models/v2 \
      --config=config.py:kwargs --target=/models/keras --saved_model \
      --serving_input_receiver_fn=my_pkg.serving:receiver_fn
  estimator-migrate-export --build_model=my_pkg.models:build \
      --model_dir=/models/custom --config=config.py:export_kwargs \
      --target=/models/keras
  estimator-migrate-export --model_fn=trainer.model:model_fn \
      --model_dir=/models/custom --config=export_config.py:batch \
      --target=/models/keras --saved_model
"""

from collections.abc import Sequence
import os
import sys

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags

from estimator_migrate import errors
from estimator_migrate.export import custom
from estimator_migrate.export import exporter
from estimator_migrate.export import model_fn_export
from estimator_migrate.tables import estimators

_ESTIMATOR = flags.DEFINE_enum(
    'estimator',
    None,
    [n for n in estimators.NAMES if not n.endswith('Estimator')],
    'The canned estimator (v1 and v2 share names).',
)
_MODEL_DIR = flags.DEFINE_string(
    'model_dir', None, 'The estimator model_dir or a checkpoint prefix.'
)
_CONFIG = flags.DEFINE_string(
    'config',
    None,
    'module:callable (or file.py:callable) returning the constructor kwargs'
    ' (with --build_model: params, loss, optimizer, and for serving'
    ' model_fn or export_outputs).',
)
_TARGET = flags.DEFINE_string(
    'target',
    None,
    'Directory to write: new or empty, outside --model_dir, not a symlink.',
)
_SAVED_MODEL = flags.DEFINE_bool(
    'saved_model',
    False,
    'Also write target/saved_model for serving, in the modern environment'
    ' (.venv-modern or $ESTIMATOR_MIGRATE_MODERN_PYTHON).',
)

_SERVING_INPUT_RECEIVER_FN = flags.DEFINE_string(
    'serving_input_receiver_fn',
    None,
    'module:function (or file.py:function) the estimator is served with:'
    ' saved_model/ takes the same requests. Default (--estimator):'
    " serialized tf.Examples parsed with the feature columns' parse spec;"
    ' with --model_fn and --build_model, saved_model/ serves the'
    " estimator's export_outputs only when given.",
)

_BUILD_MODEL = flags.DEFINE_string(
    'build_model',
    None,
    'module:function building the Keras model of a custom estimator'
    ' (make_model_fn / to_estimator); replaces --estimator.',
)
_CUSTOM_KWARGS = ('params', 'loss', 'optimizer', 'model_fn', 'export_outputs')
_MODEL_FN = flags.DEFINE_string(
    'model_fn',
    None,
    'module:function of a custom TF 1.x model_fn, read from the graph it'
    ' builds (--config returns features, params, labels); replaces'
    ' --estimator.',
)
_MODEL_FN_KWARGS = ('features', 'params', 'labels')

# Which flag each library argument is.
_ARGUMENTS = console.ArgumentFlags.of(
    'config',
    'model_dir',
    'target',
    'estimator',
    'build_model',
    'model_fn',
    'saved_model',
    'serving_input_receiver_fn',
)


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # As `python -m` does: the user's packages (the model_fn, the builder,
  # what --config imports) import from the directory the binary runs in.
  if os.getcwd() not in sys.path:
    sys.path.insert(0, os.getcwd())
  given = [f for f in (_ESTIMATOR, _BUILD_MODEL, _MODEL_FN) if f.value]
  if len(given) != 1:
    raise app.UsageError(
        'give one of --estimator (a canned estimator), --build_model (a'
        ' custom one built with Keras) or --model_fn (a custom TF 1.x'
        ' model_fn).'
    )
  if (_ESTIMATOR.value or _MODEL_FN.value) and not _CONFIG.value:
    raise app.UsageError(f'--config is required with --{given[0].name}.')
  try:
    if _BUILD_MODEL.value:
      result = _custom()
    elif _MODEL_FN.value:
      result = _model_fn()
    else:
      kwargs = exporter.load_config(_CONFIG.value)
      if _SERVING_INPUT_RECEIVER_FN.value:
        kwargs['serving_input_receiver_fn'] = exporter.load_receiver_fn(
            _SERVING_INPUT_RECEIVER_FN.value
        )
      result = exporter.canned_to_keras(
          _ESTIMATOR.value, model_dir=_MODEL_DIR.value, **kwargs
      )
    result.save(_TARGET.value, saved_model=_SAVED_MODEL.value)
  except errors.MigrationError as e:
    console.fail(_ARGUMENTS(e))
  print(result.report())
  print(f'Wrote {_TARGET.value}')
  return 0


def _custom() -> custom.CustomExportResult:
  kwargs = exporter.load_config(_CONFIG.value) if _CONFIG.value else {}
  unknown = sorted(set(kwargs) - set(_CUSTOM_KWARGS))
  if unknown:
    raise errors.MigrationError(
        f'config {_CONFIG.value!r} returned {unknown}: with --build_model it'
        f' returns only {list(_CUSTOM_KWARGS)}.',
        argument='config',
    )
  if _SERVING_INPUT_RECEIVER_FN.value:
    kwargs['serving_input_receiver_fn'] = exporter.load_receiver_fn(
        _SERVING_INPUT_RECEIVER_FN.value
    )
  try:
    return custom.keras_model_to_keras(
        _MODEL_DIR.value, _BUILD_MODEL.value, **kwargs
    )
  except errors.MigrationError as e:
    if not {'model_fn', 'export_outputs'} & set(e.arguments):
      raise
    # Given by --config here, not by --model_fn (the model_fn exit's flag).
    raise errors.MigrationError(
        f'config {_CONFIG.value!r}: {e}', argument='config'
    ) from e


def _model_fn() -> model_fn_export.ModelFnExportResult:
  kwargs = exporter.load_config(_CONFIG.value)
  unknown = sorted(set(kwargs) - set(_MODEL_FN_KWARGS))
  if unknown or 'features' not in kwargs:
    raise errors.MigrationError(
        f'config {_CONFIG.value!r} returned {sorted(kwargs)}: with'
        f' --model_fn it returns features (one batch of the feature dict)'
        ' and optionally params and labels.',
        argument='config',
    )
  if _SERVING_INPUT_RECEIVER_FN.value:
    kwargs['serving_input_receiver_fn'] = exporter.load_receiver_fn(
        _SERVING_INPUT_RECEIVER_FN.value
    )
  return model_fn_export.model_fn_to_keras(
      _MODEL_FN.value, _MODEL_DIR.value, **kwargs
  )


def run() -> None:
  """Console-script entry point."""
  flags.mark_flags_as_required([_MODEL_DIR, _TARGET])
  console.run(main, __name__, arguments=_ARGUMENTS)


if __name__ == '__main__':
  run()
