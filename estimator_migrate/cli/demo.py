r"""Migrates a TF 1.x project end to end on the embedded data and shows the proof.

Trains two models as TF 1.x code wrote them: on the Palmer penguins table, a
v1 canned DNNLinearCombinedClassifier with feature columns (vocabularies,
buckets, a cross, an embedding; Adam on the DNN, Ftrl on the linear part, an
input_layer_partitioner); on the digit images, a custom model_fn built from
tf.compat.v1.layers (the migration guide's CNN, BatchNorm and l2). Migrates
each with the toolkit: the canned one with translate_canned_args and
convert_optimizer_checkpoint, the custom one as a Keras model through
make_model_fn with its weights carried by the checkpoint assignment map.
Then continues the TF1 originals (twice from the same checkpoint, to measure
run-to-run noise) and the migrated models for the same steps on the same
batches, with op determinism on, and compares accuracy, loss and weights
against that noise. Third act: exports the migrated canned model to Keras 3
(export.canned_to_keras, with a SavedModel), and in the modern environment
(TensorFlow 2.21: .venv-modern or $ESTIMATOR_MIGRATE_MODERN_PYTHON) checks
its predictions against the estimator's and trains it on beside the
estimator, weight for weight.

Writes report.md, loss_curves.png, the export (canned/keras3) and the
Estimators' TensorBoard event files into --workdir; a rerun replaces them, and a workdir holding anything else is
refused. Prints progress and the final table only; --verbosity=0 shows
TensorFlow's and TFDS's logs too. Exits 1 if a migrated model diverges from
its original beyond the tolerance, 2 on bad input.

Example:
  make demo
  bazel run //estimator_migrate/cli:demo -- --workdir=/tmp/demo --steps=300
  estimator-migrate-demo --workdir=/tmp/demo
"""

from collections.abc import Sequence
import os
import tempfile
import time
import warnings

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from estimator_migrate.demo import run
from estimator_migrate.guide import data

_WORKDIR = flags.DEFINE_string(
    'workdir',
    None,
    'Where model_dirs, report and plot go: a new or empty directory, or one'
    ' an earlier run wrote (its outputs are replaced). Default: a new'
    ' temporary directory.',
)
_STEPS = flags.DEFINE_integer(
    'steps',
    200,
    'Training steps before the migration, and again after it.',
    lower_bound=1,
)
_DATASET = flags.DEFINE_string(
    'dataset',
    data.DEFAULT_DATASET,
    'TFDS image data set of the custom model; the default is embedded (the'
    ' canned model always uses the embedded palmer_penguins).',
)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data directory.')
_REPORT = flags.DEFINE_string(
    'report',
    None,
    'A copy of the Markdown report (workdir/report.md is always written).',
)
_PERTURB_LR = flags.DEFINE_float(
    'perturb_lr',
    1.0,
    "Multiplies the migrated canned model's DNN learning"
    ' rate; anything but 1 makes it diverge, to show the check works.',
)
console.require_positive_finite(_PERTURB_LR)
# The library names its arguments (workdir=...); the user typed flags.
_ARGUMENTS = console.ArgumentFlags.of(
    'workdir', 'steps', 'dataset', 'data_dir', 'perturb_lr'
)


def _quiet() -> None:
  """Progress and the table only (errors too), unless --verbosity is given."""
  if flags.FLAGS['verbosity'].present:
    return
  logging.set_verbosity(logging.ERROR)
  tf.get_logger().setLevel('ERROR')
  # The TF1 project uses deprecated APIs on purpose; its warnings are noise.
  warnings.filterwarnings('ignore')


def _check_report(path: str) -> None:
  folder = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path) or not os.access(folder, os.W_OK):
    raise app.UsageError(
        f'--report={path} cannot be written; give a file path in a writable'
        ' directory.'
    )


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if _REPORT.value:
    _check_report(_REPORT.value)
  _quiet()
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='estimator_migrate_demo_')
  began = time.perf_counter()

  def progress(line: str) -> None:
    print(f'[{time.perf_counter() - began:6.1f}s] {line}', flush=True)

  result = run.run_demo(
      workdir,
      steps=_STEPS.value,
      dataset=_DATASET.value,
      data_dir=_DATA_DIR.value,
      perturb_lr=_PERTURB_LR.value,
      progress=progress,
  )
  report_path = os.path.join(result.workdir, 'report.md')
  if _REPORT.value:
    report_path = _REPORT.value
    with tf.io.gfile.GFile(report_path, 'w') as f:
      f.write(result.markdown())
  print()
  print(result.summary())
  print()
  print(f'report: {report_path}')
  print(f'loss curves: {result.plot_path}')
  print(f'TensorBoard: tensorboard --logdir {result.workdir}')
  if not result.ok:
    for problem in result.problems():
      print(f'DIVERGED: {problem}')
    return 1
  print(
      f'every migrated model is within tolerance'
      f' ({time.perf_counter() - began:.0f} s)'
  )
  return 0


def run_main() -> None:
  """Console-script entry point."""
  console.run(main, __name__, arguments=_ARGUMENTS)


if __name__ == '__main__':
  run_main()
