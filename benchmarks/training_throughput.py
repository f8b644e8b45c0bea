r"""Benchmarks training steps/s: Keras fit vs three ways to an Estimator.

The guide's CNN (`models.build_cnn`) at batch 64 on the embedded digits,
trained by:

- `keras_fit`: `model.fit` (Keras legacy Adam), the TF2 reference;
- `hand_written`: the guide's first, hand-written `model_fn` (the model's
  loss and `tf.compat.v1.train.AdamOptimizer.minimize`, nothing else: it
  misses BatchNorm's updates and the l2 loss, so it does less work);
- `hand_written_full`: the same model_fn doing the work the first one
  skips (the l2 loss from `model.losses`, BatchNorm's updates grouped with
  the step), with the same v1 Adam: the like-for-like reference;
- `make_model_fn`: `estimator_migrate.tf2.model_fn.make_model_fn` (Keras legacy
  Adam, BatchNorm updates and regularization included);
- `to_estimator`: `estimator_migrate.tf2.keras_estimator.to_estimator`.

Each measurement trains a fresh model in a fresh model_dir and times the
steps after `--warmup` (graph building, session start and the first steps
excluded), as wall-clock steps/s and as the process's CPU milliseconds per
step (all threads; less sensitive than wall time to other jobs on the
machine). The four run in interleaved rounds, in a rotated order, so a busy
machine slows them alike; the table gives medians over rounds and each
variant's speed ratio to the reference (`--reference`, default
`hand_written`) in the same round (median, min, max; above 1 is faster).

Example:
  python benchmarks/training_throughput.py --rounds=5 --steps=200
  python benchmarks/training_throughput.py --reference=hand_written_full
"""

from collections.abc import Callable, Sequence
import dataclasses
import os
import statistics
import sys
import tempfile
import time

from absl import app
from absl import flags

_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Interleaved rounds.')
_STEPS = flags.DEFINE_integer('steps', 200, 'Timed steps per measurement.')
_WARMUP = flags.DEFINE_integer(
    'warmup', 20, 'Untimed steps before the timed ones.'
)
_BATCH = flags.DEFINE_integer('batch_size', 64, 'Examples per step.')
_LEARNING_RATE = 1e-3
_VARIANTS = (
    'keras_fit',
    'hand_written',
    'hand_written_full',
    'make_model_fn',
    'to_estimator',
)
_REFERENCE = flags.DEFINE_enum(
    'reference', 'hand_written', _VARIANTS, 'The variant ratios are to.'
)
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tf():
  """TensorFlow and this checkout's package, imported once flags are parsed."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if _REPO not in sys.path:  # this checkout, not an installed copy
    sys.path.insert(0, _REPO)
  import tensorflow as tf

  from estimator_migrate.guide import data
  from estimator_migrate.guide import models
  from estimator_migrate.tf2 import keras_estimator
  from estimator_migrate.tf2 import model_fn

  return tf, data, keras_estimator, model_fn, models


@dataclasses.dataclass(frozen=True)
class Rate:
  """One measurement: wall-clock steps/s and process CPU ms per step."""

  steps_per_s: float
  cpu_ms: float


def _measure(variant: str, steps: int, warmup: int, batch: int) -> Rate:
  """Steps/s and CPU ms/step of `variant`, `steps` steps after `warmup`."""
  tf, data, keras_estimator, model_fn, models = _tf()
  times: list[tuple[float, float]] = []  # (wall, process CPU) per step
  total = warmup + steps + 1  # the first timestamp starts the clock

  def build(params=None):
    del params
    return models.build_cnn(seed=0)

  def compiled():
    model = build()
    model.compile(
        tf.keras.optimizers.legacy.Adam(_LEARNING_RATE),
        'sparse_categorical_crossentropy',
        ['accuracy'],
    )
    return model

  if variant == 'keras_fit':

    class Clock(tf.keras.callbacks.Callback):
      # Take the logs as tensors: converting them to numpy every batch is a
      # cost of this clock, not of fit (Keras' own callbacks do the same).
      _supports_tf_logs = True

      def on_train_batch_end(self, batch_index, logs=None):
        times.append((time.perf_counter(), time.process_time()))

    dataset = data.load(split='train', batch_size=batch, repeat=True)
    compiled().fit(
        dataset,
        steps_per_epoch=total,
        epochs=1,
        verbose=0,
        callbacks=[Clock()],
    )
  else:

    class Hook(tf.estimator.SessionRunHook):

      def after_run(self, run_context, run_values):
        times.append((time.perf_counter(), time.process_time()))

    def hand_written(features, labels, mode):
      # The guide's first model_fn: the model's loss and minimize.
      model = build()
      outputs = model(features['image'], training=True)
      loss = tf.reduce_mean(
          tf.keras.losses.sparse_categorical_crossentropy(labels, outputs)
      )
      train_op = tf.compat.v1.train.AdamOptimizer(_LEARNING_RATE).minimize(
          loss, tf.compat.v1.train.get_or_create_global_step()
      )
      return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    def hand_written_full(features, labels, mode):
      # The same, doing the work the first one skips.
      model = build()
      image = features['image']
      outputs = model(image, training=True)
      loss = tf.reduce_mean(
          tf.keras.losses.sparse_categorical_crossentropy(labels, outputs)
      ) + tf.add_n(model.losses)
      step = tf.compat.v1.train.AdamOptimizer(_LEARNING_RATE).minimize(
          loss, tf.compat.v1.train.get_or_create_global_step()
      )
      updates = model.get_updates_for(None) + model.get_updates_for(image)
      train_op = tf.group(step, *updates)
      return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    model_dir = tempfile.mkdtemp(prefix=f'throughput_{variant}_')
    if variant == 'hand_written':
      estimator = tf.estimator.Estimator(hand_written, model_dir=model_dir)
    elif variant == 'hand_written_full':
      estimator = tf.estimator.Estimator(hand_written_full, model_dir=model_dir)
    elif variant == 'make_model_fn':
      estimator = tf.estimator.Estimator(
          model_fn.make_model_fn(
              build,
              loss='sparse_categorical_crossentropy',
              optimizer=lambda: tf.keras.optimizers.legacy.Adam(_LEARNING_RATE),
          ),
          model_dir=model_dir,
      )
    else:
      estimator = keras_estimator.to_estimator(compiled(), model_dir=model_dir)
    estimator.train(
        data.make_input_fn(
            split='train', feature_key='image', batch_size=batch, repeat=True
        ),
        steps=total,
        hooks=[Hook()],
    )
  (wall0, cpu0), (wall1, cpu1) = times[warmup], times[-1]
  count = len(times) - 1 - warmup
  return Rate(count / (wall1 - wall0), 1000 * (cpu1 - cpu0) / count)


def _table(rates: dict[str, list[Rate]], name: str) -> str:
  reference = rates[name]
  lines = [
      f'| variant | steps/s | ratio to {name}: median (min-max) |'
      f' CPU ms/step | CPU ratio to {name}: median (min-max) |',
      '| --- | --- | --- | --- | --- |',
  ]

  def spread(values: list[float]) -> str:
    return (
        f'{statistics.median(values):.3f}'
        f' ({min(values):.3f}-{max(values):.3f})'
    )

  for variant in _VARIANTS:
    runs = rates[variant]
    speed = [
        r.steps_per_s / ref.steps_per_s
        for r, ref in zip(runs, reference, strict=True)
    ]
    cpu = [
        ref.cpu_ms / r.cpu_ms for r, ref in zip(runs, reference, strict=True)
    ]
    lines.append(
        f'| {variant} | {statistics.median(r.steps_per_s for r in runs):.1f}'
        f' | {spread(speed)} |'
        f' {statistics.median(r.cpu_ms for r in runs):.1f} | {spread(cpu)} |'
    )
  return '\n'.join(lines)


def run_rounds(
    rounds: int,
    steps: int,
    warmup: int,
    batch: int,
    report: Callable[[str], None] = lambda line: None,
) -> dict[str, list[Rate]]:
  """Every variant's rate, round by round, in a rotated order."""
  rates: dict[str, list[Rate]] = {v: [] for v in _VARIANTS}
  for round_index in range(rounds):
    shift = round_index % len(_VARIANTS)
    for variant in _VARIANTS[shift:] + _VARIANTS[:shift]:
      rate = _measure(variant, steps, warmup, batch)
      rates[variant].append(rate)
      report(
          f'round {round_index + 1}: {variant} {rate.steps_per_s:.1f} steps/s,'
          f' {rate.cpu_ms:.1f} CPU ms/step'
      )
  return rates


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if _STEPS.value < 2 or _ROUNDS.value < 1 or _WARMUP.value < 0:
    raise app.UsageError('--steps must be >= 2, --rounds >= 1, --warmup >= 0')
  _tf()[0].get_logger().setLevel('ERROR')
  rates = run_rounds(
      _ROUNDS.value,
      _STEPS.value,
      _WARMUP.value,
      _BATCH.value,
      report=lambda line: print(line, file=sys.stderr, flush=True),
  )
  print(
      f'{_ROUNDS.value} rounds of {_STEPS.value} timed steps (after'
      f' {_WARMUP.value}) at batch {_BATCH.value}:\n'
  )
  print(_table(rates, _REFERENCE.value))
  return 0


if __name__ == '__main__':
  app.run(main)
