r"""Benchmarks the migrated canned estimator on a loopback TF cluster.

Trains the v1 DNNLinearCombinedClassifier of `cluster.trainers` on a cluster
(chief + 1 worker + 2 ps), converts its checkpoint, then from that checkpoint
measures the translated v2 estimator:
  * global steps/s in one process (no TF_CONFIG) and on clusters with 2 ps
    and 1, 2 or 3 training tasks (the chief trains too), from every task's
    progress lines once all have a session (a step limit holds the chief
    until then; workers start after it, skipping TF's 30 s readiness poll);
  * the seconds from a SIGKILL of the worker, the chief or ps 0 (each
    restarted at once) to the first training step after it;
  * the accuracy of an uninterrupted cluster run to --max_steps.
Prints Markdown tables. On 2 cores the cluster rows are a shape check, not a
speed claim: 4 to 6 processes share them.

Example:
  python benchmarks/cluster_throughput.py --repeats=3 --workdir=/tmp/cb
"""

from collections.abc import Sequence
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from estimator_migrate.checkpoints import convert
from estimator_migrate.cluster import loopback
from estimator_migrate.cluster import trainers
from estimator_migrate.guide import data

_WORKDIR = flags.DEFINE_string('workdir', None, 'Scratch directory.')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data_dir.')
_REPEATS = flags.DEFINE_integer('repeats', 2, 'Runs of each measurement.')
_STEPS = flags.DEFINE_integer('steps', 600, 'v2 steps of each speed run.')
_MAX_STEPS = flags.DEFINE_integer(
    'max_steps', 400, 'Global step the accuracy run trains to.'
)
_TIMEOUT = flags.DEFINE_integer('timeout_secs', 600, 'Bound on each wait.')

_TRAINER = trainers.TRAINER
_V1_STEPS = 40
_FAULTS = (('worker', 0), ('chief', 0), ('ps', 0))


def _rate(log: str, after: float) -> float:
  """Global steps/s from progress lines written after `after`."""
  lines = sorted((t, s) for _, _, s, t in trainers.progress(log) if t > after)
  (t0, s0), (t1, s1) = lines[0], lines[-1]
  return (s1 - s0) / (t1 - t0)


def _kwargs(model_dir: str, max_steps: int, **extra) -> dict:
  return dict(
      model_dir=model_dir,
      version='v2',
      max_steps=max_steps,
      data_dir=_DATA_DIR.value,
      **extra,
  )


def _single_process(converted: str, root: str) -> float:
  model_dir = trainers.copy_checkpoint(converted, os.path.join(root, 'single'))
  log = os.path.join(root, 'single.log')
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
  env.pop('TF_CONFIG', None)
  with open(log, 'w') as out:
    subprocess.run(
        [
            sys.executable,
            '-m',
            'estimator_migrate.cluster.loopback',
            _TRAINER,
            json.dumps(
                _kwargs(
                    model_dir,
                    _V1_STEPS + _STEPS.value,
                    save_checkpoints_steps=10**6,
                    eval_throttle_secs=10**6,
                )
            ),
            str(_TIMEOUT.value),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        check=True,
        timeout=_TIMEOUT.value,
    )
  with open(log) as f:
    return _rate(f.read(), 0)


def _cluster_rate(converted: str, root: str, workers: int) -> float:
  """Global steps/s once every task trains (all held until then)."""
  model_dir = trainers.copy_checkpoint(
      converted, os.path.join(root, f'model_{workers}')
  )
  limit = os.path.join(root, 'step_limit')
  trainers.set_step_limit(limit, _V1_STEPS)
  with loopback.LocalCluster(
      _TRAINER,
      _kwargs(
          model_dir,
          _V1_STEPS + _STEPS.value,
          save_checkpoints_steps=10**6,
          step_limit_file=limit,
      ),
      workdir=os.path.join(root, f'run_{workers}'),
      workers=workers,
      ps=2,
  ) as c:

    def ready(role, index=0):
      return trainers.progress(c.log(role, index), sessions=True)

    c.start([t for t in c.tasks if t[0] != 'worker'])
    c.wait_for(
        lambda: ready('chief'), timeout_secs=_TIMEOUT.value, what='the chief'
    )
    c.start([t for t in c.tasks if t[0] == 'worker'])
    c.wait_for(
        lambda: all(ready('worker', i) for i in range(workers)),
        timeout_secs=_TIMEOUT.value,
        what='every worker',
    )
    released = time.time()
    trainers.set_step_limit(limit, None)
    c.wait_for(
        lambda: c.exited('chief'),
        timeout_secs=_TIMEOUT.value,
        what='the chief to finish',
        fail_if_exited=[('chief', 0)],
    )
    # Every training task's lines: the global step is shared, and the chief
    # (summaries, checkpoints) may step far less often than the workers.
    logs = [c.log('chief')] + [c.log('worker', i) for i in range(workers)]
    return _rate('\n'.join(logs), released)


def _recovery(converted: str, root: str, role: str, index: int) -> float:
  """Seconds from SIGKILL of role:index (restarted at once) to a step after."""
  name = f'kill_{role}_{time.monotonic_ns()}'
  model_dir = trainers.copy_checkpoint(converted, os.path.join(root, name))
  with loopback.LocalCluster(
      _TRAINER,
      _kwargs(model_dir, 10**7, save_checkpoints_steps=50),
      workdir=os.path.join(root, name + '_run'),
      workers=1,
      ps=2,
  ) as c:
    c.start([t for t in c.tasks if t[0] != 'worker'])
    c.wait_for(
        lambda: trainers.latest_checkpoint_step(model_dir) > _V1_STEPS,
        timeout_secs=_TIMEOUT.value,
        what='a checkpoint',
    )
    c.start([('worker', 0)])
    c.wait_for(
        lambda: trainers.progress(c.log('worker')),
        timeout_secs=_TIMEOUT.value,
        what='the worker',
    )
    killed = c.kill(role, index)
    c.restart(role, index)
    watched = 'chief' if role == 'ps' else role

    def first_step():
      log = c.log(watched)
      if role != 'ps':
        log = log.split('=== start ')[-1]  # the restarted process
      return [
          t
          for _, session, _, t in trainers.progress(log)
          if t > killed and (role != 'ps' or session > 1)
      ]

    return (
        c.wait_for(
            first_step,
            timeout_secs=_TIMEOUT.value,
            what='a step after the kill',
        )[0]
        - killed
    )


def _accuracy(converted: str, root: str) -> tuple[float, float]:
  run = trainers.train_on_cluster(
      model_dir=trainers.copy_checkpoint(
          converted, os.path.join(root, 'accuracy')
      ),
      version='v2',
      max_steps=_MAX_STEPS.value,
      workdir=os.path.join(root, 'accuracy_run'),
      timeout_secs=_TIMEOUT.value,
      data_dir=_DATA_DIR.value,
      save_checkpoints_steps=100,
  )
  metrics = run.evaluations[-1][1]
  return metrics['accuracy'], metrics['average_loss']


def _stats(values: Sequence[float]) -> str:
  if len(values) == 1:
    return f'{values[0]:.1f}'
  return (
      f'{statistics.median(values):.1f} (min {min(values):.1f},'
      f' max {max(values):.1f})'
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  root = _WORKDIR.value or tempfile.mkdtemp(prefix='cluster_bench_')
  os.makedirs(root, exist_ok=True)
  data.info(data_dir=_DATA_DIR.value)  # prepared once, before the tasks
  v1_dir = os.path.join(root, 'v1')
  trainers.train_on_cluster(
      model_dir=v1_dir,
      version='v1',
      max_steps=_V1_STEPS,
      workdir=os.path.join(root, 'v1_run'),
      evaluator=False,
      timeout_secs=_TIMEOUT.value,
      data_dir=_DATA_DIR.value,
      save_checkpoints_steps=_V1_STEPS,
  )
  converted = os.path.join(root, 'converted', f'model.ckpt-{_V1_STEPS}')
  report = convert.convert_optimizer_checkpoint(v1_dir, converted)
  print(report.summary())

  rates = {
      'single process': [],
      **{f'cluster, {n + 1} training tasks': [] for n in (0, 1, 2)},
  }
  recoveries = {task: [] for task in _FAULTS}
  for _ in range(_REPEATS.value):
    rates['single process'].append(
        _single_process(converted, tempfile.mkdtemp(dir=root))
    )
    for workers in (0, 1, 2):
      rates[f'cluster, {workers + 1} training tasks'].append(
          _cluster_rate(converted, tempfile.mkdtemp(dir=root), workers)
      )
    for role, index in _FAULTS:
      recoveries[(role, index)].append(
          _recovery(converted, tempfile.mkdtemp(dir=root), role, index)
      )
  accuracy, loss = _accuracy(converted, tempfile.mkdtemp(dir=root))

  print(f'\n{_REPEATS.value} runs each; median (min, max).\n')
  print('| v2 estimator on | global steps/s |\n| --- | --- |')
  for label, values in rates.items():
    print(f'| {label} | {_stats(values)} |')
  print('\n| SIGKILL (restarted at once) | seconds to the next step |')
  print('| --- | --- |')
  for (role, index), values in recoveries.items():
    print(f'| {role} {index} | {_stats(values)} |')
  print(
      f'\nUninterrupted cluster run to step {_MAX_STEPS.value}: accuracy'
      f' {accuracy:.4f}, average loss {loss:.4f}.'
  )


if __name__ == '__main__':
  app.run(main)
