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
import os
import shutil
import sys
import tempfile

from absl import app
from absl import flags

from tests import scale_checkpoints as scale

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


def _case(workdir: str, size: str, modern_python: str, first: bool) -> tuple:
  directory = os.path.join(workdir, f'{size}gb')
  shutil.rmtree(directory, ignore_errors=True)
  try:
    print(f'building {size} GB...', file=sys.stderr, flush=True)
    case = scale.build(directory, float(size))
    if case is None:
      return (f'{size} GB', 'build FAILED')
    os.sync()
    copy = os.path.join(directory, 'cp')
    os.makedirs(copy)
    cp_seconds, _, _, _ = scale.run(['cp', *case.files, copy])
    shutil.rmtree(copy)
    print(f'exporting {size} GB...', file=sys.stderr, flush=True)
    target = os.path.join(directory, 'keras')
    export_seconds, export_rss, code = scale.export(case, target)
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
      rss, load_code, measured = scale.load(modern_python, target, mode)
      cells.append(
          'FAILED'
          if load_code
          else f'{measured["seconds"]:.1f} s, {rss:,.0f} MB'
          f' (weights kept {measured["kept"]:,.0f} MB)'
      )
    throughput = ''
    if first and not code:
      _, _, measured = scale.load(modern_python, target, 'predict')
      if measured:
        throughput = (
            f'{measured["rows_per_s_1"]:,.0f} / '
            f'{measured["rows_per_s_1024"]:,.0f}'
        )
  finally:
    if not _KEEP.value:
      shutil.rmtree(directory, ignore_errors=True)
  return (
      f'{case.nbytes / 1e9:.2f} GB',
      f'{case.largest / 1e6:,.0f} MB',
      f'{cp_seconds:.1f} s',
      export_cell,
      *cells,
      throughput or 'not run',
  )


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='em_export_bench_')
  modern_python = scale.modern_python()
  _, export_baseline, _, _ = scale.run(
      [sys.executable, '-c', scale.EXPORT_BASELINE]
  )
  modern_baseline, _, _ = scale.load(modern_python, workdir, 'baseline')
  sizes = list(_SIZES.value)
  if _WITH_20GB.value and scale.fits(workdir, _HUGE_GB, _FREE_FACTOR):
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
