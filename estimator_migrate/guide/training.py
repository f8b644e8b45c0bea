"""The migration guide's three TF2 training loops over one Keras model.

`fit` (compile + fit + evaluate), `train_on_batch` (the guide's explicit loop
with `reset_metrics` and `test_on_batch(reset_metrics=False)`) and `custom`
(a `tf.GradientTape` step in a `tf.function`, regularization losses added from
`model.losses`, metric objects reset every epoch) are the same training: from
the same weights over the same batches they reach the same weights, which
`tests/training_test.py` checks.

Example:
  model = models.build_cnn()
  result = training.train(model, data.load(split='train'),
                          data.load(split='test'), loop='custom', epochs=3)
  print(result.summary())
"""

from collections.abc import Callable
import dataclasses
from typing import Literal

import tensorflow as tf

from estimator_migrate import errors

Loop = Literal['fit', 'train_on_batch', 'custom']
LOOPS: tuple[Loop, ...] = ('fit', 'train_on_batch', 'custom')
OptimizerFactory = Callable[[], tf.keras.optimizers.Optimizer]


@dataclasses.dataclass(frozen=True)
class EpochMetrics:
  """Loss (prediction loss plus regularization) and accuracy of one epoch."""

  epoch: int
  loss: float
  accuracy: float
  test_loss: float
  test_accuracy: float

  def line(self) -> str:
    return (
        f'epoch {self.epoch}: loss {self.loss:.4f} accuracy'
        f' {self.accuracy:.4f} test_loss {self.test_loss:.4f} test_accuracy'
        f' {self.test_accuracy:.4f}'
    )


@dataclasses.dataclass(frozen=True)
class TrainingResult:
  """What `train` returns: the loop used and every epoch's metrics."""

  loop: Loop
  epochs: tuple[EpochMetrics, ...]

  @property
  def final(self) -> EpochMetrics:
    return self.epochs[-1]

  def summary(self) -> str:
    return (
        f'loop={self.loop} epochs={len(self.epochs)} final'
        f' test_accuracy={self.final.test_accuracy:.4f}'
        f' test_loss={self.final.test_loss:.4f}'
    )


def default_optimizer() -> tf.keras.optimizers.Optimizer:
  return tf.keras.optimizers.Adam(learning_rate=1e-3)


def _loss_fn() -> tf.keras.losses.Loss:
  return tf.keras.losses.SparseCategoricalCrossentropy()


def _compile(model: tf.keras.Model, make_optimizer: OptimizerFactory) -> None:
  model.compile(
      optimizer=make_optimizer(), loss=_loss_fn(), metrics=['accuracy']
  )


def _fit(
    model, train_data, test_data, epochs, make_optimizer, on_epoch, verbose
):
  _compile(model, make_optimizer)
  results = []

  class Report(tf.keras.callbacks.Callback):

    def on_epoch_end(self, epoch, logs=None):
      metrics = EpochMetrics(
          epoch=epoch + 1,
          loss=float(logs['loss']),
          accuracy=float(logs['accuracy']),
          test_loss=float(logs['val_loss']),
          test_accuracy=float(logs['val_accuracy']),
      )
      results.append(metrics)
      on_epoch(metrics)

  model.fit(
      train_data,
      epochs=epochs,
      validation_data=test_data,
      callbacks=[Report()],
      verbose=verbose,
  )
  return results


def _train_on_batch(
    model, train_data, test_data, epochs, make_optimizer, on_epoch
):
  _compile(model, make_optimizer)
  results = []
  for epoch in range(1, epochs + 1):
    model.reset_metrics()
    for images, labels in train_data:
      train_logs = model.train_on_batch(
          images, labels, reset_metrics=False, return_dict=True
      )
    model.reset_metrics()
    for images, labels in test_data:
      test_logs = model.test_on_batch(
          images, labels, reset_metrics=False, return_dict=True
      )
    metrics = EpochMetrics(
        epoch=epoch,
        loss=float(train_logs['loss']),
        accuracy=float(train_logs['accuracy']),
        test_loss=float(test_logs['loss']),
        test_accuracy=float(test_logs['accuracy']),
    )
    results.append(metrics)
    on_epoch(metrics)
  return results


def regularization_loss(model: tf.keras.Model) -> tf.Tensor:
  """Sum of `model.losses` (0.0 when there are none)."""
  if not model.losses:
    return tf.constant(0.0)
  return tf.math.add_n(model.losses)


def _custom(model, train_data, test_data, epochs, make_optimizer, on_epoch):
  optimizer = make_optimizer()
  loss_fn = _loss_fn()
  train_loss = tf.keras.metrics.Mean('loss')
  train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy('accuracy')
  test_loss = tf.keras.metrics.Mean('test_loss')
  test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy('test_accuracy')

  @tf.function
  def train_step(images, labels):
    with tf.GradientTape() as tape:
      predictions = model(images, training=True)
      total_loss = loss_fn(labels, predictions) + regularization_loss(model)
    gradients = tape.gradient(total_loss, model.trainable_variables)
    optimizer.apply_gradients(
        zip(gradients, model.trainable_variables, strict=True)
    )
    train_loss.update_state(total_loss)
    train_accuracy.update_state(labels, predictions)

  @tf.function
  def test_step(images, labels):
    predictions = model(images, training=False)
    test_loss.update_state(
        loss_fn(labels, predictions) + regularization_loss(model)
    )
    test_accuracy.update_state(labels, predictions)

  results = []
  for epoch in range(1, epochs + 1):
    for metric in (train_loss, train_accuracy, test_loss, test_accuracy):
      metric.reset_state()
    for images, labels in train_data:
      train_step(images, labels)
    for images, labels in test_data:
      test_step(images, labels)
    metrics = EpochMetrics(
        epoch=epoch,
        loss=float(train_loss.result()),
        accuracy=float(train_accuracy.result()),
        test_loss=float(test_loss.result()),
        test_accuracy=float(test_accuracy.result()),
    )
    results.append(metrics)
    on_epoch(metrics)
  return results


def train(
    model: tf.keras.Model,
    train_data: tf.data.Dataset,
    test_data: tf.data.Dataset,
    *,
    loop: Loop = 'fit',
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    make_optimizer: OptimizerFactory = default_optimizer,
    on_epoch_end: Callable[[EpochMetrics], None] | None = None,
    verbose: int = 0,
) -> TrainingResult:
  """Trains `model` with one of the guide's loops.

  Every loop sees the same batches: each epoch is one pass over `train_data`
  (its first `steps_per_epoch` batches when set), then one over `test_data`.

  Args:
    model: An uncompiled Keras model ending in class probabilities.
    train_data: `(image, label)` batches, e.g. from `data.load`.
    test_data: `(image, label)` batches evaluated after every epoch.
    loop: `'fit'`, `'train_on_batch'` or `'custom'`.
    epochs: Passes over the training data.
    steps_per_epoch: Batches per epoch; `None` is the whole of `train_data`.
    make_optimizer: Returns a fresh Keras optimizer (default Adam 1e-3).
    on_epoch_end: Called with each epoch's metrics, e.g. to print them.
    verbose: Keras' progress output for `fit` (0 silent, 1 bar, 2 line).

  Returns:
    The loop's per-epoch metrics.

  Raises:
    MigrationError: `loop`, `epochs` or `steps_per_epoch` is invalid.
  """
  if loop not in LOOPS:
    raise errors.MigrationError(f'loop must be one of {LOOPS}, got {loop!r}.')
  if epochs < 1:
    raise errors.MigrationError(f'epochs must be >= 1, got {epochs}.')
  if steps_per_epoch is not None:
    if steps_per_epoch < 1:
      raise errors.MigrationError(
          f'steps_per_epoch must be >= 1 or None, got {steps_per_epoch}.'
      )
    train_data = train_data.take(steps_per_epoch)
  on_epoch = on_epoch_end or (lambda metrics: None)
  if loop == 'fit':
    epochs_run = _fit(
        model, train_data, test_data, epochs, make_optimizer, on_epoch, verbose
    )
  elif loop == 'train_on_batch':
    epochs_run = _train_on_batch(
        model, train_data, test_data, epochs, make_optimizer, on_epoch
    )
  else:
    epochs_run = _custom(
        model, train_data, test_data, epochs, make_optimizer, on_epoch
    )
  return TrainingResult(loop=loop, epochs=tuple(epochs_run))
