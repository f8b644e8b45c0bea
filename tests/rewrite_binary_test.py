"""estimator-migrate-rewrite as its user runs it: trees, --in_place, --diff."""

import os
import shutil

from absl.testing import absltest

from tests import testing

_BINARY = 'estimator_migrate/cli/rewrite.py'
_CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')


def _snapshot(root: str) -> dict[str, str]:
  out = {}
  for directory, _, files in os.walk(root):
    for name in files:
      path = os.path.join(directory, name)
      with open(path) as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


class RewriteBinaryTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tree = os.path.join(self.create_tempdir().full_path, 'project')
    shutil.copytree(os.path.join(_CORPUS, 'before'), self.tree + '/trainer')
    with open(os.path.join(self.tree, 'README.txt'), 'w') as f:
      f.write('not Python')

  def test_tree_in_place_with_diff_and_report_then_nothing_to_do(self):
    report = os.path.join(self.create_tempdir().full_path, 'r.md')
    result = testing.run_binary(
        _BINARY, self.tree, '--in_place', '--diff', f'--report={report}'
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn(
        '+      loss_reduction=tf.keras.losses.Reduction.SUM,', result.stdout
    )
    self.assertIn('left unchanged', result.stderr)
    with open(report) as f:
      self.assertIn('trainer/dnn_classifier_partitioned.py:16', f.read())
    after = _snapshot(self.tree)
    for name in os.listdir(os.path.join(_CORPUS, 'after')):
      with open(os.path.join(_CORPUS, 'after', name)) as f:
        self.assertEqual(after[f'trainer/{name}'], f.read(), name)
    self.assertEqual(after['README.txt'], 'not Python')
    self.assertFalse([n for n in after if n.endswith('.tmp')])

    result = testing.run_binary(_BINARY, self.tree, '--in_place', '--diff')
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn(' 0 changed; 0 change(s)', result.stdout)
    self.assertEqual(_snapshot(self.tree), after)

  def test_to_keras_adds_the_exits(self):
    result = testing.run_binary(_BINARY, self.tree, '--in_place', '--to_keras')
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn('no Keras exit added', result.stderr)
    after = _snapshot(self.tree)
    for name in os.listdir(os.path.join(_CORPUS, 'after_to_keras')):
      with open(os.path.join(_CORPUS, 'after_to_keras', name)) as f:
        self.assertEqual(after[f'trainer/{name}'], f.read(), name)

  def test_bad_path_exits_2_with_one_line(self):
    missing = os.path.join(self.tree, 'nope.py')
    result = testing.run_binary(_BINARY, self.tree, missing)
    self.assertEqual(result.returncode, 2)
    self.assertIn(missing, result.stderr)
    self.assertNotIn('Traceback', result.stderr)
    # One line of ours (TensorFlow's C++ start-up lines are not ours).
    ours = [s for s in result.stderr.splitlines() if 'rewrite.py' in s]
    self.assertLen(ours, 1, result.stderr)


if __name__ == '__main__':
  absltest.main()
