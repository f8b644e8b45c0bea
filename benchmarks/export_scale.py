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
- at the first size only, prediction rows/s at batch 1 and 1024 of: the
  exported Keras model (model.py's `predict_function`, and
  `predict_on_batch`), its `saved_model/` (a second export with
  --saved_model, `serving_raw`: the feature dict) and the estimator's own SavedModel
  (`export_saved_model` with a raw receiver of the same features,
  `predict` signature), the last two through `tf.saved_model.load`, all
  four in one TF 2.21 process, in turns (after two calls each, the best of
  20 rounds of 0.15 s each); and `estimator.predict` on TF 2.15 (batches
  from one generator, its graph built and checkpoint restored first).

Prints Markdown tables, with the load average after each case (the
machine's other work shows in it); every case is removed as soon as it is
measured. A case is skipped with a message when the work directory's
filesystem lacks 2.5x its size; --with_20gb adds a 20 GB case.

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
# load(compile=True) holds the weights and slots (the whole checkpoint):
# skipped where that, with room, exceeds the memory available.
_MEMORY_FACTOR = 1.2
_FREE_FACTOR = 2.5  # the checkpoint, the export, a cp copy, and margin


def _load_average() -> str:
  return '/'.join(f'{n:.1f}' for n in os.getloadavg())


def _throughput(case, target: str, directory: str, modern_python: str):
  """Rows/s at batch 1 and 1024 of five ways to predict (a table's rows)."""
  print("predict: saved_model/, the estimator's SavedModel...", file=sys.stderr)
  serving = os.path.join(directory, 'serving')
  _, _, code = scale.export(case, serving, '--saved_model')
  saved_model = '' if code else os.path.join(serving, 'saved_model')
  exported = scale.estimator(case, 'export', os.path.join(directory, 'est'))
  print('predict: TF 2.21...', file=sys.stderr, flush=True)
  _, _, measured = scale.load(
      modern_python, target, 'predict', saved_model, exported.get('path', '')
  )
  modern_load = _load_average()
  print('predict: estimator.predict...', file=sys.stderr, flush=True)
  measured.update(scale.estimator(case, 'predict'))
  rows = []
  for key, what in (
      ('predict_function', "exported model, model.py's `predict_function`"),
      ('predict_on_batch', 'exported model, `predict_on_batch`'),
      ('saved_model', "the export's `saved_model/`, `serving_raw`"),
      (
          'estimator_saved_model',
          "the estimator's own SavedModel (`export_saved_model`, raw"
          ' receiver), `predict`',
      ),
      (
          'estimator_predict',
          '`estimator.predict` on TF 2.15 (graph built, checkpoint restored'
          ' before timing)',
      ),
  ):
    cells = tuple(
        f'{measured[f"{key}_{batch}"]:,.0f}'
        if f'{key}_{batch}' in measured
        else 'FAILED'
        for batch in (1, 1024)
    )
    load = _load_average() if key == 'estimator_predict' else modern_load
    rows.append((what, *cells, load))
  return rows


def _available_memory() -> int:
  """Bytes of memory available now (MemAvailable), or 0 if unknown."""
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return 0


def _case(workdir: str, size: str, modern_python: str, first: bool):
  directory = os.path.join(workdir, f'{size}gb')
  shutil.rmtree(directory, ignore_errors=True)
  throughput = []
  try:
    print(f'building {size} GB...', file=sys.stderr, flush=True)
    case = scale.build(directory, float(size))
    if case is None:
      return (f'{size} GB', 'build FAILED'), throughput
    os.sync()
    copy = os.path.join(directory, 'cp')
    os.makedirs(copy)
    cp_seconds, _, _, _ = scale.run(['cp', *case.files, copy])
    shutil.rmtree(copy)
    os.sync()
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
      available = _available_memory()
      if mode == 'compile' and case.nbytes * _MEMORY_FACTOR > available:
        # Weights and slots are the whole checkpoint: held in memory, they
        # cannot fit, and the kernel would kill the process (or the
        # machine's other work).
        cells.append(
            f'skipped: weights + slots {case.nbytes / 1e9:.1f} GB, memory'
            f' available {available / 1e9:.1f} GB'
        )
        continue
      rss, load_code, measured = scale.load(modern_python, target, mode)
      held = measured.get('kept', 0) + measured.get('slots', 0)
      cells.append(
          'FAILED'
          if load_code
          else f'{measured["seconds"]:.1f} s, {rss:,.0f} MB'
          f' ({"weights" if mode == "plain" else "weights + slots"}'
          f' {held:,.0f} MB)'
      )
    if first and not code:
      throughput = _throughput(case, target, directory, modern_python)
  finally:
    if not _KEEP.value:
      shutil.rmtree(directory, ignore_errors=True)
  return (
      f'{case.nbytes / 1e9:.2f} GB',
      f'{case.largest / 1e6:,.0f} MB',
      f'{cp_seconds:.2f} s',
      export_cell,
      *cells,
      _load_average(),
  ), throughput


def _table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
  print('| ' + ' | '.join(titles) + ' |')
  print('|' + ' --- |' * len(titles))
  for row in rows:
    print('| ' + ' | '.join(row) + ' |')


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
  rows, throughput = [], []
  for i, size in enumerate(sizes):
    if i and not scale.fits(workdir, float(size), _FREE_FACTOR):
      continue
    row, measured = _case(workdir, size, modern_python, i == 0)
    rows.append(row)
    throughput = throughput or measured
  print(
      f'\nbaseline RSS: export process (python + TF 2.15 + the exporter'
      f' imported) {export_baseline:,.0f} MB; modern process (TF 2.21 +'
      f' Keras 3 imported) {modern_baseline:,.0f} MB. Export time includes'
      ' the ~3.5 s of Python and TF start-up; load time is `load()` alone.'
      ' Load average: 1, 5 and 15 minutes, after the case.\n'
  )
  _table(
      (
          'checkpoint',
          'largest tensor',
          'cp',
          'export',
          'load()',
          'load(compile=True)',
          'load average',
      ),
      rows,
  )
  if throughput:
    print(f'\nPrediction at {sizes[0]} GB, rows/s:\n')
    _table(
        (
            'model (TF 2.21 unless said)',
            'batch 1',
            'batch 1024',
            'load average',
        ),
        throughput,
    )


if __name__ == '__main__':
  app.run(main)
