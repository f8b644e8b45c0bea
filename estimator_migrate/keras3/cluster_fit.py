"""An exported estimator's Keras 3 `fit` on a loopback multi-worker cluster.

The task program `fit_export` runs in the modern environment (TensorFlow
2.21, Keras 3; `cluster.loopback.LocalCluster(python=...)` starts it there). It loads
an export (`estimator_migrate.export`: `model.py`, `load(compile=True)`) in
`tf.distribute.MultiWorkerMirroredStrategy` when `TF_CONFIG` names more than
one task (synchronous data parallelism: every worker holds every variable,
gradients are all-reduced each step), else with no strategy (the
single-process reference), and `fit`s it with a `BackupAndRestore` that the
chief writes and every task reads. Keras 3 `fit` has no
`ParameterServerStrategy` path (Keras 2's `ClusterCoordinator` integration
was not carried over), so this is the strategy it supports; and Keras 3.15
`fit` fails under `MultiWorkerMirroredStrategy` as shipped (keras-team/keras
#20585): `_keras_multi_worker_fixes` works around its two faults (see
docs/cluster.md).

Each task prints `session` and `progress` lines in `cluster.trainers`'
format (step = the optimizer's iteration count) and, at the end, writes
`<out_dir>/<task>.json`: accuracy and loss on the test set, iterations.

Example (the modern environment, one task; LocalCluster runs one per role):
  cluster_fit.fit_export(
      export_dir='/m/keras', data='/m/data.npz', out_dir='/m/out',
      backup_dir='/m/backup', epochs=4, batch_size=64)
"""

import importlib.util
import json
import os
import time

TARGET = f'{__name__}:fit_export'
_LABEL = 'label'  # the data file's key of the class ids
_TEST = 'test/'  # prefix of the test split's keys


def _task() -> tuple[str, bool, int]:
  """(task name, is chief, number of training tasks) from TF_CONFIG."""
  config = json.loads(os.environ.get('TF_CONFIG') or '{}')
  task = config.get('task', {})
  tasks = sum(len(v) for k, v in config.get('cluster', {}).items())
  name = f'{task.get("type", "local")}:{task.get("index", 0)}'
  return name, task.get('type', 'chief') == 'chief', tasks


def _keras_multi_worker_fixes(model) -> None:
  """Works around Keras 3.15 `fit` under MultiWorkerMirroredStrategy.

  1. `fit` first builds the model symbolically from a batch it reduces with
     `strategy.reduce('MEAN', (x, y), axis=None)`, which the collective
     strategy cannot do for a structure. The export is already built, so
     the model is told it has no strategy of its own; `fit` then takes the
     strategy of the enclosing `strategy.scope()` for everything else.
  2. Each step's logs are reduced with `strategy.reduce('MEAN', v,
     axis=0)`, which fails on the scalar loss and metrics; they are reduced
     with `axis=None` (the mean over replicas) instead.
  """
  from keras.src.backend.tensorflow import trainer

  model._distribute_strategy = None  # noqa: SLF001 (fault 1)
  original = trainer.reduce_per_replica
  if getattr(original, 'fixed_for_multi_worker', False):
    return

  def reduce_per_replica(values, strategy_, reduction):
    if reduction in ('auto', 'mean') and (
        trainer._collective_all_reduce_multi_worker(strategy_)  # noqa: SLF001
    ):
      return trainer.tree.map_structure(
          lambda v: strategy_.reduce('MEAN', v, axis=None), values
      )
    return original(values, strategy_, reduction)

  reduce_per_replica.fixed_for_multi_worker = True
  trainer.reduce_per_replica = reduce_per_replica  # fault 2


def _step_limit(path: str | None) -> float:
  try:
    with open(path) as f:
      return int(f.read().strip() or 0)
  except (TypeError, OSError, ValueError):
    return float('inf')


def _load_export(export_dir: str):
  spec = importlib.util.spec_from_file_location(
      'exported_model', os.path.join(export_dir, 'model.py')
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def fit_export(
    *,
    export_dir: str,
    data: str,
    out_dir: str,
    backup_dir: str,
    epochs: int,
    batch_size: int,
    progress_every: int = 4,
    step_limit_file: str | None = None,
) -> None:
  """`fit`s an export (classifier) as the task `TF_CONFIG` names.

  Args:
    export_dir: A directory `export.canned_to_keras(...).save` wrote.
    data: An .npz of the features by name, `label`, and the test split's
      under `test/` (`test/<feature>`, `test/label`).
    out_dir: Where `<task>.json` goes (created).
    backup_dir: `BackupAndRestore`'s directory, shared by every task: the
      chief writes it at each epoch's end, every task restores from it.
    epochs: Epochs over the training split (same order every epoch).
    batch_size: The global batch (split over the workers).
    progress_every: Print a progress line every this many batches.
    step_limit_file: Holds training at the step it names (an integer;
      absent: no limit), as in `cluster.trainers.set_step_limit`, so that
      a test can kill a task mid-run without racing it.
  """
  # Imported here: the TF 2.15 side imports this module for TARGET only.
  import keras
  import numpy as np
  import tensorflow as tf

  name, is_chief, tasks = _task()
  with np.load(data) as arrays:
    train = {k: arrays[k] for k in arrays.files if not k.startswith(_TEST)}
    test = {
        k[len(_TEST) :]: arrays[k] for k in arrays.files if k.startswith(_TEST)
    }
  labels, test_labels = train.pop(_LABEL), test.pop(_LABEL)
  exported = _load_export(export_dir)
  multi_worker = tasks > 1
  strategy = (
      tf.distribute.MultiWorkerMirroredStrategy()
      if multi_worker
      else tf.distribute.get_strategy()
  )
  with strategy.scope():
    model = exported.load(export_dir, compile=True)
  if multi_worker:
    _keras_multi_worker_fixes(model)
  features = {k: train[k] for k in model.input}
  dataset = tf.data.Dataset.from_tensor_slices(
      (features, {'logits': labels})
  ).batch(batch_size)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA
  )
  dataset = dataset.with_options(options)
  iterations = model.optimizer.iterations

  def line(kind: str) -> None:
    print(
        f'{kind} {name} 1 step={int(iterations.numpy())}'
        f' time={time.time():.3f}',
        flush=True,
    )

  class Progress(keras.callbacks.Callback):

    def on_train_begin(self, logs=None):
      line('session')  # after BackupAndRestore restored its backup

    def on_train_batch_begin(self, batch, logs=None):
      while int(iterations.numpy()) >= _step_limit(step_limit_file):
        time.sleep(0.05)

    def on_train_batch_end(self, batch, logs=None):
      if batch % progress_every == 0:
        line('progress')

    def on_epoch_end(self, epoch, logs=None):
      print(f'epoch {name} {epoch} time={time.time():.3f}', flush=True)

  class ChiefBackup(keras.callbacks.BackupAndRestore):
    """Every task restores the chief's backup.

    Every task saves too (saving reads synchronised variables, a collective
    that every worker must join), the others to their own directory, which
    nothing reads: a worker killed between its save and the chief's cannot
    leave the tasks at different epochs.
    """

    def _save_model(self):
      if is_chief:
        return super()._save_model()
      own = os.path.join(self.backup_dir, 'tasks', name.replace(':', '-'))
      tf.io.gfile.makedirs(own)
      paths = self._weights_path, self._training_metadata_path
      self._weights_path = os.path.join(own, os.path.basename(paths[0]))
      self._training_metadata_path = os.path.join(
          own, os.path.basename(paths[1])
      )
      try:
        return super()._save_model()
      finally:
        self._weights_path, self._training_metadata_path = paths

  # Made by every task before any saves: Keras' own `_save_model` checks
  # that `backup_dir` is absent and then creates it, which fails
  # (FileExistsError) when another task creates it in between (the worker
  # making `backup_dir/tasks/...`; failed one CI run and 1 of 6 local runs).
  tf.io.gfile.makedirs(backup_dir)
  with strategy.scope():
    model.fit(
        dataset,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[
            ChiefBackup(backup_dir, delete_checkpoint=False),
            Progress(),
        ],
    )
  logits = model(
      {k: tf.constant(test[k]) for k in model.input}, training=False
  )['logits'].numpy()
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_probabilities = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
  truth = test_labels.reshape(-1)
  result = dict(
      task=name,
      accuracy=float(np.mean(logits.argmax(1) == truth)),
      loss=float(-np.mean(log_probabilities[np.arange(len(truth)), truth])),
      iterations=int(iterations.numpy()),
      workers=tasks,
  )
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, name.replace(':', '-') + '.json')
  with open(path + '.tmp', 'w') as f:
    json.dump(result, f)
  os.replace(path + '.tmp', path)
  print(f'result {json.dumps(result)}', flush=True)
