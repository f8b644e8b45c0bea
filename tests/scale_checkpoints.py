"""Large canned checkpoints built in blocks, and processes measured.

Shared by `benchmarks/export_scale.py` (0.5 to 20 GB) and
`tests/export_memory_test.py` (300 MB): a v2 `DNNLinearCombinedClassifier`
whose checkpoint is almost all one hashed embedding (Adagrad) and one
crossed linear column (Ftrl). The estimator trains one step with small
tables (for its graph and names); the checkpoint is then written again with
the large tables block by block, so that no table is ever held whole.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIM = 32

# The estimator's kwargs, for the export's --config; ROWS and CROSSED come
# from the environment so that one file serves every size.
CONFIG = r"""
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
BUILD = r"""
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

EXPORT_BASELINE = r"""
from estimator_migrate.cli import export  # noqa: F401 (imports TF, the exporter)
"""

# The features every prediction measure feeds, `batch` rows (numpy), and
# rows/s of calls measured in turns: after two calls each (traced, warmed),
# ROUNDS short rounds of each call for SECONDS; a call's best round counts
# (the one least slowed by other work on the machine).
FEATURES = r"""
ROUNDS, SECONDS = 20, 0.15


def features(batch):
  rng = np.random.default_rng(0)
  return {'ids': np.array([[f'k{i}'] for i in range(batch)]),
          'a': np.array([['a']] * batch), 'b': np.array([['c']] * batch),
          'x': rng.normal(size=(batch, 4)).astype(np.float32)}


def rows_per_second(calls, batch):
  best = dict.fromkeys(calls, 0.0)
  for call in calls.values():
    call()
    call()
  for _ in range(ROUNDS):
    for name, call in calls.items():
      runs, began = 0, time.perf_counter()
      while time.perf_counter() - began < SECONDS:
        call()
        runs += 1
      best[name] = max(best[name], runs * batch / (time.perf_counter() - began))
  return best
"""

LOAD = (
    r"""
import importlib.util, json, os, resource, sys, time
import keras, numpy as np, tensorflow as tf
"""
    + FEATURES
    + r"""
mode = sys.argv[2]
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
result = dict(baseline=baseline)


def nbytes(variables):
  return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
             for v in variables) / 1e6


if mode in ('plain', 'compile', 'predict'):
  spec = importlib.util.spec_from_file_location('exported', os.path.join(sys.argv[1], 'model.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  began = time.perf_counter()
  model = module.load(sys.argv[1], compile=mode == 'compile')
  result['seconds'] = time.perf_counter() - began
  result['kept'] = nbytes(model.weights)
  if mode == 'compile':
    optimizers = [o for o, _ in getattr(model, 'groups', ())] or [model.optimizer]
    result['slots'] = nbytes([v for o in optimizers for v in o.variables])
  if mode == 'predict':  # argv[3], argv[4]: SavedModels ('' for none)
    served = {}
    # The feature dict: the export's serving_raw (its serving_default is
    # the estimator's, on tf.Examples), the estimator's raw receiver.
    for name, path, keys in (
        ('saved_model', sys.argv[3], ('serving_raw', 'serving_default')),
        ('estimator_saved_model', sys.argv[4], ('predict',))):
      if path:
        signatures = tf.saved_model.load(path).signatures
        served[name] = signatures[next(k for k in keys if k in signatures)]
    for batch in (1, 1024):
      inputs = module.select_features(model, features(batch))
      calls = {'predict_on_batch': lambda: model.predict_on_batch(inputs)}
      if hasattr(module, 'predict_function'):
        function = module.predict_function(model)
        calls['predict_function'] = lambda: function(inputs)
      for name, signature in served.items():
        calls[name] = lambda signature=signature: signature(**inputs)
      for name, rate in rows_per_second(calls, batch).items():
        result[f'{name}_{batch}'] = rate
print('RESULT=' + json.dumps(result))
"""
)

# On TF 2.15: the estimator itself, `export` (its SavedModel with a raw
# receiver of the same features, into argv[4]; its path replied) or
# `predict` (rows/s of estimator.predict once its graph is built and the
# checkpoint restored: batches from one generator).
ESTIMATOR = (
    r"""
import json, os, sys, time
import numpy as np
import tensorflow as tf
"""
    + FEATURES
    + r"""
sys.path.insert(0, os.path.dirname(sys.argv[1]))
import config

model_dir, mode = sys.argv[2], sys.argv[3]
estimator = tf.estimator.DNNLinearCombinedClassifier(
    model_dir=model_dir, **config.kwargs())
result = {}
if mode == 'export':
  def receiver():
    tensors = {
        'ids': tf.compat.v1.placeholder(tf.string, [None, 1], 'ids'),
        'a': tf.compat.v1.placeholder(tf.string, [None, 1], 'a'),
        'b': tf.compat.v1.placeholder(tf.string, [None, 1], 'b'),
        'x': tf.compat.v1.placeholder(tf.float32, [None, 4], 'x'),
    }
    return tf.estimator.export.ServingInputReceiver(tensors, tensors)

  path = estimator.export_saved_model(sys.argv[4], receiver)
  result['path'] = path.decode() if isinstance(path, bytes) else path
else:
  for batch in (1, 1024):
    inputs = features(batch)
    predictions = estimator.predict(
        lambda: tf.data.Dataset.from_tensors(inputs).repeat(),
        yield_single_examples=False)
    rates = rows_per_second({'predict': lambda: next(predictions)}, batch)
    result[f'estimator_predict_{batch}'] = rates['predict']
    predictions.close()
print('RESULT=' + json.dumps(result))
"""
)


def run(argv: list[str], env: dict[str, str] | None = None):
  """Runs a process; returns (seconds, peak RSS in MB, exit status, stdout)."""
  env = dict(
      os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='3', **(env or {})
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


def modern_python() -> str:
  sys.path.insert(0, REPO)
  from estimator_migrate.export import modern  # pylint: disable=g-import-not-at-top

  return modern.find_python()


def result(stdout: str) -> dict:
  for line in stdout.splitlines():
    if line.startswith('RESULT='):
      return json.loads(line[len('RESULT=') :])
  return {}


def size(model_dir: str, prefix: str) -> tuple[int, list[str]]:
  files = [
      os.path.join(model_dir, f)
      for f in os.listdir(model_dir)
      if f.startswith(os.path.basename(prefix) + '.')
  ]
  return sum(os.path.getsize(f) for f in files), files


@dataclasses.dataclass(frozen=True)
class Case:
  """A built model_dir, the export's --config for it and its sizes."""

  config: str
  model_dir: str
  env: dict[str, str]  # the environment --config reads the sizes from
  files: list[str]  # the checkpoint's files
  nbytes: int  # their size
  largest: int  # bytes of the largest tensor


def build(directory: str, gigabytes: float, embedding_share: float = 0.75):
  """Builds a case of about `gigabytes` in `directory`; None if it failed.

  `embedding_share` of the bytes go to the embedding and its Adagrad
  accumulator (2 x rows x 32 floats), the rest to the crossed column's Ftrl
  weights, accumulator and linear slot (3 x buckets floats).
  """
  rows = max(64, int(gigabytes * 1e9 * embedding_share / (2 * DIM * 4)))
  crossed = max(64, int(gigabytes * 1e9 * (1 - embedding_share) / (3 * 4)))
  os.makedirs(directory, exist_ok=True)
  config = os.path.join(directory, 'config.py')
  with open(config, 'w') as f:
    f.write(CONFIG)
  model_dir = os.path.join(directory, 'model')
  _, _, code, stdout = run(
      [sys.executable, '-c', BUILD, config, model_dir, str(rows), str(crossed)]
  )
  if code:
    return None
  prefix = stdout.strip().splitlines()[-1]
  nbytes, files = size(model_dir, prefix)
  return Case(
      config,
      model_dir,
      dict(BENCH_ROWS=str(rows), BENCH_CROSSED=str(crossed)),
      files,
      nbytes,
      max(rows * DIM, crossed) * 4,
  )


def export(case: Case, target: str, *flags: str):
  """Runs estimator-migrate-export on `case`: (seconds, peak RSS MB, code).

  `flags`: more flags (`--saved_model`).
  """
  seconds, rss, code, _ = run(
      [
          sys.executable,
          '-m',
          'estimator_migrate.cli.export',
          '--estimator=DNNLinearCombinedClassifier',
          f'--model_dir={case.model_dir}',
          f'--config={case.config}:kwargs',
          f'--target={target}',
          *flags,
      ],
      case.env,
  )
  return seconds, rss, code


def load(python: str, target: str, mode: str, *extra: str):
  """`load()` of an export in `python`: (peak RSS MB, exit code, measures).

  `mode`: `plain` (load()), `compile` (load(compile=True): also the bytes
  of the optimizer slots, `slots`), `baseline` (imports only), `predict`
  (load(), then rows/s at batch 1 and 1024, `<way>_<batch>`, of
  `predict_on_batch`, the model.py's `predict_function` and, given as
  `extra` (path or ''), the export's `saved_model/` and the estimator's
  SavedModel, measured in turns).
  """
  _, rss, code, stdout = run([python, '-c', LOAD, target, mode, *extra])
  return rss, code, result(stdout)


def estimator(case: Case, mode: str, *extra: str) -> dict:
  """The case's estimator on TF 2.15; {} if it failed.

  `mode`: `export` (its SavedModel, into the directory `extra[0]`:
  `{'path': ...}`) or `predict` (rows/s at batch 1 and 1024 of
  `estimator.predict`, its graph built and checkpoint restored first).
  """
  _, _, code, stdout = run(
      [
          sys.executable,
          '-c',
          ESTIMATOR,
          case.config,
          case.model_dir,
          mode,
          *extra,
      ],
      case.env,
  )
  return {} if code else result(stdout)


def fits(workdir: str, gigabytes: float, factor: float) -> bool:
  """Whether `workdir` has `factor` x `gigabytes` free; says so if not."""
  free = shutil.disk_usage(workdir).free
  if free >= factor * gigabytes * 1e9:
    return True
  print(
      f'skipping the {gigabytes:g} GB case: {workdir} has {free / 1e9:.1f} GB'
      f' free, it needs {factor * gigabytes:.0f} GB (pass --workdir on a'
      ' larger filesystem)',
      file=sys.stderr,
  )
  return False
