r"""Migrates a TF 1.x project end to end on the embedded data and shows the proof.

Trains two models as TF 1.x code wrote them: a v1 canned
DNNLinearCombinedClassifier (Adam on the DNN, Ftrl on the linear part, an
input_layer_partitioner) and a custom model_fn built from tf.compat.v1.layers
(the migration guide's CNN, BatchNorm and l2). Migrates each with the
toolkit: the canned one with translate_canned_args and
convert_optimizer_checkpoint, the custom one as a Keras model through
make_model_fn with its weights carried by the checkpoint assignment map.
Then continues the TF1 originals and the migrated models for the same steps
on the same batches, and compares accuracy, loss, weights and speed.

Writes report.md, loss_curves.png and the Estimators' TensorBoard event files
into --workdir. Exits 1 if a migrated model diverges from its original
beyond the tolerance, 2 on bad input.

Example:
  make demo
  bazel run //estimator_migrate/cli:demo -- --workdir=/tmp/demo --steps=300
  estimator-migrate-demo --workdir=/tmp/demo
"""

from collections.abc import Sequence
import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from estimator_migrate import console
from estimator_migrate import data
from estimator_migrate import errors
from estimator_migrate.demo import run

_WORKDIR = flags.DEFINE_string(
    'workdir',
    None,
    'Where model_dirs, report and plot go (default: a new'
    ' temporary directory).',
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
    'TFDS image data set; the default is embedded.',
)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'TFDS data directory.')
_REPORT = flags.DEFINE_string(
    'report', None, 'Markdown report path (default workdir/report.md).'
)
_PERTURB_LR = flags.DEFINE_float(
    'perturb_lr',
    1.0,
    "Multiplies the migrated canned model's DNN learning"
    ' rate; anything but 1 makes it diverge, to show the check works.',
)


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  tf.get_logger().setLevel('ERROR')
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix='estimator_migrate_demo_')
  began = time.perf_counter()

  def progress(line: str) -> None:
    print(f'[{time.perf_counter() - began:6.1f}s] {line}', flush=True)

  try:
    result = run.run_demo(
        workdir,
        steps=_STEPS.value,
        dataset=_DATASET.value,
        data_dir=_DATA_DIR.value,
        perturb_lr=_PERTURB_LR.value,
        progress=progress,
    )
  except errors.MigrationError as e:
    logging.error('%s', e)
    return 2
  report_path = _REPORT.value or os.path.join(workdir, 'report.md')
  with tf.io.gfile.GFile(report_path, 'w') as f:
    f.write(result.markdown())
  print()
  print(result.summary())
  print()
  print(f'report: {report_path}')
  print(f'loss curves: {result.plot_path}')
  print(f'TensorBoard: tensorboard --logdir {workdir}')
  if not result.ok:
    for model in result.models:
      for problem in model.problems():
        print(f'DIVERGED: {problem}')
    return 1
  print(
      f'every migrated model is within tolerance'
      f' ({time.perf_counter() - began:.0f} s)'
  )
  return 0


def run_main() -> None:
  """Console-script entry point."""
  console.run(main, __name__)


if __name__ == '__main__':
  run_main()
