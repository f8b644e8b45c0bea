r"""Benchmarks checkpoint conversion: wall time and peak memory vs `cp`.

Builds DNNClassifier-named v1 checkpoints of the given sizes (almost all of it
one big embedding table and its Adagrad slot, as in real wide models), then
for each: copies the files with `cp` (one read, one write: the physical
floor, done with cat so that no filesystem shortcut skips the copy), converts them with estimator_migrate (verify on and off) and, where
it fits in memory, with tensorflow_estimator's converter. Each run is a fresh
process; peak RSS is its `ru_maxrss`. Prints a Markdown table.

Example:
  make bench                      # 0.1, 1 and 4 GB
  python benchmarks/checkpoint_conversion.py --sizes_gb=0.1 --workdir=/tmp/b
"""

from collections.abc import Sequence
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

_SIZES = flags.DEFINE_list(
    'sizes_gb',
    ['0.1', '1', '4'],
    'Checkpoint sizes to build, in GB (1e9 bytes).',
)
_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'Where checkpoints go (default: a temp dir).'
)
_CHUNK_MB = flags.DEFINE_integer('chunk_mb', 64, 'Converter chunk size.')
_UPSTREAM_MAX_GB = flags.DEFINE_float(
    'upstream_max_gb',
    1.0,
    "Largest size to run tensorflow_estimator's converter on: it holds"
    ' every tensor as a graph constant (about 8x the checkpoint in memory).',
)

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIM = 64
_EMBEDDING = (
    'dnn/input_from_feature_columns/input_layer/ids_embedding/embedding_weights'
)

_BUILD = r"""
import sys, numpy as np, tensorflow as tf
prefix, rows, dim, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 1 << 20
emb = 'EMB'
small = {
    'dnn/hiddenlayer_0/kernel': np.full((dim, 16), 0.01, np.float32),
    'dnn/hiddenlayer_0/bias': np.zeros(16, np.float32),
    'dnn/logits/kernel': np.full((16, 3), 0.01, np.float32),
    'dnn/logits/bias': np.zeros(3, np.float32),
}
names, specs, tensors = ['global_step'], [''], [np.int64(1000)]
for name, value in small.items():
  names += [name, name + '/t_0/Adagrad']
  specs += ['', '']
  tensors += [value, np.full_like(value, 0.1)]
shards = [prefix + '-small']
tf.raw_ops.SaveV2(prefix=shards[0], tensor_names=names, shape_and_slices=specs, tensors=tensors)
for name, fill in ((emb, None), (emb + '/t_0/Adagrad', 0.1)):
  for start in range(0, rows, block):
    n = min(block, rows - start)
    values = (np.arange(start * dim, (start + n) * dim, dtype=np.float32).reshape(n, dim) * 1e-9
              if fill is None else np.full((n, dim), fill, np.float32))
    shard = f'{prefix}-{len(shards)}'
    tf.raw_ops.SaveV2(prefix=shard, tensor_names=[name],
                      shape_and_slices=[f'{rows} {dim} {start},{n}:-'], tensors=[values])
    shards.append(shard)
tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=shards, destination_prefix=prefix)
""".replace('EMB', _EMBEDDING)

_CONVERT = r"""
import sys, tensorflow as tf
from estimator_migrate.checkpoints import convert
report = convert.convert_optimizer_checkpoint(
    sys.argv[1], sys.argv[2], chunk_bytes=int(sys.argv[3]),
    verify=sys.argv[4] == '1',
    optimizers={'dnn': tf.compat.v1.train.AdagradOptimizer(0.05)})
print(report.seconds)
"""

_BASELINE = r"""
import tensorflow as tf
from estimator_migrate.checkpoints import convert
"""

_UPSTREAM = r"""
import sys, tensorflow as tf
from tensorflow_estimator.python.estimator.tools import checkpoint_converter
checkpoint_converter.convert_checkpoint('dnn', sys.argv[1], sys.argv[2], sys.argv[3])
"""


def _run(argv: list[str]) -> tuple[float, float, int, str]:
  """Runs a process; returns (seconds, peak RSS in MB, exit status, stdout)."""
  env = dict(os.environ, PYTHONPATH=_REPO, TF_CPP_MIN_LOG_LEVEL='3')
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
        f'  ({" ".join(argv[:3])} failed: {stderr.strip().splitlines()[-1:]})',
        file=sys.stderr,
    )
  return seconds, usage.ru_maxrss / 1024, code, stdout


def _python(code: str, *args: str) -> list[str]:
  return [sys.executable, '-c', code, *args]


def _size(prefix: str) -> int:
  return sum(
      os.path.getsize(os.path.join(os.path.dirname(prefix), f))
      for f in os.listdir(os.path.dirname(prefix))
      if f.startswith(os.path.basename(prefix) + '.')
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='em_bench_')
  chunk = _CHUNK_MB.value << 20
  _, baseline_rss, _, _ = _run(_python(_BASELINE))
  rows_out = []
  for size in _SIZES.value:
    gigabytes = float(size)
    rows = max(1, int(gigabytes * 1e9 / (2 * _DIM * 4)))
    case = os.path.join(workdir, f'{size}gb')
    shutil.rmtree(case, ignore_errors=True)
    os.makedirs(os.path.join(case, 'v1'))
    source = os.path.join(case, 'v1', 'model.ckpt-1000')
    print(
        f'building {size} GB ({rows:,} x {_DIM} embedding + slot)...',
        file=sys.stderr,
        flush=True,
    )
    _run(_python(_BUILD, source, str(rows), str(_DIM)))
    os.sync()
    nbytes = _size(source)
    os.makedirs(os.path.join(case, 'cp'))
    # cat moves every byte through user space; cp may use copy_file_range
    # or reflinks and copy nothing at all.
    cp_seconds, _, _, _ = _run(
        [
            'sh',
            '-c',
            f'for f in {source}.*; do'
            f' cat "$f" > {case}/cp/"$(basename "$f")";'
            ' done',
        ]
    )
    shutil.rmtree(os.path.join(case, 'cp'))
    results = {}
    for verify in ('1', '0'):
      target = os.path.join(case, f'v2_verify{verify}', 'model.ckpt-1000')
      print(
          f'converting {size} GB (verify={verify})...',
          file=sys.stderr,
          flush=True,
      )
      results[verify] = _run(
          _python(_CONVERT, source, target, str(chunk), verify)
      )
      shutil.rmtree(os.path.dirname(target))
    upstream = 'not run (needs ~8x the checkpoint in memory)'
    if gigabytes <= _UPSTREAM_MAX_GB.value:
      graph = os.path.join(case, 'v1', 'graph.pbtxt')
      with open(graph, 'w') as f:
        f.write('')  # it reads hyperparameters from here; none are found
      print(
          f'tensorflow_estimator converter on {size} GB...',
          file=sys.stderr,
          flush=True,
      )
      seconds, rss, code, _ = _run(
          _python(
              _UPSTREAM, source, graph, os.path.join(case, 'upstream', 'model')
          )
      )
      upstream = (
          f'{seconds:.1f} s, {rss:,.0f} MB'
          if code == 0
          else f'failed (exit {code}) after {seconds:.1f} s, {rss:,.0f} MB'
      )
      shutil.rmtree(os.path.join(case, 'upstream'), ignore_errors=True)
    shutil.rmtree(case)
    cells = []
    for verify in ('1', '0'):
      _, rss, code, stdout = results[verify]
      if code:
        cells.append('FAILED')
        continue
      inner = float(stdout.split()[-1])
      cells.append(
          f'{inner:.2f} s ({inner / cp_seconds:.2f}x cat), {rss:,.0f} MB'
      )
    rows_out.append(
        (f'{nbytes / 1e9:.2f} GB', f'{cp_seconds:.2f} s', *cells, upstream)
    )
  print(
      f'\nchunk {_CHUNK_MB.value} MiB; baseline RSS (python + TF + the'
      f' converter imported, nothing converted): {baseline_rss:,.0f} MB;'
      " convert times are the conversion itself (the report's seconds),"
      ' without the ~3 s of Python and TF start-up\n'
  )
  print(
      '| checkpoint | cat (copy) | convert (verify) | convert (--noverify) |'
      ' tensorflow_estimator converter |'
  )
  print('| --- | --- | --- | --- | --- |')
  for row in rows_out:
    print('| ' + ' | '.join(row) + ' |')


if __name__ == '__main__':
  app.run(main)
