r"""Trains a v1 canned estimator and its translated v2 twin, side by side.

The v1 estimator is built as TF 1.x code built it (tf.compat.v1.estimator,
a tf.compat.v1.train optimizer, v1 defaults); estimator_migrate translates
its arguments for the v2 class; both start from the same weights and train
on the same batches of the embedded digits. Prints the change table (every
argument that changed, why, and whether the v2 side computes the same
numbers) and both sides' eval metrics and max weight difference.

Example:
  bazel run //estimator_migrate/cli:canned_migration -- --estimator=DNNClassifier \
      --optimizer=RMSPropOptimizer --exact
  estimator-migrate-canned --estimator=LinearClassifier --steps=50
"""

from collections.abc import Sequence
import tempfile

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.guide import data
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers
from estimator_migrate.tf2 import side_by_side

_CLASSIFIERS = tuple(
    f'{family.class_prefix}Classifier'
    for family in estimators.FAMILIES.values()
)
_ESTIMATOR = flags.DEFINE_enum(
    'estimator', 'DNNClassifier', _CLASSIFIERS, 'v1 canned estimator to move.'
)
_OPTIMIZER = flags.DEFINE_enum(
    'optimizer',
    None,
    sorted(optimizers.OPTIMIZERS),
    "v1 optimizer (tf.compat.v1.train.*); default: the estimator's own.",
)
_LEARNING_RATE = flags.DEFINE_float(
    'learning_rate', 0.01, 'Learning rate of --optimizer.'
)
console.require_positive_finite(_LEARNING_RATE)
_EXACT = flags.DEFINE_bool(
    'exact', False, 'Use the v1-exact compat optimizers where Keras differs.'
)
_STEPS = flags.DEFINE_integer(
    'steps', 100, 'Training steps of each side.', lower_bound=1
)
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', 64, 'Examples per batch.', lower_bound=1
)
_DATASET = flags.DEFINE_string(
    'dataset', data.DEFAULT_DATASET, 'TFDS data set; the default is embedded.'
)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data directory.')
_MODEL_DIR = flags.DEFINE_string(
    'model_dir', None, 'Where init/, v1/ and v2/ go (default: a temp dir).'
)
console.require_new_or_directory(_MODEL_DIR)

# The library names its arguments; this binary's users know flags.
_ARGUMENTS = console.ArgumentFlags.of('dataset', 'data_dir', 'model_dir')


def _v1_kwargs(name: str, n_classes: int, image_shape) -> dict:
  image = [tf.feature_column.numeric_column('image', shape=image_shape)]
  family = estimators.lookup(name).family
  kwargs = family.minimal_kwargs(
      {scope: image for scope in family.scopes}, hidden_units=[64]
  )
  kwargs['n_classes'] = n_classes
  if _OPTIMIZER.value:
    optimizer = getattr(tf.compat.v1.train, _OPTIMIZER.value)
    args = {'learning_rate': _LEARNING_RATE.value}
    if _OPTIMIZER.value == 'MomentumOptimizer':
      args['momentum'] = 0.9
    # The first part's optimizer: the DNN's in a combined model.
    kwargs[family.parts[0].optimizer.name] = optimizer(**args)
  return kwargs


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  tf.get_logger().setLevel('ERROR')  # Estimator INFO and deprecation notes
  try:
    info = data.info(_DATASET.value, data_dir=_DATA_DIR.value)
    train_fn, eval_fn = data.make_input_fns(
        _DATASET.value, data_dir=_DATA_DIR.value, batch_size=_BATCH_SIZE.value
    )
    result = side_by_side.train_side_by_side(
        _ESTIMATOR.value,
        _v1_kwargs(
            _ESTIMATOR.value,
            info.features['label'].num_classes,
            info.features['image'].shape,
        ),
        train_input_fn=train_fn,
        eval_input_fn=eval_fn,
        steps=_STEPS.value,
        model_dir=_MODEL_DIR.value or tempfile.mkdtemp(),
        exact=_EXACT.value,
    )
  except errors.MigrationError as e:
    console.fail(_ARGUMENTS(e))
  print(f'{_ESTIMATOR.value}: v1 arguments -> v2\n')
  print(result.translation.table())
  print()
  print(result.summary())
  return 0


def run() -> None:
  """Console-script entry point."""
  console.run(main, __name__)


if __name__ == '__main__':
  run()
