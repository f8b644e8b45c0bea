r"""Trains the migration guide's CNN with one of its three TF2 loops.

The loops are `fit` (compile, fit, evaluate), `train_on_batch` (an explicit
loop over batches with reset_metrics / train_on_batch / test_on_batch) and
`custom` (tf.GradientTape in a tf.function, regularization losses added from
model.losses). Data comes through TFDS; the default data set is embedded in
the package, so no download is needed. Prints each epoch's metrics and a
one-line summary; with --model_dir the trained weights are saved there.

Example:
  bazel run //estimator_migrate/cli:train_keras -- --loop=custom --epochs=3
  estimator-migrate-train-keras --dataset=mnist --data_dir=/data/tfds
"""

from collections.abc import Sequence
import os

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags

from estimator_migrate import errors
from estimator_migrate.guide import data
from estimator_migrate.guide import models
from estimator_migrate.guide import training

_DATASET = flags.DEFINE_string(
    'dataset',
    data.DEFAULT_DATASET,
    'TFDS image-classification data set; the default is embedded.',
)
_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'TFDS data directory holding prepared data sets.'
)
_EPOCHS = flags.DEFINE_integer('epochs', 5, 'Passes over the training data.')
_STEPS_PER_EPOCH = flags.DEFINE_integer(
    'steps_per_epoch', None, 'Batches per epoch (default: the whole split).'
)
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 64, 'Examples per batch.')
_LOOP = flags.DEFINE_enum(
    'loop', 'fit', training.LOOPS, 'Which of the guide loops trains.'
)
_MODEL_DIR = flags.DEFINE_string(
    'model_dir', None, 'If set, the trained weights are saved here.'
)
_SEED = flags.DEFINE_integer('seed', 0, 'Seeds weights and shuffling.')

# The library names its arguments; this binary's users know flags.
_ARGUMENTS = console.ArgumentFlags.of('dataset', 'data_dir', 'model_dir')


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    train_data = data.load(
        _DATASET.value,
        'train',
        data_dir=_DATA_DIR.value,
        batch_size=_BATCH_SIZE.value,
        seed=_SEED.value,
    )
    test_data = data.load(
        _DATASET.value,
        'test',
        data_dir=_DATA_DIR.value,
        batch_size=_BATCH_SIZE.value,
        shuffle_buffer=0,
    )
    ds_info = data.info(_DATASET.value, data_dir=_DATA_DIR.value)
    model = models.build_cnn(
        input_shape=ds_info.features['image'].shape,
        num_classes=ds_info.features['label'].num_classes,
        seed=_SEED.value,
    )
    result = training.train(
        model,
        train_data,
        test_data,
        loop=_LOOP.value,
        epochs=_EPOCHS.value,
        steps_per_epoch=_STEPS_PER_EPOCH.value,
        on_epoch_end=lambda metrics: print(metrics.line(), flush=True),
        verbose=2,
    )
  except errors.MigrationError as e:
    console.fail(_ARGUMENTS(e))
  if _MODEL_DIR.value:
    path = os.path.join(_MODEL_DIR.value, 'weights')
    model.save_weights(path)
    print(f'weights saved to {path}')
  print(f'dataset={_DATASET.value} {result.summary()}')
  return 0


def run() -> None:
  """Console-script entry point."""
  console.run(main, __name__)


if __name__ == '__main__':
  run()
