"""Runs convert_checkpoint and inspect_checkpoint as their users do."""

import io
import json
import os
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.cli import convert_checkpoint
from tests import canned_harness
from tests import conversion_paths
from tests import testing

_CONVERT = 'estimator_migrate/cli/convert_checkpoint.py'
_INSPECT = 'estimator_migrate/cli/inspect_checkpoint.py'


class CheckpointBinariesTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model_dir = os.path.join(absltest.get_default_test_tmpdir(), 'v1')
    tf.compat.v1.estimator.DNNLinearCombinedClassifier(
        model_dir=cls.model_dir,
        dnn_hidden_units=[2],
        dnn_feature_columns=canned_harness.dense_columns(),
        linear_feature_columns=canned_harness.sparse_columns(),
        n_classes=canned_harness.N_CLASSES,
        dnn_optimizer=tf.compat.v1.train.AdamOptimizer(0.01),
    ).train(canned_harness.make_input_fn('Classifier', True), steps=2)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_convert_prints_summary_and_writes_report(self, path):
    out = self.create_tempdir().full_path
    result = testing.run_binary(
        _CONVERT,
        f'--source={self.model_dir}',
        f'--target={out}/model.ckpt-2',
        f'--report={out}/report.json',
        f'--path={path}',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn('estimator: dnn_linear_combined', result.stdout)
    self.assertIn('(verified)', result.stdout)
    self.assertNotIn('MB/s', result.stderr)  # a short run prints no progress
    with open(f'{out}/report.json') as f:
      report = json.load(f)
    self.assertEqual(set(report['optimizers']), {'dnn', 'linear'})
    self.assertEqual(report['path'], path)
    self.assertIn(
        'path: zero-copy (' if path == 'zero_copy' else 'path: streamed',
        result.stdout,
    )
    self.assertTrue(os.path.exists(f'{out}/checkpoint'))

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_optimizer_flag_overrides_the_graph(self, path):
    out = self.create_tempdir().full_path
    result = testing.run_binary(
        _CONVERT,
        f'--source={self.model_dir}',
        f'--target={out}/m',
        '--optimizer=dnn=Adam:0.01',
        '--optimizer=linear=Ftrl:0.005',
        f'--path={path}',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn('Ftrl(learning_rate=0.005', result.stdout)

  def test_missing_source_exits_2_naming_the_file(self):
    out = self.create_tempdir().full_path
    result = testing.run_binary(
        _CONVERT, f'--source={out}/nothing', f'--target={out}/v2/m'
    )
    self.assertEqual(result.returncode, 2)
    self.assertIn(f'{out}/nothing.index', result.stderr)
    self.assertNotIn('Traceback', result.stderr)
    self.assertFalse(os.path.exists(f'{out}/v2/m.index'))

  def test_bad_optimizer_flag_is_a_usage_error(self):
    result = testing.run_binary(
        _CONVERT, '--source=a', '--target=b', '--optimizer=dnn=Lamb:0.1'
    )
    self.assertEqual(result.returncode, 2)
    self.assertIn("'Lamb' is not a name", result.stderr)
    self.assertNotIn('Traceback', result.stderr)
    self.assertNotIn('--chunk_mb', result.stderr)  # no flag help dumped

  def test_required_flags(self):
    result = testing.run_binary(_CONVERT)
    self.assertEqual(result.returncode, 2)
    self.assertIn('--source', result.stderr)

  def test_progress_after_the_first_second_at_most_once_a_second(self):
    now = [0.0]
    out = io.StringIO()
    progress = convert_checkpoint._Progress(clock=lambda: now[0], out=out)
    for t, done in ((0.5, 10), (0.9, 20), (1.2, 30), (1.5, 40), (2.3, 50)):
      now[0] = t
      progress(done * 1_000_000, 100_000_000)
    now[0] = 2.4
    progress(100_000_000, 100_000_000)  # the end is always shown
    self.assertEqual(
        out.getvalue().splitlines(),
        [
            '  30.0 / 100.0 MB (30%), 25 MB/s',
            '  50.0 / 100.0 MB (50%), 22 MB/s',
            '  100.0 / 100.0 MB (100%), 42 MB/s',
        ],
    )

  def test_console_script_help_shows_the_module(self):
    # pip's wrapper is __main__ and argv[0]: what a console script sees.
    code = (
        'import sys; sys.argv = ["estimator-migrate-inspect", "--help"];'
        ' from estimator_migrate.cli import inspect_checkpoint;'
        ' inspect_checkpoint.run()'
    )
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=testing.REPO_ROOT),
        check=False,
    )
    self.assertIn('Lists a checkpoint', result.stdout)
    self.assertIn('--source: Checkpoint prefix or model_dir.', result.stdout)

  def test_inspect_groups_roles(self):
    result = testing.run_binary(_INSPECT, f'--source={self.model_dir}')
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn('| slot | Adam |', result.stdout)
    self.assertIn('| power | Adam | head/beta1_power |', result.stdout)
    self.assertIn('| step |', result.stdout)
    self.assertIn('model:', result.stdout)


if __name__ == '__main__':
  absltest.main()
