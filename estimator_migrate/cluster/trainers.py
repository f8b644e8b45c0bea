"""Programs that `loopback.LocalCluster` tasks run, and how to read their logs.

`train_canned` is the TF1 story at cluster scale: a canned
DNNLinearCombinedClassifier on the embedded digits, with an embedding column
of `VOCABULARY` x `EMBEDDING_DIM` float32 (71 MB): above the 64 MiB
`min_slice_size` of v1's default `input_layer_partitioner`
(`min_max_variable_partitioner(max_partitions=num_ps_replicas,
min_slice_size=64 << 20)` in v1 `dnn_linear_combined.py`), so with 2 ps
tasks v1 splits it in two. `version='v1'` builds it with
`tf.compat.v1.estimator`; `version='v2'` builds its translation
(`canned.make_v2_estimator`) from the same arguments. Each task prints
`progress` lines (time, global step) and the chief a `placement` line (every
variable's device and size), which the parsers below read back.

Example (one task; `LocalCluster` runs one per role):
  trainers.train_canned(
      model_dir='/tmp/v1', version='v1', max_steps=40, data_dir=tfds_dir)
"""

from collections.abc import Callable
import dataclasses
import json
import os
import re
import shutil
import time
from typing import Any

import tensorflow as tf

from estimator_migrate.cluster import loopback
from estimator_migrate.guide import data
from estimator_migrate.tf2 import canned

VOCABULARY = 1 << 20
# 2**20 x 17 x 4 bytes = 71.3 MB > 64 MiB: two partitions (16 would be
# exactly 64 MiB, one partition).
EMBEDDING_DIM = 17
HIDDEN_UNITS = (32,)
BATCH_SIZE = 32
# The code feature: 20 pixels of the 28x28 image, each above 0.5 or not.
_CODE_PIXELS = tuple(
    (row, col) for row in (7, 10, 14, 17, 20) for col in (7, 11, 15, 19)
)
_PROGRESS = re.compile(r'^progress (\S+) (\d+) step=(\d+) time=([\d.]+)$', re.M)
_SESSION = re.compile(r'^session (\S+) (\d+) step=(\d+) time=([\d.]+)$', re.M)
_PLACEMENT = re.compile(r'^placement (.*)$', re.M)
_EVAL = re.compile(r'Saving dict for global step (\d+): (.*)$', re.M)
TRAINER = f'{__name__}:train_canned'
_RESTORE = re.compile(r'Restoring parameters from (\S+)$', re.M)


def _add_code(features, labels):
  image = features['image']
  bits = [
      tf.cast(image[:, row, col, 0] > 0.5, tf.int64) * (1 << i)
      for i, (row, col) in enumerate(_CODE_PIXELS)
  ]
  return dict(features, code=tf.add_n(bits)[:, tf.newaxis]), labels


def input_fns(
    data_dir: str | None, seed: int = 0
) -> tuple[Callable[[], tf.data.Dataset], Callable[[], tf.data.Dataset]]:
  """Train (repeating) and test input_fns: `image` plus its 20-bit `code`."""
  train, test = data.make_input_fns(
      data_dir=data_dir, batch_size=BATCH_SIZE, seed=seed
  )
  return (lambda: train().map(_add_code)), (lambda: test().map(_add_code))


def v1_kwargs() -> dict[str, Any]:
  """The v1 constructor arguments; optimizers and partitioner: v1's defaults."""
  image = tf.feature_column.numeric_column('image', shape=(28, 28, 1))
  code = tf.feature_column.embedding_column(
      tf.feature_column.categorical_column_with_identity('code', VOCABULARY),
      EMBEDDING_DIM,
  )
  return dict(
      linear_feature_columns=[image],
      dnn_feature_columns=[image, code],
      dnn_hidden_units=list(HIDDEN_UNITS),
      n_classes=10,
  )


def make_estimator(
    model_dir: str, version: str, config: tf.estimator.RunConfig | None = None
) -> tf.estimator.Estimator:
  """The v1 canned estimator, or (`'v2'`) its translation by the toolkit."""
  config = config or tf.estimator.RunConfig(model_dir=model_dir)
  v1 = tf.compat.v1.estimator.DNNLinearCombinedClassifier
  if version == 'v1':
    return v1(model_dir=model_dir, config=config, **v1_kwargs())
  if version == 'v2':
    return canned.make_v2_estimator(
        v1, model_dir=model_dir, config=config, **v1_kwargs()
    )
  raise ValueError(f"version={version!r}; expected 'v1' or 'v2'.")


class _ProgressHook(tf.estimator.SessionRunHook):
  """Prints the global step now and then; holds at the step limit, if any.

  The limit (an integer in `step_limit_file`, absent = none) lets a test
  decide when training may move on, instead of racing it with sleeps.
  """

  def __init__(self, task: str, every: int, step_limit_file: str | None):
    self._task = task
    self._every = every
    self._limit_file = step_limit_file
    self._step = 0
    self._local = 0
    self._session = 0

  def begin(self):
    self._global_step = tf.compat.v1.train.get_global_step()

  def after_create_session(self, session, coord):
    del coord
    self._session += 1
    self._step = int(session.run(self._global_step))
    self._local = 0
    print(
        f'session {self._task} {self._session} step={self._step}'
        f' time={time.time():.3f}',
        flush=True,
    )

  def _limit(self) -> float:
    if not self._limit_file:
      return float('inf')
    try:
      with open(self._limit_file) as f:
        return int(f.read().strip() or 0)
    except (OSError, ValueError):
      return float('inf')

  def before_run(self, run_context):
    while self._step >= self._limit():
      time.sleep(0.05)
    return tf.estimator.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    self._step = int(run_values.results)
    if self._local % self._every == 0:
      print(
          f'progress {self._task} {self._session} step={self._step}'
          f' time={time.time():.3f}',
          flush=True,
      )
    self._local += 1


class _PlacementHook(tf.estimator.SessionRunHook):
  """Prints every global variable's device, shape and bytes (one JSON line)."""

  def begin(self):
    rows = [
        dict(
            name=v.op.name,
            device=v.device,
            shape=v.shape.as_list(),
            bytes=v.shape.num_elements() * v.dtype.base_dtype.size,
        )
        for v in tf.compat.v1.global_variables()
    ]
    print(f'placement {json.dumps(rows)}', flush=True)


def train_canned(
    *,
    model_dir: str,
    version: str,
    max_steps: int,
    data_dir: str | None = None,
    save_checkpoints_steps: int = 100,
    eval_throttle_secs: int = 1,
    progress_every: int = 10,
    step_limit_file: str | None = None,
) -> None:
  """`train_and_evaluate` of the canned model as the task `TF_CONFIG` names.

  Args:
    model_dir: The estimator's model_dir (shared by every task).
    version: `'v1'` (tf.compat.v1.estimator) or `'v2'` (translated).
    max_steps: Training stops at this global step.
    data_dir: TFDS data_dir, prepared beforehand (tasks must not race to
      prepare it).
    save_checkpoints_steps: The chief's checkpoint interval.
    eval_throttle_secs: Least time between the evaluator's evaluations.
    progress_every: Print a progress line every this many local steps.
    step_limit_file: See `_ProgressHook`.
  """
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
  tf.get_logger().propagate = False  # once, not also via the root logger
  config = tf.estimator.RunConfig(
      model_dir=model_dir,
      save_checkpoints_steps=save_checkpoints_steps,
      save_checkpoints_secs=None,
      keep_checkpoint_max=10,  # bounded disk: 143 MB each
      log_step_count_steps=progress_every,
      # Estimator delays worker i by 5 (i + 1) s; nothing here needs that.
      experimental_max_worker_delay_secs=0,
  )
  task = f'{config.task_type or "local"}:{config.task_id}'
  train_fn, eval_fn = input_fns(data_dir)
  hooks = [_ProgressHook(task, progress_every, step_limit_file)]
  if config.is_chief:
    hooks.append(_PlacementHook())
  tf.estimator.train_and_evaluate(
      make_estimator(model_dir, version, config),
      tf.estimator.TrainSpec(train_fn, max_steps=max_steps, hooks=hooks),
      tf.estimator.EvalSpec(
          eval_fn,
          steps=None,
          start_delay_secs=0,
          throttle_secs=eval_throttle_secs,
      ),
  )


def progress(
    log: str, *, sessions: bool = False
) -> list[tuple[str, int, int, float]]:
  """(task, session number, global step, time) of every progress line.

  With `sessions`, of every session start instead (before its first step).
  """
  return [
      (task, int(session), int(step), float(t))
      for task, session, step, t in (
          _SESSION if sessions else _PROGRESS
      ).findall(log)
  ]


def placement(log: str) -> list[dict[str, Any]]:
  """The last placement line's variables (name, device, shape, bytes)."""
  found = _PLACEMENT.findall(log)
  return json.loads(found[-1]) if found else []


def evaluations(log: str) -> list[tuple[int, dict[str, float]]]:
  """(global step, metrics) of every evaluation an evaluator logged."""
  results = []
  for step, described in _EVAL.findall(log):
    metrics = {}
    for item in described.split(', '):
      key, _, value = item.partition(' = ')
      try:
        metrics[key] = float(value)
      except ValueError:
        continue
    results.append((int(step), metrics))
  return results


def restores(log: str) -> list[str]:
  """Checkpoint prefixes a task restored from, in order."""
  return _RESTORE.findall(log)


def set_step_limit(path: str, step: int | None) -> None:
  """Lets training run to `step` (None: no limit) in tasks given `path`."""
  if step is None:
    if os.path.exists(path):
      os.remove(path)
    return
  with open(path + '.tmp', 'w') as f:
    f.write(str(step))
  os.replace(path + '.tmp', path)


def latest_checkpoint_step(model_dir: str) -> int | None:
  """The step of the model_dir's latest checkpoint, None before the first."""
  prefix = tf.train.latest_checkpoint(model_dir)
  return int(prefix.rsplit('-', 1)[1]) if prefix else None


@dataclasses.dataclass(frozen=True)
class Run:
  """What a `train_on_cluster` run left in its logs."""

  placement: list[dict[str, Any]]  # the chief's variables: device, bytes
  evaluations: list[tuple[int, dict[str, float]]]  # the evaluator's
  seconds: float


def train_on_cluster(
    *,
    model_dir: str,
    version: str,
    max_steps: int,
    workdir: str,
    workers: int = 1,
    ps: int = 2,
    evaluator: bool = True,
    timeout_secs: float = 600,
    **train_kwargs: Any,
) -> Run:
  """Runs `train_canned` on a `LocalCluster` until chief and evaluator end.

  Every task is stopped on return.

  Raises:
    loopback.ClusterError: A task failed, or the run outlived `timeout_secs`.
  """
  began = time.monotonic()
  with loopback.LocalCluster(
      TRAINER,
      dict(
          model_dir=model_dir,
          version=version,
          max_steps=max_steps,
          **train_kwargs,
      ),
      workdir=workdir,
      workers=workers,
      ps=ps,
      evaluator=evaluator,
  ) as c:
    c.start()
    c.wait_for(
        lambda: c.exited('chief') and (not evaluator or c.exited('evaluator')),
        timeout_secs=timeout_secs,
        what=f'the {version} chief and evaluator to finish',
        fail_if_exited=[t for t in c.tasks if t[0] in ('chief', 'evaluator')],
    )
    return Run(
        placement(c.log('chief')),
        evaluations(c.log('evaluator')) if evaluator else [],
        time.monotonic() - began,
    )


def copy_checkpoint(prefix: str, model_dir: str) -> str:
  """Copies a checkpoint's directory to a new model_dir that starts from it.

  The state file is rewritten: `update_checkpoint_state` stores absolute
  paths, which would send the copy back to the original.
  """
  shutil.copytree(os.path.dirname(prefix), model_dir)
  with open(os.path.join(model_dir, 'checkpoint'), 'w') as f:
    f.write(f'model_checkpoint_path: "{os.path.basename(prefix)}"\n')
  return model_dir
