r"""Exports a trained canned estimator as a Keras 3 model for current TF.

Reads the estimator's checkpoint (v1 or v2 canned DNN, Linear or
DNNLinearCombined Classifier/Regressor) and the constructor kwargs it was
built with (`--config` names a callable returning them: feature columns live
in user code), and writes --target: `model.py` (Keras 3 code with
`load(directory=None, compile=False) -> keras.Model`), `spec.json`,
`weights.npz`, `report.md` and, with --saved_model, `saved_model/` (written
in the modern environment). The target is written under a temporary name and
moved into place when complete; report.md lists how every feature column and
variable was carried.

Example:
  bazel run //estimator_migrate/cli:export -- --estimator=DNNClassifier \
      --model_dir=/models/v2 --config=my_pkg.config:estimator_kwargs \
      --target=/models/keras
  estimator-migrate-export --estimator=DNNLinearCombinedClassifier \
      --model_dir=/models/v2 --config=config.py:kwargs --target=/models/keras \
      --saved_model
"""

from collections.abc import Sequence

from absl import app
from absl import flags
from absl import logging

from estimator_migrate import console
from estimator_migrate import errors
from estimator_migrate import estimators
from estimator_migrate.export import exporter

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
    'module:callable (or file.py:callable) returning the constructor kwargs.',
)
_TARGET = flags.DEFINE_string(
    'target', None, 'Directory to write (must not exist or be empty).'
)
_SAVED_MODEL = flags.DEFINE_bool(
    'saved_model',
    False,
    'Also write target/saved_model for serving, in the modern environment'
    ' (.venv-modern or $ESTIMATOR_MIGRATE_MODERN_PYTHON).',
)

# Which flag each library argument is.
_ARGUMENTS = console.ArgumentFlags.of(
    'config', 'model_dir', 'target', 'estimator'
)


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    kwargs = exporter.load_config(_CONFIG.value)
    result = exporter.canned_to_keras(
        _ESTIMATOR.value, model_dir=_MODEL_DIR.value, **kwargs
    )
    result.save(_TARGET.value, saved_model=_SAVED_MODEL.value)
  except errors.MigrationError as e:
    logging.error('%s', _ARGUMENTS(str(e)))
    return 2
  print(result.report())
  print(f'Wrote {_TARGET.value}')
  return 0


def run() -> None:
  """Console-script entry point."""
  flags.mark_flags_as_required([_ESTIMATOR, _MODEL_DIR, _CONFIG, _TARGET])
  console.run(main, __name__)


if __name__ == '__main__':
  run()
