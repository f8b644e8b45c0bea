"""Loads classification data through TFDS, as the migration guide does.

`load` returns batched `(image, label)` datasets, scaled to float32 in [0, 1]
(or `(features dict, label)` for tabular sets); `make_input_fn` wraps the same
pipeline for Estimators. Two data sets are embedded, so nothing is
downloaded: `DEFAULT_DATASET` (`uci_digits.py`, images) and `palmer_penguins`
(`palmer_penguins.py`, a table); any other TFDS data set must already be
prepared in `data_dir`.

Example:
  train = data.load(split='train', batch_size=32)
  estimator.train(data.make_input_fn(split='train', repeat=True), steps=100)
"""

from collections.abc import Callable
import contextlib
import io
import sys

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from estimator_migrate import errors
from estimator_migrate.guide import palmer_penguins
from estimator_migrate.guide import uci_digits

DEFAULT_DATASET = uci_digits.NAME
# Data sets whose source ships with the package or its dependencies: prepared
# on first use, without network.
EMBEDDED = (uci_digits.NAME, palmer_penguins.NAME)
DEFAULT_BATCH_SIZE = 64
DEFAULT_SHUFFLE_BUFFER = 2048


def scale(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """The guide's preprocessing: float32 pixels divided by 255."""
  return tf.cast(image, tf.float32) / 255.0, label


def _builder(name: str, data_dir: str | None) -> tfds.core.DatasetBuilder:
  """Returns the prepared builder for `name`, preparing only the embedded set."""
  if data_dir and not tf.io.gfile.isdir(data_dir):
    raise errors.DataError(
        f'data_dir={data_dir} is not a directory. Give the directory that'
        " holds prepared TFDS data, or leave it out for TFDS' default.",
        argument='data_dir',
    )
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise errors.DataError(
        f'dataset={name!r} is not a TFDS data set. Use'
        f' {DEFAULT_DATASET!r} (embedded, no download) or a name from'
        ' `tfds.list_builders()`.',
        argument='dataset',
    ) from e
  if builder.is_prepared():
    return builder
  if name in EMBEDDED:
    _prepare_quietly(builder)
    return builder
  raise errors.DataError(
      f'TFDS data set {name!r} is not prepared in {builder.data_dir}. This'
      ' toolkit never downloads at run time: prepare it where there is'
      f' network (`tfds build {name} --data_dir=DIR`), copy DIR here and pass'
      f' data_dir=DIR, or use dataset={DEFAULT_DATASET!r} (embedded).',
      argument=('data_dir', 'dataset'),
  )


def _prepare_quietly(builder: tfds.core.DatasetBuilder) -> None:
  """Prepares an embedded set, logging one line instead of TFDS's prints."""
  logging.info(
      'Preparing the embedded data set %s in %s (no download).',
      builder.name,
      builder.data_dir,
  )
  chatter = io.StringIO()  # TFDS prints "Downloading ..." and progress bars
  try:
    with (
        contextlib.redirect_stdout(chatter),
        contextlib.redirect_stderr(chatter),
    ):
      builder.download_and_prepare()  # reads the packaged file; no network
  except Exception:
    sys.stderr.write(chatter.getvalue())
    raise


def _is_image_set(dataset_info: tfds.core.DatasetInfo) -> bool:
  inputs = dataset_info.supervised_keys[0]
  return isinstance(inputs, str) and isinstance(
      dataset_info.features[inputs], tfds.features.Image
  )


def info(name: str = DEFAULT_DATASET, *, data_dir: str | None = None):
  """Returns the `tfds.core.DatasetInfo` of a prepared data set."""
  return _builder(name, data_dir).info


def load(
    name: str = DEFAULT_DATASET,
    split: str = 'train',
    *,
    data_dir: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    seed: int | None = None,
    repeat: bool = False,
) -> tf.data.Dataset:
  """Loads `(image, label)` batches of a TFDS classification set.

  Images are scaled to float32 in [0, 1]; tabular sets (supervised keys that
  are a dict, as `palmer_penguins`) keep their features as stored.

  Args:
    name: TFDS name; the default is embedded and needs no download.
    split: TFDS split, e.g. `'train'`, `'test'`, `'train[:80%]'`.
    data_dir: Where TFDS keeps prepared data; `None` is TFDS' default.
    batch_size: Examples per batch.
    shuffle_buffer: Shuffle buffer size; 0 keeps the stored order, so every
      pass yields the same batches.
    seed: Seed of the shuffle, for reproducible runs.
    repeat: Repeat forever (as `Estimator.train(steps=...)` wants).

  Returns:
    A dataset of `(float32 image in [0, 1], int64 label)` batches, or
    `({name: feature}, int64 label)` batches for a tabular set.

  Raises:
    DataError: `name` is unknown, or not prepared and not the embedded set,
      or `split` does not exist.
  """
  if batch_size < 1:
    raise errors.DataError(f'batch_size must be >= 1, got {batch_size}.')
  builder = _builder(name, data_dir)
  try:
    dataset = builder.as_dataset(split=split, as_supervised=True)
  except (ValueError, KeyError) as e:
    raise errors.DataError(
        f'split {split!r} of {name!r} cannot be read ({e}). Splits:'
        f' {sorted(builder.info.splits)}.'
    ) from e
  if _is_image_set(builder.info):
    dataset = dataset.map(scale, num_parallel_calls=tf.data.AUTOTUNE)
  if repeat:
    dataset = dataset.repeat()
  if shuffle_buffer:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed)
  return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_input_fn(
    name: str = DEFAULT_DATASET,
    split: str = 'train',
    *,
    feature_key: str | None = None,
    labels_as_column: bool = True,
    **load_kwargs,
) -> Callable[[], tf.data.Dataset]:
  """Returns an Estimator `input_fn` over `load(name, split, ...)`.

  Args:
    name: TFDS name, as for `load`.
    split: TFDS split, as for `load`.
    feature_key: When set, features are `{feature_key: image}` (what canned
      estimators and multi-input Keras models expect); else the image tensor.
    labels_as_column: Labels shaped `[batch, 1]` int64, as canned estimators'
      heads expect; else `[batch]`.
    **load_kwargs: Passed to `load` (data_dir, batch_size, shuffle_buffer,
      seed, repeat).

  Returns:
    A no-argument function that builds the dataset in the caller's graph.

  Raises:
    DataError: as `load`, raised at once rather than inside the Estimator.
  """
  _builder(name, load_kwargs.get('data_dir'))  # fail now, not in train()

  def input_fn() -> tf.data.Dataset:
    dataset = load(name, split, **load_kwargs)

    def shape(image, label):
      label = tf.cast(label, tf.int64)
      if labels_as_column:
        label = tf.expand_dims(label, -1)
      features = {feature_key: image} if feature_key else image
      return features, label

    return dataset.map(shape)

  return input_fn


def make_input_fns(
    name: str = DEFAULT_DATASET,
    *,
    data_dir: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    feature_key: str | None = 'image',
    seed: int | None = 0,
    shuffle: bool = True,
) -> tuple[Callable[[], tf.data.Dataset], Callable[[], tf.data.Dataset]]:
  """The usual Estimator pair: a repeating train input_fn and a test one.

  Args:
    name: TFDS name, as for `load`.
    data_dir: TFDS data directory.
    batch_size: Examples per batch.
    feature_key: Features are `{feature_key: image}` (`None`: as loaded, the
      dict of a tabular set); labels are `[batch, 1]`.
    seed: The train split's shuffle seed.
    shuffle: Shuffle the train split (the test split keeps its order).

  Returns:
    `(train_input_fn, eval_input_fn)`.

  Raises:
    DataError: as `load`, at once.
  """
  common = dict(
      data_dir=data_dir, batch_size=batch_size, feature_key=feature_key
  )
  train = make_input_fn(
      name,
      'train',
      repeat=True,
      seed=seed,
      shuffle_buffer=DEFAULT_SHUFFLE_BUFFER if shuffle else 0,
      **common,
  )
  return train, make_input_fn(name, 'test', shuffle_buffer=0, **common)
