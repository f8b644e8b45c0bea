r"""Converts a TF1 canned-estimator checkpoint for v2 (Keras-optimizer) estimators.

Model weights are copied bit for bit; v1 optimizer slots become the Keras
optimizer's slots; the optimizer's hyperparameters are read from the v1 graph
saved beside the checkpoint (.meta, or graph.pbtxt) and translated exactly as
the canned-argument translation does. The source is only read; the target
is written under a temporary name, moved into place when complete and
verified, and its directory can be used as the v2 estimator's model_dir.
Large tensors are streamed slice by slice (--chunk_mb), so memory stays flat
whatever the checkpoint's size.

Two paths give the same checkpoint (--path; the summary says which ran):
  zero_copy  the source's data files are brought over unchanged and a new
             index renames their tensors; only new and changed tensors
             (hyperparameters, Momentum's slot) are written, into one more
             data file. The files come over by hard link with --link, else
             by kernel copy (copy_file_range), else by a streamed copy.
  stream     every tensor is read, checked and written anew.
  auto       (default) zero_copy when it can run and the tensors it keeps
             unchanged are at least half of the source's bytes (or --link
             is given), else stream.
--link makes the target's data files hard links to the source's (same
filesystem, local files): nothing is copied, and the two checkpoints share
those files. Deleting either checkpoint is safe; neither TensorFlow nor
this tool ever writes into an existing data file, but anything that edits
one in place would change both.

Example:
  bazel run //estimator_migrate/cli:convert_checkpoint -- \
      --source=/models/v1 --target=/models/v2/model.ckpt-5000
  estimator-migrate-convert --source=/models/v1/model.ckpt-5000 \
      --target=/models/v2/model.ckpt-5000 --report=/models/v2/report.json
  estimator-migrate-convert --source=/models/v1 \
      --target=/models/v2/model.ckpt-5000 --link      # no data copied
"""

from collections.abc import Callable, Sequence
import math
import os
import sys
import time
from typing import Any

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import convert
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import roles
from estimator_migrate.tables import optimizers

_SOURCE = flags.DEFINE_string(
    'source', None, 'v1 checkpoint prefix or model_dir (read only).'
)
_TARGET = flags.DEFINE_string(
    'target',
    None,
    'v2 checkpoint prefix to write; its directory is the v2 model_dir.',
)
_ESTIMATOR_TYPE = flags.DEFINE_enum(
    'estimator_type',
    'auto',
    ('auto',) + roles.ESTIMATOR_TYPES,
    'Canned estimator family; auto reads it from the variable names.',
)
_SOURCE_GRAPH = flags.DEFINE_string(
    'source_graph',
    None,
    'Graph to read the optimizers from (.meta, .pbtxt,'
    ' .pb); default: <source>.meta, else graph.pbtxt beside it.',
)
_OPTIMIZER = flags.DEFINE_multi_string(
    'optimizer',
    [],
    "PART=NAME:LR overrides a part's optimizer instead of"
    f' reading the graph; NAME is one of {sorted(optimizers.CANNED_STRINGS)},'
    ' e.g. --optimizer=dnn=Adam:0.01. Repeat per part.',
)
_EXACT = flags.DEFINE_bool(
    'exact',
    False,
    'Target the v1-exact compat optimizers (RMSPropV1,'
    ' MomentumV1, AdagradV1); the v2 estimator must use them too.',
)
_CHUNK_MB = flags.DEFINE_float(
    'chunk_mb',
    64,
    'Largest block held in memory, in MiB.',
    lower_bound=1 / (1 << 20),  # one byte
)
_OVERWRITE = flags.DEFINE_bool(
    'overwrite', False, 'Replace an existing target checkpoint.'
)
_VERIFY = flags.DEFINE_bool(
    'verify', True, 'Re-read the target and check every block.'
)
_PATH = flags.DEFINE_enum(
    'path',
    'auto',
    convert.PATHS,
    'zero_copy: bring the data files over, write a new index; stream:'
    ' rewrite every tensor; auto: zero_copy where it pays (see above).',
)
_LINK = flags.DEFINE_bool(
    'link',
    False,
    'Zero-copy path: hard-link the source data files instead of copying'
    ' them (source and target then share those files).',
)
_REPORT = flags.DEFINE_string(
    'report', None, 'Also write the report as JSON to this path.'
)


def _parse_optimizers(values: Sequence[str]) -> dict[str, Any]:
  parsed = {}
  for value in values:
    part, _, spec = value.partition('=')
    name, _, rate = spec.partition(':')
    if not part or not name or not rate:
      raise app.UsageError(
          f'--optimizer={value!r}: expected PART=NAME:LR, e.g. dnn=Adam:0.01.'
      )
    if part in parsed:
      raise app.UsageError(
          f'--optimizer gives part {part!r} twice; give each part once.'
      )
    try:
      parsed[part] = optimizers.v1_optimizer_from_string(
          name, learning_rate=float(rate)
      )
    except (ValueError, errors.TranslationError) as e:
      raise app.UsageError(f'--optimizer={value!r}: {e}') from e
  return parsed


def _check_report_path(path: str) -> None:
  """Fails before converting if the report could not be written after."""
  directory = os.path.dirname(path) or '.'
  if tf.io.gfile.isdir(path):
    raise app.UsageError(f'--report={path} is a directory; give a file path.')
  if not tf.io.gfile.isdir(directory) or (
      files.is_local(directory) and not os.access(directory, os.W_OK)
  ):
    raise app.UsageError(
        f'--report={path}: {directory} is not a writable directory.'
    )


def _write_report(path: str, text: str) -> None:
  """Writes under a temporary name, then renames: never a partial report."""
  partial = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(partial, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(partial, path, overwrite=True)


class _Progress:
  """Prints bytes done, percentage and rate at most once a second.

  Quiet for the first second, so a short conversion prints no progress.
  """

  def __init__(
      self, clock: Callable[[], float] = time.perf_counter, out=None
  ) -> None:
    self._clock = clock
    self._out = out or sys.stderr
    self._began = clock()
    self._last = self._began

  def __call__(self, done: int, total: int) -> None:
    now = self._clock()
    started = self._last != self._began
    if now - self._last < 1.0 and (done < total or not started):
      return
    self._last = now
    rate = done / max(now - self._began, 1e-9) / 1e6
    print(
        f'  {done / 1e6:,.1f} / {total / 1e6:,.1f} MB'
        f' ({100 * done / max(total, 1):.0f}%), {rate:,.0f} MB/s',
        file=self._out,
        flush=True,
    )


# The library names its arguments; users of this binary know flags.
_ARGUMENTS = console.ArgumentFlags.of(
    'source',
    'target',
    'source_graph',
    'estimator_type',
    'path',
    optimizers='optimizer',
    special={
        'overwrite': ((r'\boverwrite=True', '--overwrite'),),
        'link': ((r'\blink=True', '--link'),),
        'optimizers': (
            (r'\boptimizers=\{"(\w+)": \.\.\.\}', r'--optimizer=\1=NAME:LR'),
        ),
    },
)


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  tf.get_logger().setLevel('ERROR')
  given = _parse_optimizers(_OPTIMIZER.value)
  if not math.isfinite(_CHUNK_MB.value):
    raise app.UsageError(f'--chunk_mb={_CHUNK_MB.value}: give a finite size.')
  if _REPORT.value:
    _check_report_path(_REPORT.value)
  try:
    report = convert.convert_optimizer_checkpoint(
        _SOURCE.value,
        _TARGET.value,
        estimator_type=_ESTIMATOR_TYPE.value,
        optimizers=given or None,
        source_graph=_SOURCE_GRAPH.value,
        exact=_EXACT.value,
        chunk_bytes=int(_CHUNK_MB.value * (1 << 20)),
        overwrite=_OVERWRITE.value,
        verify=_VERIFY.value,
        progress=_Progress(),
        path=_PATH.value,
        link=_LINK.value,
    )
  except errors.MigrationError as e:
    console.fail(_ARGUMENTS(e))
  if _REPORT.value:
    _write_report(_REPORT.value, report.to_json())
  print(report.summary())
  return 0


def run() -> None:
  """Console-script entry point."""
  flags.mark_flags_as_required([_SOURCE, _TARGET])
  console.run(main, __name__, arguments=_ARGUMENTS)


if __name__ == '__main__':
  run()
