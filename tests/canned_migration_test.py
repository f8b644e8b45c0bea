"""Runs the canned_migration example binary as its user does."""

import re

from absl.testing import absltest

from tests import testing

_BINARY = 'estimator_migrate/cli/canned_migration.py'


class CannedMigrationBinaryTest(absltest.TestCase):

  def test_prints_table_and_equal_metrics(self):
    result = testing.run_binary(
        _BINARY,
        '--estimator=DNNClassifier',
        '--optimizer=AdamOptimizer',
        '--steps=5',
        f'--data_dir={testing.tfds_dir()}',
        f'--model_dir={self.create_tempdir().full_path}',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('| optimizer | AdamOptimizer(', result.stdout)
    self.assertIn('| loss_reduction |', result.stdout)
    v1, v2 = re.search(
        r'average_loss\s+([\d.]+)\s+([\d.]+)', result.stdout
    ).groups()
    self.assertAlmostEqual(float(v1), float(v2), places=5)

  def test_unprepared_dataset_exits_2_without_traceback(self):
    testing.assert_unprepared_dataset_fails(self, _BINARY)


if __name__ == '__main__':
  absltest.main()
