"""Tests of the estimator-migrate-export binary, run as its user runs it."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests import testing

_BINARY = 'estimator_migrate/cli/export.py'
_CONFIG = """
import tensorflow as tf


def kwargs():
  fc = tf.feature_column
  word = fc.categorical_column_with_vocabulary_list('word', ['a', 'b'])
  return dict(
      hidden_units=[3],
      feature_columns=[
          fc.numeric_column('x', shape=(2,)),
          fc.embedding_column(word, 2),
      ],
  )


def three_classes():
  return dict(kwargs(), n_classes=3)
"""


class ExportBinaryTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = absltest.get_default_test_tmpdir()
    cls.root = os.path.join(root, 'export_cli')
    os.makedirs(cls.root, exist_ok=True)
    cls.config = os.path.join(cls.root, 'config.py')
    with open(cls.config, 'w') as f:
      f.write(_CONFIG)
    namespace = {}
    exec(_CONFIG, namespace)  # noqa: S102 (the test's own config)
    cls.model_dir = os.path.join(cls.root, 'model')
    features = {
        'x': np.ones((4, 2), np.float32),
        'word': np.array([['a'], ['b'], [''], ['c']]),
    }

    def input_fn():
      dataset = tf.data.Dataset.from_tensor_slices((features, [0, 1, 0, 1]))
      return dataset.batch(2).repeat()

    estimator = tf.estimator.DNNClassifier(
        model_dir=cls.model_dir, **namespace['kwargs']()
    )
    estimator.train(input_fn, steps=2)

  def _flags(self, **overrides):
    values = {
        'estimator': 'DNNClassifier',
        'model_dir': self.model_dir,
        'config': f'{self.config}:kwargs',
        'target': os.path.join(self.create_tempdir().full_path, 'keras'),
    }
    values.update(overrides)
    return [f'--{k}={v}' for k, v in values.items()]

  def test_exports_directory(self):
    target = os.path.join(self.create_tempdir().full_path, 'keras')
    result = testing.run_binary(
        _BINARY, *self._flags(target=target), '--saved_model'
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertCountEqual(
        os.listdir(target),
        [
            'model.py',
            'spec.json',
            'weights.npz',
            'report.md',
            'integrity.json',
            'saved_model',
        ],
    )
    self.assertTrue(
        os.path.exists(os.path.join(target, 'saved_model', 'saved_model.pb'))
    )
    self.assertIn('dnn/logits/kernel', result.stdout)
    self.assertEqual(
        sorted(os.listdir(os.path.dirname(target))), ['keras']
    )  # no temporary left

  @parameterized.named_parameters(
      ('bad_config', {'config': 'no_such_module_xyz:kwargs'}, '--config'),
      ('unsupported_column', {'estimator': 'LinearClassifier'}, 'word_emb'),
  )
  def test_bad_input_exits_2(self, overrides, expected):
    result = testing.run_binary(_BINARY, *self._flags(**overrides))
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn(expected, result.stderr)
    self.assertNotIn('Traceback', result.stderr)

  def test_other_model_exits_2(self):
    result = testing.run_binary(
        _BINARY, *self._flags(config=f'{self.config}:three_classes')
    )
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn('dnn/logits/bias is [1], expected [3]', result.stderr)

  def test_non_empty_target_exits_2(self):
    target = self.create_tempdir()
    target.create_file('keep.txt')
    result = testing.run_binary(_BINARY, *self._flags(target=target.full_path))
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn('--target', result.stderr)
    self.assertEqual(os.listdir(target.full_path), ['keep.txt'])


if __name__ == '__main__':
  absltest.main()
