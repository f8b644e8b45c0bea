"""Runs the train_keras binary as its user does."""

from absl.testing import absltest

from tests import testing

_BINARY = 'estimator_migrate/cli/train_keras.py'


class TrainKerasBinaryTest(absltest.TestCase):

  def test_each_loop_prints_epochs_and_summary(self):
    for loop in ('fit', 'train_on_batch', 'custom'):
      with self.subTest(loop=loop):
        result = testing.run_binary(
            _BINARY,
            f'--loop={loop}',
            '--epochs=2',
            '--steps_per_epoch=3',
            f'--data_dir={testing.tfds_dir()}',
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('epoch 2: loss', result.stdout)
        self.assertIn(f'loop={loop} epochs=2 final', result.stdout)

  def test_unprepared_dataset_exits_2_without_traceback(self):
    testing.assert_unprepared_dataset_fails(self, _BINARY)

  def test_bad_loop_flag_is_named(self):
    result = testing.run_binary(_BINARY, '--loop=keras_fit')
    self.assertEqual(result.returncode, 2)  # bad input: one line, exit 2
    self.assertIn('--loop', result.stderr)

  def test_help_explains(self):
    result = testing.run_binary(_BINARY, '--help')
    # --help prints to stdout and exits 0 (console turns absl's 1 into 0).
    self.assertEqual(result.returncode, 0)
    self.assertIn('three TF2 loops', result.stdout)
    self.assertIn('--steps_per_epoch', result.stdout)


if __name__ == '__main__':
  absltest.main()
