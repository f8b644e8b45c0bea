"""Runs the demo: train TF1, migrate with the toolkit, continue both, compare.

Example:
  report = run.run_demo('/tmp/demo', steps=200)
  print(report.markdown())
"""

from collections.abc import Callable, Mapping
import dataclasses
import os
import re
import time

import numpy as np
import tensorflow as tf

from estimator_migrate import canned
from estimator_migrate import data
from estimator_migrate import model_fn
from estimator_migrate import optimizers
from estimator_migrate import report
from estimator_migrate.checkpoints import assignment
from estimator_migrate.checkpoints import convert
from estimator_migrate.demo import plot
from estimator_migrate.demo import tf1_project
from estimator_migrate.demo import tf2_project

Progress = Callable[[str], None]
LEARNING_RATE = 1e-3


@dataclasses.dataclass(frozen=True)
class Tolerance:
  """How far a migrated model may end from its TF1 original."""

  accuracy: float  # absolute
  loss: float  # relative
  weights: float  # max absolute weight difference
  restored: float = 1e-5  # max |p_tf1 - p_migrated| right after migrating


# Both migrations carry weights and optimizer state, and both runs draw the
# same dropout masks: the continued models agree to float rounding, which
# Adam can amplify into up to lr-sized steps on weights whose gradients are
# near 0 (measured up to 5e-4 absolute after 30 steps). Weights are of order
# 0.1; a wrong learning rate moves them by far more than 1e-2.
TOLERANCE = Tolerance(accuracy=0.02, loss=0.02, weights=1e-2)


@dataclasses.dataclass(frozen=True)
class ModelResult:
  """One model: TF1 continued vs migrated continued."""

  name: str
  tf1: Mapping[str, float]
  migrated: Mapping[str, float]
  restored_difference: float
  max_weight_difference: float
  max_relative_weight_difference: float
  tf1_steps_per_second: float
  migrated_steps_per_second: float
  losses: Mapping[str, list]
  tolerance: Tolerance
  notes: tuple[str, ...]

  def problems(self) -> list[str]:
    out = []
    gap = abs(self.tf1['accuracy'] - self.migrated['accuracy'])
    if gap > self.tolerance.accuracy:
      out.append(
          f'{self.name}: accuracy differs by {gap:.4f} >'
          f' {self.tolerance.accuracy}'
      )
    loss_gap = abs(self.tf1['loss'] - self.migrated['loss']) / max(
        abs(self.tf1['loss']), 1e-12
    )
    if loss_gap > self.tolerance.loss:
      out.append(
          f'{self.name}: loss differs by {loss_gap:.2%} >'
          f' {self.tolerance.loss:.0%}'
      )
    if self.restored_difference > self.tolerance.restored:
      out.append(
          f'{self.name}: right after migration predictions differ by'
          f' {self.restored_difference:.3g} > {self.tolerance.restored}'
      )
    if self.max_weight_difference > self.tolerance.weights:
      out.append(
          f'{self.name}: weights differ by'
          f' {self.max_weight_difference:.3g} > {self.tolerance.weights}'
      )
    return out


@dataclasses.dataclass(frozen=True)
class DemoReport:
  workdir: str
  steps: int
  models: tuple[ModelResult, ...]
  conversion: convert.ConversionReport
  changes_table: str
  plot_path: str

  @property
  def ok(self) -> bool:
    return not any(m.problems() for m in self.models)

  def summary(self) -> str:
    rows = []
    for m in self.models:
      rows.append(
          (
              m.name,
              f'{m.tf1["accuracy"]:.4f}',
              f'{m.migrated["accuracy"]:.4f}',
              f'{m.tf1["loss"]:.4f}',
              f'{m.migrated["loss"]:.4f}',
              f'{m.restored_difference:.2g}',
              f'{m.max_weight_difference:.3g} ({m.max_relative_weight_difference:.3g} rel.)',
              f'{m.tf1_steps_per_second:.1f}',
              f'{m.migrated_steps_per_second:.1f}',
              'ok' if not m.problems() else 'DIVERGED',
          )
      )
    return report.markdown_table(
        (
            'model',
            'TF1 accuracy',
            'migrated accuracy',
            'TF1 loss',
            'migrated loss',
            'restored diff',
            'max weight diff',
            'TF1 steps/s',
            'migrated steps/s',
            'verdict',
        ),
        rows,
    )

  def markdown(self) -> str:
    problems = [p for m in self.models for p in m.problems()]
    lines = [
        '# estimator_migrate demo',
        '',
        f'Each model trained {self.steps} steps as TF1 code, was migrated, and'
        f' then both the TF1 original and the migrated model trained'
        f' {self.steps} more steps on the same batches.',
        '',
        self.summary(),
        '',
        '"restored diff": max |p_TF1 - p_migrated| over the test set right'
        ' after migration, before any further training.',
        '',
        '## Canned model: argument changes',
        '',
        self.changes_table,
        '',
        '## Canned model: checkpoint conversion',
        '',
        f'{self.conversion.tensors} tensors,'
        f' {self.conversion.bytes / 1e6:.1f} MB in'
        f' {self.conversion.seconds:.2f} s, verified:'
        f' {self.conversion.verified}.',
        '',
        '```',
        self.conversion.summary(),
        '```',
        '',
        '## Notes',
        '',
    ]
    lines += [f'- {note}' for m in self.models for note in m.notes]
    lines += [
        '',
        f'![training loss]({os.path.basename(self.plot_path)})',
        '',
        'TensorBoard: `tensorboard --logdir '
        f"{self.workdir}` shows every run's event files.",
        '',
        '## Verdict',
        '',
        'ok: every migrated model is within tolerance.'
        if not problems
        else '\n'.join(f'- {p}' for p in problems),
    ]
    return '\n'.join(lines) + '\n'


def _losses(model_dir: str) -> list[tuple[int, float]]:
  """(step, loss) pairs from an Estimator's training event files."""
  points = {}
  for path in tf.io.gfile.glob(os.path.join(model_dir, 'events.out.tfevents*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == 'loss':
          points[event.step] = (
              value.simple_value
              if value.HasField('simple_value')
              else float(tf.make_ndarray(value.tensor))
          )
  return sorted(points.items())


def _continue(estimator, train_fn, eval_fn, steps: int):
  """Trains `steps` more steps; returns (steps per second, eval metrics)."""
  began = time.perf_counter()
  estimator.train(train_fn, steps=steps)
  rate = steps / (time.perf_counter() - began)
  return rate, estimator.evaluate(eval_fn)


def _probabilities(estimator, input_fn) -> np.ndarray:
  return np.stack([p['probabilities'] for p in estimator.predict(input_fn)])


def _weight_differences(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]
) -> tuple[float, float]:
  worst_abs = worst_rel = 0.0
  for name, value in a.items():
    diff = np.abs(value - b[name])
    worst_abs = max(worst_abs, float(diff.max()))
    worst_rel = max(
        worst_rel, float((diff / np.maximum(np.abs(b[name]), 1e-3)).max())
    )
  return worst_abs, worst_rel


def _config(steps: int) -> tf.estimator.RunConfig:
  return tf.estimator.RunConfig(
      tf_random_seed=0,
      save_summary_steps=max(1, steps // 20),
      log_step_count_steps=None,
      save_checkpoints_steps=steps,  # the last step is always saved
      keep_checkpoint_max=None,
  )


def _run_canned(workdir, steps, info, inputs, perturb_lr, say):
  kwargs = tf1_project.canned_kwargs(
      info.features['image'].shape, info.features['label'].num_classes
  )
  train_fn, eval_fn, predict_fn = inputs
  config = _config(steps)
  say(f'canned: training the TF1 {tf1_project.CANNED} for {steps} steps')
  tf1 = getattr(tf.compat.v1.estimator, tf1_project.CANNED)(
      model_dir=os.path.join(workdir, 'canned', 'tf1'), config=config, **kwargs
  )
  tf1.train(train_fn, steps=steps)
  say('canned: translating the constructor arguments')
  translation = canned.translate_canned_args(tf1_project.CANNED, **kwargs)
  say('canned: converting the checkpoint')
  given = None
  if perturb_lr != 1.0:  # for testing the divergence check
    given = {
        'dnn': tf.compat.v1.train.AdamOptimizer(1e-3 * perturb_lr),
        'linear': tf.compat.v1.train.FtrlOptimizer(
            0.01, l1_regularization_strength=0.001
        ),
    }
  target = os.path.join(workdir, 'canned', 'migrated', f'model.ckpt-{steps}')
  conversion = convert.convert_optimizer_checkpoint(
      tf1.model_dir, target, optimizers=given, overwrite=True
  )
  migrated = getattr(tf.estimator, tf1_project.CANNED)(
      model_dir=os.path.dirname(target), config=config, **translation.kwargs
  )
  restored = float(
      np.max(
          np.abs(
              _probabilities(tf1, predict_fn)
              - _probabilities(migrated, predict_fn)
          )
      )
  )
  say(f'canned: continuing both for {steps} steps')
  tf1_rate, tf1_metrics = _continue(tf1, train_fn, eval_fn, steps)
  migrated_rate, migrated_metrics = _continue(
      migrated, train_fn, eval_fn, steps
  )
  names = [
      n
      for n in migrated.get_variable_names()
      if not n.startswith('training/') and n != 'global_step'
  ]
  weights = _weight_differences(
      {n: migrated.get_variable_value(n) for n in names},
      {n: tf1.get_variable_value(n) for n in names},
  )
  result = ModelResult(
      'canned ' + tf1_project.CANNED,
      tf1_metrics,
      migrated_metrics,
      restored,
      *weights,
      tf1_rate,
      migrated_rate,
      {'TF1': _losses(tf1.model_dir), 'migrated': _losses(migrated.model_dir)},
      TOLERANCE,
      (
          'canned: weights, Adam and Ftrl slots and hyperparameters carried by'
          ' convert_optimizer_checkpoint; training continues from the TF1'
          ' global step.',
      ),
  )
  return result, conversion, translation.table()


def _keras_graph_model(image_shape, num_classes):
  """The Keras twin built in a fresh graph: the names an Estimator gives it."""
  graph = tf.Graph()
  with graph.as_default():
    return tf2_project.build_cnn(image_shape, num_classes)


def _run_custom(workdir, steps, info, inputs, say):
  shape = info.features['image'].shape
  classes = info.features['label'].num_classes
  train_fn, eval_fn, predict_fn = inputs
  config = _config(steps)
  params = {'num_classes': classes, 'learning_rate': LEARNING_RATE}
  say(
      f'custom: training the TF1 tf.compat.v1.layers model_fn for {steps}'
      ' steps'
  )
  tf1 = tf.estimator.Estimator(
      tf1_project.custom_model_fn,
      params=params,
      config=config,
      model_dir=os.path.join(workdir, 'custom', 'tf1'),
  )
  tf1.train(train_fn, steps=steps)
  prefix = tf.train.latest_checkpoint(tf1.model_dir)
  say('custom: mapping the TF1 checkpoint onto the Keras model')
  amap = assignment.assignment_map(prefix, _keras_graph_model(shape, classes))
  if not amap.complete:
    raise ValueError(f'the assignment map is incomplete:\n{amap.table()}')
  # Right after migration: the Keras model with the mapped weights predicts
  # what the TF1 model predicts.
  keras_model = tf2_project.build_cnn(shape, classes)
  eager_map = assignment.assignment_map(prefix, keras_model)
  assignment.restore(prefix, keras_model, eager_map)
  images = np.concatenate(
      [
          f['image']
          for f, in predict_fn().map(lambda f: (f,)).as_numpy_iterator()
      ]
  )
  restored = float(
      np.max(
          np.abs(
              keras_model(images, training=False).numpy()
              - _probabilities(tf1, predict_fn)
          )
      )
  )
  plan = optimizers.plan_optimizer(
      tf.compat.v1.train.AdamOptimizer(LEARNING_RATE)
  )
  # Weights by the assignment map; Adam's moments and the step with them.
  previous = {m: c for c, m in amap.mapping.items()}
  previous.update(
      assignment.optimizer_slot_map(
          prefix, amap, plan, scope=plan.build()._name  # pylint: disable=protected-access
      )
  )
  migrated = tf.estimator.Estimator(
      model_fn.make_model_fn(
          lambda p: tf2_project.build_cnn(shape, classes),
          loss='sparse_categorical_crossentropy',
          optimizer=plan,
          metrics=['accuracy'],
      ),
      model_dir=os.path.join(workdir, 'custom', 'migrated'),
      config=config,
      warm_start_from=tf.estimator.WarmStartSettings(
          prefix,
          vars_to_warm_start=[re.escape(n) + '(:0)?$' for n in previous],
          var_name_to_prev_var_name=previous,
      ),
  )
  say(f'custom: continuing both for {steps} steps')
  tf1_rate, tf1_metrics = _continue(tf1, train_fn, eval_fn, steps)
  migrated_rate, migrated_metrics = _continue(
      migrated, train_fn, eval_fn, steps
  )
  weights = _weight_differences(
      {c: migrated.get_variable_value(m) for c, m in amap.mapping.items()},
      {c: tf1.get_variable_value(c) for c in amap.mapping},
  )
  return ModelResult(
      'custom model_fn (tf.compat.v1.layers -> Keras)',
      tf1_metrics,
      migrated_metrics,
      restored,
      *weights,
      tf1_rate,
      migrated_rate,
      {'TF1': _losses(tf1.model_dir), 'migrated': _losses(migrated.model_dir)},
      TOLERANCE,
      (
          'custom: the 10 weights (BatchNorm statistics included) are carried'
          " by assignment_map, Adam's moments and the global step by"
          ' optimizer_slot_map, into a warm start of the make_model_fn'
          ' estimator.',
      ),
  )


def run_demo(
    workdir: str,
    *,
    steps: int = 200,
    dataset: str = data.DEFAULT_DATASET,
    data_dir: str | None = None,
    batch_size: int = 64,
    perturb_lr: float = 1.0,
    progress: Progress | None = None,
) -> DemoReport:
  """Trains the TF1 project, migrates it, continues both and compares.

  Args:
    workdir: Where model_dirs, the report and the plot go.
    steps: Steps before migration, and again after it.
    dataset: TFDS image data set (default: embedded).
    data_dir: TFDS data directory.
    batch_size: Examples per batch.
    perturb_lr: Multiplies the migrated canned DNN's learning rate (1 = the
      true one); only for showing that the divergence check works.
    progress: Called with one line per stage.

  Returns:
    The report (`report.ok` is False when a model diverged).
  """
  say = progress or (lambda line: None)
  tf.io.gfile.makedirs(workdir)
  info = data.info(dataset, data_dir=data_dir)
  train_fn, eval_fn = data.make_input_fns(
      dataset, data_dir=data_dir, batch_size=batch_size
  )
  inputs = (
      train_fn,
      eval_fn,
      lambda: eval_fn().map(lambda features, labels: features),
  )
  canned_result, conversion, changes = _run_canned(
      workdir, steps, info, inputs, perturb_lr, say
  )
  custom_result = _run_custom(workdir, steps, info, inputs, say)
  plot_path = os.path.join(workdir, 'loss_curves.png')
  plot.loss_curves(
      plot_path,
      {m.name: m.losses for m in (canned_result, custom_result)},
      boundary=steps,
  )
  return DemoReport(
      workdir,
      steps,
      (canned_result, custom_result),
      conversion,
      changes,
      plot_path,
  )
