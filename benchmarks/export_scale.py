r"""Benchmarks the exit at scale: export and load time and peak memory.

For each size, builds a v2 `DNNLinearCombinedClassifier` model_dir whose
checkpoint is almost all one hashed embedding (`rows` x 32, Adagrad) and one
crossed linear column (Ftrl: weights, accumulator, linear): the estimator
trains one step with small tables (for its graph and variable names), then
its checkpoint is written again with the large tables, block by block, so
that building a 20 GB case never holds a table in memory. Then, each in a
fresh process whose peak RSS is its `ru_maxrss`:

- `cp` of the checkpoint's files (the floor: one read and one write);
- `estimator-migrate-export` (through the installed binary's module);
- in the modern environment (TF 2.21, Keras 3): `load()` and
  `load(compile=True)` of the export, and the same process's baseline (TF
  and Keras imported, nothing loaded);
- at the smallest size only: prediction rows/s of the Keras model at batch 1
  and 1024, on TF 2.21.

Prints a Markdown table; every case is removed as soon as it is measured.
--with_20gb adds a 20 GB case when the work directory's filesystem has 2.5x
its size free, else it is skipped with a message.

Example:
  python benchmarks/export_scale.py --sizes_gb=0.5,2
  python benchmarks/export_scale.py --sizes_gb=0.5 --with_20gb --workdir=/big
"""

from collections.abc import Sequence
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

_SIZES = flags.DEFINE_list(
    'sizes_gb', ['0.5', '2', '8'], 'Checkpoint sizes, in GB (1e9 bytes).'
)
_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'Where cases are built (default: a temp dir).'
)
_KEEP = flags.DEFINE_bool(
    'keep', False, 'Keep each case (model_dir and export) in --workdir.'
)
_WITH_20GB = flags.DEFINE_bool(
    'with_20gb',
    False,
    'Also run a 20 GB case; needs 50 GB free in --workdir, else skipped.',
)
_HUGE_GB = 20.0
_FREE_FACTOR = 2.5  # the checkpoint, the export, a cp copy, and margin

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIM = 32

# The estimator's kwargs, for the export's --config; ROWS and CROSSED come
# from the environment so that one file serves every size.
_CONFIG = r"""
import os
import tensorflow as tf


def kwargs():
  rows = int(os.environ['BENCH_ROWS'])
  crossed = int(os.environ['BENCH_CROSSED'])
  fc = tf.feature_column
  ids = fc.categorical_column_with_hash_bucket('ids', rows)
  return dict(
      linear_feature_columns=[fc.crossed_column(['a', 'b'], crossed)],
      dnn_feature_columns=[fc.embedding_column(ids, 32),
                           fc.numeric_column('x', shape=(4,))],
      dnn_hidden_units=[16],
      linear_optimizer='Ftrl',
      dnn_optimizer='Adagrad',
  )
"""

# Trains one step with small tables, then rewrites the checkpoint with the
# large ones (block by block: SaveV2 slices, then MergeV2Checkpoints).
_BUILD = r"""
import os, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import config

model_dir, rows, crossed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.environ['BENCH_ROWS'], os.environ['BENCH_CROSSED'] = '64', '64'
estimator = tf.estimator.DNNLinearCombinedClassifier(
    model_dir=model_dir, **config.kwargs())

def input_fn():
  features = {'ids': tf.constant([['k1'], ['k2']]), 'a': tf.constant([['a'], ['b']]),
              'b': tf.constant([['c'], ['d']]), 'x': tf.ones((2, 4))}
  return tf.data.Dataset.from_tensors((features, tf.constant([[0], [1]]))).repeat()

estimator.train(input_fn, steps=1)
prefix = tf.train.latest_checkpoint(model_dir)
reader = tf.train.load_checkpoint(prefix)
big = {}
for name, shape in reader.get_variable_to_shape_map().items():
  if shape and shape[0] == 64 and ('embedding_weights' in name or 'a_X_b' in name):
    big[name] = [rows if 'embedding_weights' in name else crossed] + shape[1:]
names = [n for n in reader.get_variable_to_shape_map() if n not in big]
shards = [prefix + '-bench-small']
tf.raw_ops.SaveV2(prefix=shards[0], tensor_names=names,
                  shape_and_slices=[''] * len(names),
                  tensors=[reader.get_tensor(n) for n in names])
block = 1 << 22  # elements per SaveV2 call
rng = np.random.default_rng(0)
for name, shape in sorted(big.items()):
  width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
  step = max(1, block // width)
  for start in range(0, shape[0], step):
    n = min(step, shape[0] - start)
    values = rng.normal(scale=0.01, size=[n] + shape[1:]).astype(np.float32)
    if 'Adagrad' in name or name.endswith('/Ftrl'):
      values = np.abs(values) + 0.1  # accumulators are positive
    spec = ' '.join(map(str, shape)) + ' ' + ':'.join(
        [f'{start},{n}'] + ['-'] * (len(shape) - 1))
    shard = f'{prefix}-bench-{len(shards)}'
    tf.raw_ops.SaveV2(prefix=shard, tensor_names=[name],
                      shape_and_slices=[spec], tensors=[values])
    shards.append(shard)
for f in tf.io.gfile.glob(prefix + '.*'):
  tf.io.gfile.remove(f)
tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=shards, destination_prefix=prefix)
print(prefix)
"""

_EXPORT_BASELINE = r"""
from estimator_migrate.cli import export  # noqa: F401 (imports TF, the exporter)
"""

_LOAD = r"""
import importlib.util, json, os, resource, sys, time
import keras, numpy as np, tensorflow as tf
mode = sys.argv[2]
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = dict(baseline=baseline)
if mode != 'baseline':
  spec = importlib.util.spec_from_file_location('exported', os.path.join(sys.argv[1], 'model.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  began = time.perf_counter()
  model = module.load(sys.argv[1], compile=mode == 'compile')
  result['seconds'] = time.perf_counter() - began
  result['kept'] = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize
                       for w in model.weights) / 1e6
  if mode == 'predict':
    rng = np.random.default_rng(0)
    for batch in (1, 1024):
      features = {'ids': np.array([[f'k{i}'] for i in range(batch)]),
                  'a': np.array([['a']] * batch), 'b': np.array([['c']] * batch),
                  'x': rng.normal(size=(batch, 4)).astype(np.float32)}
      inputs = module.select_features(model, features)
      model.predict_on_batch(inputs)
      runs, began = 0, time.perf_counter()
      while time.perf_counter() - began < 3:
        model.predict_on_batch(inputs)
        runs += 1
      result[f'rows_per_s_{batch}'] = runs * batch / (time.perf_counter() - began)
print('RESULT=' + json.dumps(result))
"""


def _run(argv: list[str], env: dict[str, str] | None = None):
  """Runs a process; returns (seconds, peak RSS in MB, exit status, stdout)."""
  env = dict(
      os.environ, PYTHONPATH=_REPO, TF_CPP_MIN_LOG_LEVEL='3', **(env or {})
  )
  began = time.perf_counter()
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode(errors='replace')
    stderr = err.read().decode(errors='replace')
  code = os.waitstatus_to_exitcode(status)
  if code != 0:
    print(
        f'  ({" ".join(argv[:3])[:80]} failed: {stderr.strip()[-400:]})',
        file=sys.stderr,
    )
  return seconds, usage.ru_maxrss / 1024, code, stdout


def _modern_python() -> str:
  sys.path.insert(0, _REPO)
  from estimator_migrate.export import modern  # pylint: disable=g-import-not-at-top

  return modern.find_python()


def _result(stdout: str) -> dict:
  for line in stdout.splitlines():
    if line.startswith('RESULT='):
      return json.loads(line[len('RESULT=') :])
  return {}


def _size(model_dir: str, prefix: str) -> tuple[int, list[str]]:
  files = [
      os.path.join(model_dir, f)
      for f in os.listdir(model_dir)
      if f.startswith(os.path.basename(prefix) + '.')
  ]
  return sum(os.path.getsize(f) for f in files), files


def _case(workdir: str, size: str, modern_python: str, first: bool) -> tuple:
  gigabytes = float(size)
  # Embedding and its Adagrad accumulator (2 x rows x 32 floats) take 3/4
  # of the bytes; the crossed column's Ftrl weights, accumulator and linear
  # (3 x crossed floats) the rest.
  rows = max(64, int(gigabytes * 1e9 * 0.75 / (2 * _DIM * 4)))
  crossed = max(64, int(gigabytes * 1e9 * 0.25 / (3 * 4)))
  case = os.path.join(workdir, f'{size}gb')
  shutil.rmtree(case, ignore_errors=True)
  os.makedirs(case)
  config = os.path.join(case, 'config.py')
  with open(config, 'w') as f:
    f.write(_CONFIG)
  env = dict(BENCH_ROWS=str(rows), BENCH_CROSSED=str(crossed))
  model_dir = os.path.join(case, 'model')
  try:
    print(f'building {size} GB...', file=sys.stderr, flush=True)
    _, _, code, stdout = _run(
        [
            sys.executable,
            '-c',
            _BUILD,
            config,
            model_dir,
            str(rows),
            str(crossed),
        ]
    )
    if code:
      return (f'{size} GB', 'build FAILED')
    prefix = stdout.strip().splitlines()[-1]
    os.sync()
    nbytes, files = _size(model_dir, prefix)
    largest = max(rows * _DIM, crossed) * 4
    copy = os.path.join(case, 'cp')
    os.makedirs(copy)
    cp_seconds, _, _, _ = _run(['cp', *files, copy])
    shutil.rmtree(copy)
    print(f'exporting {size} GB...', file=sys.stderr, flush=True)
    target = os.path.join(case, 'keras')
    export_seconds, export_rss, code, _ = _run(
        [
            sys.executable,
            '-m',
            'estimator_migrate.cli.export',
            '--estimator=DNNLinearCombinedClassifier',
            f'--model_dir={model_dir}',
            f'--config={config}:kwargs',
            f'--target={target}',
        ],
        env,
    )
    export_cell = (
        'FAILED'
        if code
        else f'{export_seconds:.1f} s ({export_seconds / cp_seconds:.1f}x'
        f' cp), {export_rss:,.0f} MB'
    )
    cells = []
    for mode in ('plain', 'compile'):
      print(f'load ({mode}) {size} GB...', file=sys.stderr, flush=True)
      if code:
        cells.append('not run')
        continue
      seconds, rss, load_code, stdout = _run(
          [modern_python, '-c', _LOAD, target, mode]
      )
      measured = _result(stdout)
      cells.append(
          'FAILED'
          if load_code
          else f'{measured["seconds"]:.1f} s, {rss:,.0f} MB'
          f' (weights kept {measured["kept"]:,.0f} MB)'
      )
    throughput = ''
    if first and not code:
      _, _, _, stdout = _run([modern_python, '-c', _LOAD, target, 'predict'])
      measured = _result(stdout)
      if measured:
        throughput = (
            f'{measured["rows_per_s_1"]:,.0f} / '
            f'{measured["rows_per_s_1024"]:,.0f}'
        )
  finally:
    if not _KEEP.value:
      shutil.rmtree(case, ignore_errors=True)
  return (
      f'{nbytes / 1e9:.2f} GB',
      f'{largest / 1e6:,.0f} MB',
      f'{cp_seconds:.1f} s',
      export_cell,
      *cells,
      throughput or 'not run',
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='em_export_bench_')
  modern_python = _modern_python()
  _, export_baseline, _, _ = _run([sys.executable, '-c', _EXPORT_BASELINE])
  _, modern_baseline, _, _ = _run(
      [modern_python, '-c', _LOAD, workdir, 'baseline']
  )
  sizes = list(_SIZES.value)
  if _WITH_20GB.value:
    free = shutil.disk_usage(workdir).free
    if free < _FREE_FACTOR * _HUGE_GB * 1e9:
      print(
          f'skipping the 20 GB case: {workdir} has {free / 1e9:.1f} GB free,'
          f' it needs {_FREE_FACTOR * _HUGE_GB:.0f} GB (pass --workdir on a'
          ' larger filesystem)',
          file=sys.stderr,
      )
    else:
      sizes.append(f'{_HUGE_GB:g}')
  rows = [
      _case(workdir, size, modern_python, i == 0)
      for i, size in enumerate(sizes)
  ]
  print(
      f'\nbaseline RSS: export process (python + TF 2.15 + the exporter'
      f' imported) {export_baseline:,.0f} MB; modern process (TF 2.21 +'
      f' Keras 3 imported) {modern_baseline:,.0f} MB. Export time includes'
      ' the ~4 s of Python and TF start-up; load time is `load()` alone.\n'
  )
  titles = (
      'checkpoint',
      'largest tensor',
      'cp',
      'export',
      'load()',
      'load(compile=True)',
      'predict rows/s (batch 1 / 1024)',
  )
  print('| ' + ' | '.join(titles) + ' |')
  print('|' + ' --- |' * len(titles))
  for row in rows:
    print('| ' + ' | '.join(row) + ' |')


if __name__ == '__main__':
  app.run(main)
