r"""Trains the guide's CNN as an Estimator: model_to_estimator or a model_fn.

--mode=model_to_estimator wraps the compiled Keras model with
estimator_migrate.tf2.keras_estimator.to_estimator (its errors checked up front);
--mode=model_fn builds it per mode with estimator_migrate.tf2.model_fn.make_model_fn
(regularization losses and BatchNorm updates included). Either way
tf.estimator.train_and_evaluate runs with a TrainSpec/EvalSpec over TFDS
input_fns, a SavedModel is exported, and the final eval metrics are printed.
The default data set is embedded; nothing is downloaded.

Example:
  bazel run //estimator_migrate/cli:train_estimator -- --mode=model_fn --train_steps=300
  estimator-migrate-train-estimator --mode=model_to_estimator \
      --export_dir=/tmp/export
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
from estimator_migrate.guide import models
from estimator_migrate.tf2 import keras_estimator
from estimator_migrate.tf2 import model_fn

_MODES = ('model_to_estimator', 'model_fn')
_MODE = flags.DEFINE_enum(
    'mode', 'model_fn', _MODES, 'How the Keras model becomes an Estimator.'
)
_DATASET = flags.DEFINE_string(
    'dataset', data.DEFAULT_DATASET, 'TFDS data set; the default is embedded.'
)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data directory.')
_MODEL_DIR = flags.DEFINE_string(
    'model_dir', None, 'Estimator model_dir (default: a temp dir).'
)
_TRAIN_STEPS = flags.DEFINE_integer(
    'train_steps', 300, 'Training steps.', lower_bound=1
)
_EVAL_STEPS = flags.DEFINE_integer(
    'eval_steps',
    None,
    'Evaluation steps (default: the whole test split).',
    lower_bound=1,
)
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', 64, 'Examples per batch.', lower_bound=1
)
_LEARNING_RATE = flags.DEFINE_float('learning_rate', 0.001, 'Adam rate.')
console.require_positive_finite(_LEARNING_RATE)
console.require_new_or_directory(_MODEL_DIR)
_EXPORT_DIR = flags.DEFINE_string(
    'export_dir', None, 'Where the SavedModel goes (default: model_dir/export).'
)

# The library names its arguments; this binary's users know flags.
_ARGUMENTS = console.ArgumentFlags.of('dataset', 'data_dir', 'model_dir')


def _estimator(model_dir: str, info) -> tf.estimator.Estimator:
  shape = info.features['image'].shape
  classes = info.features['label'].num_classes
  config = tf.estimator.RunConfig(
      model_dir=model_dir,
      tf_random_seed=0,
      save_checkpoints_steps=_TRAIN_STEPS.value,
  )
  if _MODE.value == 'model_to_estimator':
    model = models.build_cnn(input_shape=shape, num_classes=classes, seed=0)
    model.compile(
        tf.keras.optimizers.legacy.Adam(_LEARNING_RATE.value),
        'sparse_categorical_crossentropy',
        ['accuracy'],
    )
    return keras_estimator.to_estimator(model, config=config)
  return tf.estimator.Estimator(
      model_fn.make_model_fn(
          lambda params: models.build_cnn(
              input_shape=shape, num_classes=classes, seed=0
          ),
          loss='sparse_categorical_crossentropy',
          optimizer=lambda: tf.keras.optimizers.legacy.Adam(
              _LEARNING_RATE.value
          ),
          metrics=['accuracy'],
      ),
      config=config,
  )


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  tf.get_logger().setLevel('ERROR')
  try:
    info = data.info(_DATASET.value, data_dir=_DATA_DIR.value)
    train_fn, eval_fn = data.make_input_fns(
        _DATASET.value, data_dir=_DATA_DIR.value, batch_size=_BATCH_SIZE.value
    )
    model_dir = _MODEL_DIR.value or tempfile.mkdtemp()
    estimator = _estimator(model_dir, info)
    metrics, _ = tf.estimator.train_and_evaluate(
        estimator,
        tf.estimator.TrainSpec(train_fn, max_steps=_TRAIN_STEPS.value),
        tf.estimator.EvalSpec(
            eval_fn, steps=_EVAL_STEPS.value, throttle_secs=0
        ),
    )
    if metrics is None:  # a rerun: the model_dir is already at max_steps
      metrics = estimator.evaluate(eval_fn, steps=_EVAL_STEPS.value)
    shape = [None, *info.features['image'].shape]

    def serving_input():
      image = tf.compat.v1.placeholder(tf.float32, shape, name='image')
      return tf.estimator.export.ServingInputReceiver(
          {'image': image}, {'image': image}
      )

    export = estimator.export_saved_model(
        _EXPORT_DIR.value or f'{model_dir}/export', serving_input
    )
  except errors.MigrationError as e:
    console.fail(_ARGUMENTS(e))
  print(
      f'mode={_MODE.value} dataset={_DATASET.value}'
      f' steps={int(metrics["global_step"])}'
      f' accuracy={metrics["accuracy"]:.4f} loss={metrics["loss"]:.4f}'
  )
  print(
      f'SavedModel: {export.decode() if isinstance(export, bytes) else export}'
  )
  return 0


def run() -> None:
  """Console-script entry point."""
  console.run(main, __name__)


if __name__ == '__main__':
  run()
