"""Runs the demo: train TF1, migrate with the toolkit, continue both, compare.

Example:
  report = run.run_demo('/tmp/demo', steps=200)
  print(report.summary())
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
from estimator_migrate import estimators
from estimator_migrate import model_fn
from estimator_migrate import optimizers
from estimator_migrate import report
from estimator_migrate.checkpoints import assignment
from estimator_migrate.checkpoints import convert
from estimator_migrate.demo import plot
from estimator_migrate.demo import tf1_project
from estimator_migrate.demo import tf2_project
from estimator_migrate.demo import workdir as workdir_lib

Progress = Callable[[str], None]
SEED = 0
# The top-level entries a run writes into its workdir (and a rerun replaces).
OUTPUTS = ('canned', 'custom', 'report.md', 'loss_curves.png')


@dataclasses.dataclass(frozen=True)
class Gap:
  """How far two continued runs of one model ended apart."""

  accuracy: float  # absolute
  loss: float  # relative to the first run's loss
  weights: float  # max absolute weight difference

  def __str__(self) -> str:
    return f'{self.accuracy:.4f} / {self.loss:.2%} / {self.weights:.2g}'


@dataclasses.dataclass(frozen=True)
class Tolerance:
  """How far a migrated model may end from its TF1 original.

  Each measure may differ by `noise_factor` times the run-to-run noise that
  the same run measured (the TF1 continuation done twice from the same
  checkpoint), and never less than its absolute floor: with op determinism
  the noise is 0, and a migrated model then still differs from its original
  by float rounding (its optimizers are Keras code, not v1 kernels).
  """

  floor: Gap
  noise_factor: float
  restored: float = 1e-5  # max |p_tf1 - p_migrated| right after migrating

  def limit(self, noise: Gap) -> Gap:
    return Gap(
        *(
            max(self.noise_factor * measured, floor)
            for measured, floor in zip(
                dataclasses.astuple(noise),
                dataclasses.astuple(self.floor),
                strict=True,
            )
        )
    )


# Floors, for when the noise is 0 (op determinism): an accuracy gap of 1 %
# (3.6 of the 360 digit test images; the penguins model is exact), 1 % of
# the loss, and 1e-2 on a weight: Adam turns float rounding into steps of
# its learning rate (1e-3) on weights whose gradients are near 0, measured
# up to 2.4e-3 after 200 steps on the custom model, so the floor is ten such
# steps. Real migration errors (a wrong learning rate, lost slots) move
# weights by far more: --perturb_lr=100 moves the canned model's by 2.85.
TOLERANCE = Tolerance(
    floor=Gap(accuracy=0.01, loss=0.01, weights=1e-2), noise_factor=4.0
)


@dataclasses.dataclass(frozen=True)
class ModelResult:
  """One model: TF1 continued (twice) vs migrated continued."""

  name: str
  tf1: Mapping[str, float]
  migrated: Mapping[str, float]
  restored_difference: float
  migration: Gap  # TF1 continued vs migrated continued
  noise: Gap  # TF1 continued vs TF1 continued again from the same checkpoint
  tf1_steps_per_second: float
  migrated_steps_per_second: float
  losses: Mapping[str, list]
  tolerance: Tolerance
  notes: tuple[str, ...]

  def problems(self) -> list[str]:
    limit = self.tolerance.limit(self.noise)
    out = []
    if self.migration.accuracy > limit.accuracy:
      out.append(
          f'{self.name}: accuracy differs by {self.migration.accuracy:.4f} >'
          f' {limit.accuracy:.4f}'
      )
    if self.migration.loss > limit.loss:
      out.append(
          f'{self.name}: loss differs by {self.migration.loss:.2%} >'
          f' {limit.loss:.2%}'
      )
    if self.restored_difference > self.tolerance.restored:
      out.append(
          f'{self.name}: right after migration predictions differ by'
          f' {self.restored_difference:.3g} > {self.tolerance.restored}'
      )
    if self.migration.weights > limit.weights:
      out.append(
          f'{self.name}: weights differ by {self.migration.weights:.3g} >'
          f' {limit.weights:.3g}'
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
  deterministic: bool

  @property
  def ok(self) -> bool:
    return not any(m.problems() for m in self.models)

  def summary(self) -> str:
    """The results table: the same figures on every run (no timings)."""
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
              str(m.migration),
              str(m.noise),
              str(m.tolerance.limit(m.noise)),
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
            'migration gap (acc / loss / weight)',
            'noise floor (acc / loss / weight)',
            'limit',
            'verdict',
        ),
        rows,
    )

  def speeds(self) -> str:
    """Training speed after the migration (varies from run to run)."""
    return report.markdown_table(
        ('model', 'TF1 steps/s', 'migrated steps/s'),
        [
            (
                m.name,
                f'{m.tf1_steps_per_second:.1f}',
                f'{m.migrated_steps_per_second:.1f}',
            )
            for m in self.models
        ],
    )

  def markdown(self) -> str:
    problems = [p for m in self.models for p in m.problems()]
    determinism = (
        f'on (tf.config.experimental.enable_op_determinism, seed {SEED})'
        if self.deterministic
        else 'off'
    )
    lines = [
        '# estimator_migrate demo',
        '',
        f'Each model trained {self.steps} steps as TF1 code, was migrated, and'
        f' then the TF1 original (twice, from the same checkpoint) and the'
        f' migrated model trained {self.steps} more steps on the same'
        f' batches. Op determinism: {determinism}.',
        '',
        self.summary(),
        '',
        '"restored diff": max |p_TF1 - p_migrated| over the test set right'
        ' after migration, before any further training. "migration gap":'
        ' TF1 continued vs migrated continued: accuracy difference, loss'
        ' difference relative to TF1\'s, max weight difference. "noise'
        ' floor": the same three between the TF1 continuation and the TF1'
        ' continuation done again from the same checkpoint. "limit": per'
        f' measure, max({TOLERANCE.noise_factor:g} x noise floor, absolute'
        ' floor); a model whose migration gap exceeds it diverged.',
        '',
        '## Speed (varies from run to run)',
        '',
        self.speeds(),
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


def _max_difference(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.max(np.abs(a - b)))


def _gap(
    reference: tf.estimator.Estimator,
    reference_metrics: Mapping[str, float],
    other: tf.estimator.Estimator,
    other_metrics: Mapping[str, float],
    names: Mapping[str, str],
) -> Gap:
  """Accuracy, relative loss and max weight differences of two runs."""
  weights = max(
      _max_difference(
          reference.get_variable_value(mine), other.get_variable_value(theirs)
      )
      for mine, theirs in names.items()
  )
  loss = abs(reference_metrics['loss'] - other_metrics['loss']) / max(
      abs(reference_metrics['loss']), 1e-12
  )
  return Gap(
      float(abs(reference_metrics['accuracy'] - other_metrics['accuracy'])),
      float(loss),
      weights,
  )


def _copy_checkpoints(model_dir: str, target_dir: str) -> None:
  """Copies a model_dir's checkpoints and graph (not its event files)."""
  tf.io.gfile.makedirs(target_dir)
  for name in tf.io.gfile.listdir(model_dir):
    path = os.path.join(model_dir, name)
    if not name.startswith('events.') and not tf.io.gfile.isdir(path):
      tf.io.gfile.copy(path, os.path.join(target_dir, name))


def _config(steps: int) -> tf.estimator.RunConfig:
  return tf.estimator.RunConfig(
      tf_random_seed=SEED,
      save_summary_steps=max(1, steps // 20),
      log_step_count_steps=None,
      save_checkpoints_steps=steps,  # the last step is always saved
      keep_checkpoint_max=None,
  )


def _continue_and_compare(
    name: str,
    make_tf1: Callable[[str], tf.estimator.Estimator],
    tf1: tf.estimator.Estimator,
    migrated: tf.estimator.Estimator,
    names: Mapping[str, str],
    restored: float,
    inputs,
    steps: int,
    notes: tuple[str, ...],
) -> ModelResult:
  """Continues TF1 twice and the migrated model once; compares them.

  Args:
    name: The model's row name.
    make_tf1: model_dir -> the TF1 estimator, for the noise run.
    tf1: The TF1 estimator, trained `steps` steps.
    migrated: The migrated estimator, starting from TF1's checkpoint.
    names: TF1 variable name -> migrated variable name, for every weight.
    restored: max |p_TF1 - p_migrated| right after migration.
    inputs: (train input_fn, eval input_fn).
    steps: Steps to continue.
    notes: What the migration carried, for the report.
  """
  train_fn, eval_fn = inputs
  rerun = make_tf1(tf1.model_dir + '_rerun')
  _copy_checkpoints(tf1.model_dir, rerun.model_dir)
  tf1_rate, tf1_metrics = _continue(tf1, train_fn, eval_fn, steps)
  _, rerun_metrics = _continue(rerun, train_fn, eval_fn, steps)
  migrated_rate, migrated_metrics = _continue(
      migrated, train_fn, eval_fn, steps
  )
  return ModelResult(
      name,
      tf1_metrics,
      migrated_metrics,
      restored,
      _gap(tf1, tf1_metrics, migrated, migrated_metrics, names),
      _gap(tf1, tf1_metrics, rerun, rerun_metrics, {n: n for n in names}),
      tf1_rate,
      migrated_rate,
      {'TF1': _losses(tf1.model_dir), 'migrated': _losses(migrated.model_dir)},
      TOLERANCE,
      notes,
  )


def _canned_inputs(data_dir, batch_size):
  """The canned model's input_fns: penguins, imputed and scaled."""
  train_fn, eval_fn = data.make_input_fns(
      tf1_project.CANNED_DATASET,
      data_dir=data_dir,
      batch_size=batch_size,
      feature_key=None,
      seed=SEED,
  )
  return (
      lambda: train_fn().map(tf1_project.canned_features),
      lambda: eval_fn().map(tf1_project.canned_features),
  )


def _run_canned(workdir, steps, data_dir, batch_size, perturb_lr, say):
  info = data.info(tf1_project.CANNED_DATASET, data_dir=data_dir)
  kwargs = tf1_project.canned_kwargs(info.features['species'].num_classes)
  train_fn, eval_fn = _canned_inputs(data_dir, batch_size)
  config = _config(steps)

  def make_tf1(model_dir):
    return getattr(tf.compat.v1.estimator, tf1_project.CANNED)(
        model_dir=model_dir, config=config, **kwargs
    )

  say(
      f'canned: training the TF1 {tf1_project.CANNED} on'
      f' {tf1_project.CANNED_DATASET} for {steps} steps'
  )
  tf1 = make_tf1(os.path.join(workdir, 'canned', 'tf1'))
  tf1.train(train_fn, steps=steps)
  say('canned: translating the constructor arguments')
  translation = canned.translate_canned_args(tf1_project.CANNED, **kwargs)
  say('canned: converting the checkpoint')
  given = None
  if perturb_lr != 1.0:  # for testing the divergence check
    family = estimators.lookup(tf1_project.CANNED).family
    given = {
        family.scope_of(arg): optimizer
        for arg, optimizer in tf1_project.canned_optimizers(
            tf1_project.LEARNING_RATE * perturb_lr
        ).items()
    }
  target = os.path.join(workdir, 'canned', 'migrated', f'model.ckpt-{steps}')
  conversion = convert.convert_optimizer_checkpoint(
      tf1.model_dir, target, optimizers=given, overwrite=True
  )
  migrated = getattr(tf.estimator, tf1_project.CANNED)(
      model_dir=os.path.dirname(target), config=config, **translation.kwargs
  )

  def predict_fn():
    return eval_fn().map(lambda features, labels: features)

  restored = _max_difference(
      _probabilities(tf1, predict_fn), _probabilities(migrated, predict_fn)
  )
  say(f'canned: continuing TF1 (twice) and migrated for {steps} steps')
  names = [
      n
      for n in migrated.get_variable_names()
      if not n.startswith('training/') and n != 'global_step'
  ]
  result = _continue_and_compare(
      f'canned {tf1_project.CANNED} (penguins, feature columns)',
      make_tf1,
      tf1,
      migrated,
      {n: n for n in names},
      restored,
      (train_fn, eval_fn),
      steps,
      (
          'canned: weights (the partitioned island embedding joined), Adam'
          ' and Ftrl slots and hyperparameters carried by'
          ' convert_optimizer_checkpoint; training continues from the TF1'
          ' global step.',
      ),
  )
  return result, conversion, translation.table()


def _keras_graph_model(image_shape, num_classes):
  """The Keras twin built in a fresh graph: the names an Estimator gives it."""
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(SEED)  # op determinism wants seeded dropout
    return tf2_project.build_cnn(image_shape, num_classes)


def _run_custom(workdir, steps, dataset, data_dir, batch_size, say):
  info = data.info(dataset, data_dir=data_dir)
  shape = info.features['image'].shape
  classes = info.features['label'].num_classes
  train_fn, eval_fn = data.make_input_fns(
      dataset, data_dir=data_dir, batch_size=batch_size, seed=SEED
  )

  def predict_fn():
    return eval_fn().map(lambda features, labels: features)

  config = _config(steps)
  params = {'num_classes': classes, 'learning_rate': tf1_project.LEARNING_RATE}

  def make_tf1(model_dir):
    return tf.estimator.Estimator(
        tf1_project.custom_model_fn,
        params=params,
        config=config,
        model_dir=model_dir,
    )

  say(
      f'custom: training the TF1 tf.compat.v1.layers model_fn on {dataset}'
      f' for {steps} steps'
  )
  tf1 = make_tf1(os.path.join(workdir, 'custom', 'tf1'))
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
  restored = _max_difference(
      keras_model(images, training=False).numpy(),
      _probabilities(tf1, predict_fn),
  )
  plan = optimizers.plan_optimizer(
      tf.compat.v1.train.AdamOptimizer(tf1_project.LEARNING_RATE)
  )
  # Weights by the assignment map; Adam's moments and the step with them.
  previous = {m: c for c, m in amap.mapping.items()}
  previous.update(
      assignment.optimizer_slot_map(prefix, amap, plan, scope=plan.keras_name)
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
  say(f'custom: continuing TF1 (twice) and migrated for {steps} steps')
  return _continue_and_compare(
      'custom model_fn (tf.compat.v1.layers -> Keras, digits)',
      make_tf1,
      tf1,
      migrated,
      dict(amap.mapping),
      restored,
      (train_fn, eval_fn),
      steps,
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
    deterministic: bool = True,
    progress: Progress | None = None,
) -> DemoReport:
  """Trains the TF1 project, migrates it, continues both and compares.

  Writes `OUTPUTS` into `workdir`: the model_dirs (`canned/`, `custom/`, each
  with `tf1`, `tf1_rerun` and `migrated`), `report.md` and
  `loss_curves.png`. A rerun in the same `workdir` replaces them; a run that
  fails leaves none of them.

  Args:
    workdir: A new or empty directory, or one an earlier run wrote.
    steps: Steps before migration, and again after it.
    dataset: TFDS image data set of the custom model (default: embedded).
      The canned model always trains on the embedded `palmer_penguins`.
    data_dir: TFDS data directory.
    batch_size: Examples per batch.
    perturb_lr: Multiplies the migrated canned DNN's learning rate (1 = the
      true one); only for showing that the divergence check works.
    deterministic: Turn on TensorFlow's op determinism
      (`tf.config.experimental.enable_op_determinism`, process-wide) and
      seed every generator, so that a rerun gives the same figures.
    progress: Called with one line per stage.

  Returns:
    The report (`report.ok` is False when a model diverged).

  Raises:
    WorkdirError: `workdir` is a file, not writable, or holds files that no
      demo run wrote.
    DataError: a data set cannot be loaded.
  """
  say = progress or (lambda line: None)
  workdir = os.path.abspath(workdir)
  for name in (tf1_project.CANNED_DATASET, dataset):  # fail before training
    data.info(name, data_dir=data_dir)
  workdir_lib.claim(workdir, OUTPUTS)
  if deterministic:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
  try:
    canned_result, conversion, changes = _run_canned(
        workdir, steps, data_dir, batch_size, perturb_lr, say
    )
    custom_result = _run_custom(
        workdir, steps, dataset, data_dir, batch_size, say
    )
    plot_path = os.path.join(workdir, 'loss_curves.png')
    plot.loss_curves(
        plot_path,
        {m.name: m.losses for m in (canned_result, custom_result)},
        boundary=steps,
    )
    result = DemoReport(
        workdir,
        steps,
        (canned_result, custom_result),
        conversion,
        changes,
        plot_path,
        deterministic,
    )
    with tf.io.gfile.GFile(os.path.join(workdir, 'report.md'), 'w') as f:
      f.write(result.markdown())
  except BaseException:
    workdir_lib.remove(workdir, OUTPUTS)
    raise
  return result
