"""Runs the demo binary as its user does, with few steps."""

import os

from absl.testing import absltest

from tests import testing

_BINARY = 'estimator_migrate/cli/demo.py'


class DemoTest(absltest.TestCase):

  def test_report_plot_and_success(self):
    workdir = self.create_tempdir().full_path
    result = testing.run_binary(
        _BINARY,
        f'--workdir={workdir}',
        '--steps=30',
        f'--data_dir={testing.tfds_dir()}',
    )
    self.assertEqual(
        result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:]
    )
    self.assertIn('canned: converting the checkpoint', result.stdout)
    self.assertIn('within tolerance', result.stdout)
    with open(os.path.join(workdir, 'report.md')) as f:
      report = f.read()
    self.assertIn('| canned DNNLinearCombinedClassifier |', report)
    self.assertIn('| dnn_optimizer |', report)  # the change table
    self.assertIn('ok: every migrated model is within tolerance', report)
    with open(os.path.join(workdir, 'loss_curves.png'), 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')
    self.assertNotEmpty(
        [
            name
            for name in os.listdir(os.path.join(workdir, 'canned', 'migrated'))
            if name.startswith('events.out.tfevents')
        ]
    )

  def test_divergence_exits_1(self):
    workdir = self.create_tempdir().full_path
    result = testing.run_binary(
        _BINARY,
        f'--workdir={workdir}',
        '--steps=30',
        '--perturb_lr=100',
        f'--data_dir={testing.tfds_dir()}',
    )
    self.assertEqual(result.returncode, 1, result.stderr[-3000:])
    self.assertIn('DIVERGED: canned', result.stdout)

  def test_unprepared_dataset_exits_2_without_traceback(self):
    testing.assert_unprepared_dataset_fails(self, _BINARY)


if __name__ == '__main__':
  absltest.main()
