"""Runs the demo: train TF1, migrate with the toolkit, continue both, compare.

Then the third act: the migrated canned model leaves Estimators for Keras 3
on current TensorFlow (`keras3_act`), proven there.

Example:
  report = run.run_demo('/tmp/demo', steps=200)
  print(report.summary())
"""

from collections.abc import Callable, Mapping
import os
import shutil
import time

import numpy as np
import tensorflow as tf

from estimator_migrate.checkpoints import assignment
from estimator_migrate.checkpoints import convert
from estimator_migrate.demo import keras3_act
from estimator_migrate.demo import plot
from estimator_migrate.demo import results
from estimator_migrate.demo import tf1_project
from estimator_migrate.demo import tf2_project
from estimator_migrate.demo import workdir as workdir_lib
from estimator_migrate.export import modern
from estimator_migrate.guide import data
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers
from estimator_migrate.tf2 import canned
from estimator_migrate.tf2 import differences
from estimator_migrate.tf2 import model_fn

Progress = Callable[[str], None]
SEED = 0
# The top-level entries a run writes into its workdir (and a rerun replaces).
OUTPUTS = ('canned', 'custom', 'report.md', 'loss_curves.png')
# Under `canned/` and `custom/`: the estimator's own SavedModel (parsing
# receiver), served beside the export's `keras3/saved_model/`.
ESTIMATOR_SAVED_MODEL = 'estimator_saved_model'
KERAS3_CURVE = 'Keras 3 (TF 2.21)'


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


def _at_steps_of(curve, reference) -> list[tuple[int, float]]:
  """`curve`'s points at the steps `reference` has (its summary steps)."""
  steps = {step for step, _ in reference}
  return [(step, loss) for step, loss in curve if step in steps]


def _continue(estimator, train_fn, eval_fn, steps: int):
  """Trains `steps` more steps; returns (steps per second, eval metrics)."""
  began = time.perf_counter()
  estimator.train(train_fn, steps=steps)
  rate = steps / (time.perf_counter() - began)
  return rate, estimator.evaluate(eval_fn)


def _probabilities(estimator, input_fn) -> np.ndarray:
  return np.stack([p['probabilities'] for p in estimator.predict(input_fn)])


def _max_difference(a: np.ndarray, b: np.ndarray) -> float:
  return differences.weight_difference({'p': a}, {'p': b}).absolute


def _gap(
    reference: tf.estimator.Estimator,
    reference_metrics: Mapping[str, float],
    other: tf.estimator.Estimator,
    other_metrics: Mapping[str, float],
    names: Mapping[str, str],
) -> results.Gap:
  """Accuracy, relative loss and max weight differences of two runs."""
  weights = differences.weight_difference(
      {mine: reference.get_variable_value(mine) for mine in names},
      {
          mine: other.get_variable_value(theirs)
          for mine, theirs in names.items()
      },
  ).absolute
  loss = abs(reference_metrics['loss'] - other_metrics['loss']) / max(
      abs(reference_metrics['loss']), 1e-12
  )
  return results.Gap(
      accuracy=float(
          abs(reference_metrics['accuracy'] - other_metrics['accuracy'])
      ),
      loss=float(loss),
      weights=weights,
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
) -> results.ModelResult:
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
  return results.ModelResult(
      name=name,
      tf1=tf1_metrics,
      migrated=migrated_metrics,
      restored_difference=restored,
      migration=_gap(tf1, tf1_metrics, migrated, migrated_metrics, names),
      noise=_gap(tf1, tf1_metrics, rerun, rerun_metrics, {n: n for n in names}),
      tf1_steps_per_second=tf1_rate,
      migrated_steps_per_second=migrated_rate,
      losses={
          'TF1': _losses(tf1.model_dir),
          'migrated': _losses(migrated.model_dir),
      },
      tolerance=results.TOLERANCE,
      notes=notes,
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
  # The export's kwargs must agree with the checkpoint (it refuses a
  # contradiction): the perturbed optimizers where the converter wrote them.
  export_kwargs = translation.kwargs
  if perturb_lr != 1.0:  # for testing the divergence check
    family = estimators.lookup(tf1_project.CANNED).family
    perturbed = tf1_project.canned_optimizers(
        tf1_project.LEARNING_RATE * perturb_lr
    )
    given = {family.scope_of(arg): opt for arg, opt in perturbed.items()}
    export_kwargs = canned.translate_canned_args(
        tf1_project.CANNED, **{**kwargs, **perturbed}
    ).kwargs
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
  say(
      'canned: exporting the migrated model to Keras 3, with a SavedModel;'
      ' the estimator exports its own (parsing receiver)'
  )
  test_features, _ = keras3_act.dataset_arrays(eval_fn, None, SEED)
  pending = keras3_act.save_export(
      migrated,
      export_kwargs,
      os.path.join(workdir, 'canned', 'keras3'),
      test_features,
      keras3_act.dataset_arrays(train_fn, steps, SEED),
      batch_size,
      estimator_saved_model=os.path.join(
          workdir, 'canned', ESTIMATOR_SAVED_MODEL
      ),
  )
  say(f'canned: continuing TF1 (twice) and migrated for {steps} steps')
  names = [
      n
      for n in migrated.get_variable_names()
      if not n.startswith('training/') and n != 'global_step'
  ]
  name = f'canned {tf1_project.CANNED} (penguins, feature columns)'
  result = _continue_and_compare(
      name,
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
  say(
      'canned: on TensorFlow 2.21 (Keras 3): predicting, then training on'
      f' the same {steps} batches'
  )
  keras3 = keras3_act.prove(name, pending, migrated)
  return result, (keras3, pending), conversion, translation.table()


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

  def make_tf1(model_dir, params=params):
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
  say(
      'custom: exporting the TF1 model_fn to Keras 3 (read from the graph it'
      ' builds, no Keras twin), with a SavedModel; the estimator exports its'
      ' own (parsing receiver)'
  )
  # Dropout draws other masks on each side: the training comparison runs
  # both without it, from the same checkpoint (`tf1_quiet`, `keras3_fit`).
  quiet_params = {**params, 'dropout': 0.0}
  test_features, _ = keras3_act.dataset_arrays(eval_fn, None, SEED)
  pending = keras3_act.save_model_fn_export(
      tf1_project.custom_model_fn,
      tf1.model_dir,
      params,
      os.path.join(workdir, 'custom', 'keras3'),
      test_features,
      keras3_act.dataset_arrays(train_fn, steps, SEED),
      batch_size,
      estimator=tf1,
      fit_export=(quiet_params, os.path.join(workdir, 'custom', 'keras3_fit')),
      # The image as a client sends it: one FixedLenFeature of floats.
      serving_input_receiver_fn=(
          tf.estimator.export.build_parsing_serving_input_receiver_fn(
              {'image': tf.io.FixedLenFeature(shape, tf.float32)}
          )
      ),
      estimator_saved_model=os.path.join(
          workdir, 'custom', ESTIMATOR_SAVED_MODEL
      ),
  )
  quiet_dir = os.path.join(workdir, 'custom', 'tf1_quiet')
  shutil.copytree(tf1.model_dir, quiet_dir)
  prefix = tf.train.latest_checkpoint(tf1.model_dir)
  say('custom: carrying weights, Adam slots and step into the Keras model')
  plan = optimizers.plan_optimizer(
      tf.compat.v1.train.AdamOptimizer(tf1_project.LEARNING_RATE)
  )
  start = assignment.warm_start_model_fn(
      prefix, lambda: tf2_project.build_cnn(shape, classes), plan
  )
  # Right after migration: the Keras model with the mapped weights predicts
  # what the TF1 model predicts.
  keras_model = tf2_project.build_cnn(shape, classes)
  assignment.restore(
      prefix, keras_model, assignment.assignment_map(prefix, keras_model)
  )
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
  migrated = tf.estimator.Estimator(
      model_fn.make_model_fn(
          lambda p: tf2_project.build_cnn(shape, classes),
          loss='sparse_categorical_crossentropy',
          optimizer=plan,
          metrics=['accuracy'],
      ),
      model_dir=os.path.join(workdir, 'custom', 'migrated'),
      config=config,
      warm_start_from=start.settings,
  )
  say(f'custom: continuing TF1 (twice) and migrated for {steps} steps')
  name = 'custom model_fn (tf.compat.v1.layers -> Keras, digits)'
  result = _continue_and_compare(
      name,
      make_tf1,
      tf1,
      migrated,
      dict(start.mapping.mapping),
      restored,
      (train_fn, eval_fn),
      steps,
      (
          "custom: the 10 weights (BatchNorm statistics included), Adam's"
          ' moments and the global step are carried by'
          ' assignment.warm_start_model_fn into a warm start of the'
          ' make_model_fn estimator.',
          'custom: the model_fn exported to Keras 3 by export.model_fn_to_keras'
          ' from its own graph (model.py is generated); its training is'
          ' compared without dropout on both sides (tf1_quiet, keras3_fit).',
      ),
  )
  say(
      'custom: on TensorFlow 2.21 (Keras 3): predicting, then training on'
      f' the same {steps} batches (dropout off on both sides)'
  )
  quiet = make_tf1(quiet_dir, quiet_params)
  quiet.train(train_fn, steps=steps)
  return result, (
      keras3_act.prove(name, pending, quiet, keras3_act.CUSTOM_TOLERANCE),
      pending,
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
) -> results.DemoReport:
  """Trains the TF1 project, migrates it, continues both and compares.

  Writes `OUTPUTS` into `workdir`: the model_dirs (`canned/`, `custom/`, each
  with `tf1`, `tf1_rerun` and `migrated`), the Keras 3 exports
  (`canned/keras3`, `custom/keras3` and `custom/keras3_fit` with
  `custom/tf1_quiet`, proven in the modern environment: `keras3_act`), the
  estimators' own SavedModels served beside them
  (`{canned,custom}/estimator_saved_model`), `report.md` and
  `loss_curves.png`. A rerun in the same `workdir` replaces
  them; a run that fails leaves none of them.

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
    MigrationError: no modern environment (TensorFlow 2.21) for the third
      act, or it failed.
  """
  say = progress or (lambda line: None)
  workdir = os.path.abspath(workdir)
  for name in (tf1_project.CANNED_DATASET, dataset):  # fail before training
    data.info(name, data_dir=data_dir)
  modern.find_python()  # the third act's environment, before training too
  workdir_lib.claim(workdir, OUTPUTS)
  if deterministic:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
  try:
    canned_result, canned_proven, conversion, changes = _run_canned(
        workdir, steps, data_dir, batch_size, perturb_lr, say
    )
    custom_result, custom_proven = _run_custom(
        workdir, steps, dataset, data_dir, batch_size, say
    )
    say(
        'both: on TensorFlow 2.21, serving each SavedModel beside the'
        " estimator's own: every signature and TensorFlow Serving request"
        ' on the test set as tf.Examples'
    )
    keras3, custom_keras3 = keras3_act.prove_serving(
        [canned_proven, custom_proven]
    )
    plot_path = os.path.join(workdir, 'loss_curves.png')
    plot.loss_curves(
        plot_path,
        {
            canned_result.name: {
                **canned_result.losses,
                KERAS3_CURVE: _at_steps_of(
                    keras3.losses, canned_result.losses['migrated']
                ),
            },
            custom_result.name: custom_result.losses,
        },
        boundary=steps,
    )
    result = results.DemoReport(
        workdir=workdir,
        steps=steps,
        models=(canned_result, custom_result),
        keras3=(keras3, custom_keras3),
        conversion=conversion,
        changes_table=changes,
        plot_path=plot_path,
        deterministic=deterministic,
        seed=SEED,
    )
    with tf.io.gfile.GFile(os.path.join(workdir, 'report.md'), 'w') as f:
      f.write(result.markdown())
  except BaseException:
    workdir_lib.remove(workdir, OUTPUTS)
    raise
  return result
