r"""Benchmarks checkpoint conversion: wall time and peak memory vs `cp`.

Builds DNNClassifier-named v1 checkpoints of the given sizes (almost all of it
one big embedding table and its Adagrad slot, as in real wide models), then
for each, side by side in the same run: copies the files with `cat` (every
byte through user space: the physical floor of one read and one write) and
with `cp` (coreutils, which copies with copy_file_range where it can: what
the zero-copy path's kernel copy matches), converts them with
estimator_migrate on both paths (streaming, verify on and off; zero-copy by
kernel copy and by --link, verify on and off) and, where it fits in memory,
with tensorflow_estimator's converter. Each run is a fresh process; peak RSS
is its `ru_maxrss`. Prints a Markdown table; every converted copy is removed
as soon as it is measured.

--with_20gb adds a 20 GB case (zero-copy and `cp` only: it shows that --link
time does not grow with size and peak RSS stays flat), run only when the
work directory's filesystem has 2.2x its size free, else skipped with a
message.

Example:
  make bench                      # 0.1, 1 and 4 GB
  python benchmarks/checkpoint_conversion.py --sizes_gb=1 --workdir=/tmp/b
  python benchmarks/checkpoint_conversion.py --sizes_gb=1 --with_20gb
"""

from collections.abc import Sequence
import os
import shutil
import sys
import tempfile

from absl import app
from absl import flags

from tests import scale_checkpoints as scale

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

_WITH_20GB = flags.DEFINE_bool(
    'with_20gb',
    False,
    'Also run a 20 GB case (zero-copy and cp columns only); needs 44 GB'
    ' free in --workdir, else it is skipped with a message.',
)
_HUGE_GB = 20.0
_FREE_FACTOR = 2.2  # the source and one converted copy, and some margin

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
    verify=sys.argv[4] == '1', path=sys.argv[5], link=sys.argv[6] == '1',
    optimizers={'dnn': tf.compat.v1.train.AdagradOptimizer(0.05)})
assert report.path == sys.argv[5], report.path
print(report.transfer.replace(' ', '_') or '-', report.seconds)
"""

# Conversion columns: (title, path, link, verify).
_COLUMNS = (
    ('stream (verify)', 'stream', '0', '1'),
    ('stream (--noverify)', 'stream', '0', '0'),
    ('zero-copy (verify)', 'zero_copy', '0', '1'),
    ('zero-copy (--noverify)', 'zero_copy', '0', '0'),
    ('zero-copy --link (verify)', 'zero_copy', '1', '1'),
    ('zero-copy --link (--noverify)', 'zero_copy', '1', '0'),
)

_BASELINE = r"""
import tensorflow as tf
from estimator_migrate.checkpoints import convert
"""

_UPSTREAM = r"""
import sys, tensorflow as tf
from tensorflow_estimator.python.estimator.tools import checkpoint_converter
checkpoint_converter.convert_checkpoint('dnn', sys.argv[1], sys.argv[2], sys.argv[3])
"""


def _python(code: str, *args: str) -> list[str]:
  return [sys.executable, '-c', code, *args]


def _size(prefix: str) -> int:
  return sum(
      os.path.getsize(os.path.join(os.path.dirname(prefix), f))
      for f in os.listdir(os.path.dirname(prefix))
      if f.startswith(os.path.basename(prefix) + '.')
  )


def _copy(command: str, source: str, out: str) -> float:
  """Seconds to copy the checkpoint's files to `out` with cat or cp."""
  os.makedirs(out)
  if command == 'cat':
    script = (
        f'for f in "{source}".*; do cat "$f" > "{out}/$(basename "$f")"; done'
    )
  else:
    script = f'cp "{source}".* "{out}/"'
  seconds, _, _, _ = scale.run(['sh', '-c', script])
  shutil.rmtree(out)
  return seconds


def _convert_cell(
    source: str, case: str, chunk: int, column: tuple[str, ...], floor: float
) -> str:
  title, path, link, verify = column
  target = os.path.join(case, 'v2', 'model.ckpt-1000')
  print(f'  {title}...', file=sys.stderr, flush=True)
  _, rss, code, stdout = scale.run(
      _python(_CONVERT, source, target, str(chunk), verify, path, link)
  )
  shutil.rmtree(os.path.dirname(target), ignore_errors=True)
  if code:
    return 'FAILED'
  method, inner = stdout.split()[-2], float(stdout.split()[-1])
  how = '' if method in ('-', 'link') else f', {method.replace("_", " ")}'
  return f'{inner:.2f} s ({inner / floor:.2f}x cp{how}), {rss:,.0f} MB'


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='em_bench_')
  chunk = _CHUNK_MB.value << 20
  _, baseline_rss, _, _ = scale.run(_python(_BASELINE))
  sizes = [(size, False) for size in _SIZES.value]
  if _WITH_20GB.value and scale.fits(workdir, _HUGE_GB, _FREE_FACTOR):
    sizes.append((f'{_HUGE_GB:g}', True))
  rows_out = []
  for size, huge in sizes:
    gigabytes = float(size)
    rows = max(1, int(gigabytes * 1e9 / (2 * _DIM * 4)))
    case = os.path.join(workdir, f'{size}gb')
    shutil.rmtree(case, ignore_errors=True)
    os.makedirs(os.path.join(case, 'v1'))
    source = os.path.join(case, 'v1', 'model.ckpt-1000')
    try:
      print(
          f'building {size} GB ({rows:,} x {_DIM} embedding + slot)...',
          file=sys.stderr,
          flush=True,
      )
      scale.run(_python(_BUILD, source, str(rows), str(_DIM)))
      os.sync()
      nbytes = _size(source)
      cat_seconds = (
          float('nan') if huge else _copy('cat', source, f'{case}/cat')
      )
      cp_seconds = _copy('cp', source, f'{case}/cp')
      cells = []
      for column in _COLUMNS:
        if huge and column[1] == 'stream':
          cells.append('not run (20 GB case: zero-copy only)')
          continue
        cells.append(_convert_cell(source, case, chunk, column, cp_seconds))
      upstream = 'not run (needs ~8x the checkpoint in memory)'
      if gigabytes <= _UPSTREAM_MAX_GB.value:
        upstream = _upstream_cell(case, source, size)
    finally:
      shutil.rmtree(case, ignore_errors=True)
    rows_out.append(
        (
            f'{nbytes / 1e9:.2f} GB',
            'not run' if huge else f'{cat_seconds:.2f} s',
            f'{cp_seconds:.2f} s',
            *cells,
            upstream,
        )
    )
  print(
      f'\nchunk {_CHUNK_MB.value} MiB; baseline RSS (python + TF + the'
      f' converter imported, nothing converted): {baseline_rss:,.0f} MB;'
      " convert times are the conversion itself (the report's seconds),"
      ' without the ~3 s of Python and TF start-up; ratios are to cp; the'
      ' zero-copy cells name how the data came over when not by link\n'
  )
  titles = ['checkpoint', 'cat', 'cp', *(c[0] for c in _COLUMNS)]
  titles.append('tensorflow_estimator converter')
  print('| ' + ' | '.join(titles) + ' |')
  print('|' + ' --- |' * len(titles))
  for row in rows_out:
    print('| ' + ' | '.join(row) + ' |')


def _upstream_cell(case: str, source: str, size: str) -> str:
  graph = os.path.join(case, 'v1', 'graph.pbtxt')
  with open(graph, 'w') as f:
    f.write('')  # it reads hyperparameters from here; none are found
  print(
      f'tensorflow_estimator converter on {size} GB...',
      file=sys.stderr,
      flush=True,
  )
  seconds, rss, code, _ = scale.run(
      _python(_UPSTREAM, source, graph, os.path.join(case, 'upstream', 'model'))
  )
  shutil.rmtree(os.path.join(case, 'upstream'), ignore_errors=True)
  if code:
    return f'failed (exit {code}) after {seconds:.1f} s, {rss:,.0f} MB'
  return f'{seconds:.1f} s, {rss:,.0f} MB'


if __name__ == '__main__':
  app.run(main)
