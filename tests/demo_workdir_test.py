"""Tests of the demo's workdir: marked, replaced on a rerun, never foreign."""

import json
import os

from absl.testing import absltest
from absl.testing import parameterized

from estimator_migrate.demo import workdir

_OUTPUTS = ('model', 'report.md')


def _write(path: str, text: str = 'x') -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(text)


class ClaimTest(parameterized.TestCase):

  def test_new_directory_is_created_and_marked(self):
    path = os.path.join(self.create_tempdir().full_path, 'a', 'b')
    workdir.claim(path, _OUTPUTS)
    self.assertEqual(os.listdir(path), [workdir.MARKER])
    with open(os.path.join(path, workdir.MARKER), encoding='utf-8') as f:
      self.assertEqual(json.load(f), {'outputs': sorted(_OUTPUTS)})

  def test_rerun_removes_the_previous_outputs_only(self):
    path = self.create_tempdir().full_path
    workdir.claim(path, _OUTPUTS)
    _write(os.path.join(path, 'model', 'ckpt'))
    _write(os.path.join(path, 'report.md'))
    workdir.claim(path, _OUTPUTS)
    self.assertEqual(os.listdir(path), [workdir.MARKER])

  def test_outputs_of_an_unfinished_run_are_replaced(self):
    path = self.create_tempdir().full_path
    workdir.claim(path, _OUTPUTS)
    _write(os.path.join(path, 'model', 'half'))  # then killed
    workdir.claim(path, _OUTPUTS)
    self.assertEqual(os.listdir(path), [workdir.MARKER])

  def test_an_unmarked_earlier_demo_output_is_recognized(self):
    path = self.create_tempdir().full_path
    _write(os.path.join(path, 'report.md'), '# estimator_migrate demo\n\n|')
    _write(os.path.join(path, 'model', 'ckpt'))
    workdir.claim(path, _OUTPUTS)
    self.assertEqual(os.listdir(path), [workdir.MARKER])

  @parameterized.named_parameters(
      ('unmarked', False, 'notes.txt'),
      ('marked', True, 'notes.txt'),
      ('unmarked_report_of_someone_else', False, 'report.md'),
  )
  def test_foreign_files_are_refused_and_kept(self, marked, name):
    path = self.create_tempdir().full_path
    if marked:
      workdir.claim(path, _OUTPUTS)
    _write(os.path.join(path, name), 'mine')
    before = sorted(os.listdir(path))
    with self.assertRaisesRegex(
        workdir.WorkdirError, rf'workdir={path} holds .*{name}'
    ):
      workdir.claim(path, _OUTPUTS)
    self.assertEqual(sorted(os.listdir(path)), before)

  @parameterized.named_parameters(
      ('not_json', 'outputs: all'),
      ('escapes', json.dumps({'outputs': ['../elsewhere']})),
  )
  def test_a_bad_marker_is_refused(self, text):
    path = self.create_tempdir().full_path
    _write(os.path.join(path, workdir.MARKER), text)
    with self.assertRaisesRegex(workdir.WorkdirError, workdir.MARKER):
      workdir.claim(path, _OUTPUTS)

  def test_a_file_is_refused(self):
    path = self.create_tempdir().create_file('f').full_path
    with self.assertRaisesRegex(workdir.WorkdirError, 'is a file'):
      workdir.claim(path, _OUTPUTS)

  def test_a_directory_under_a_file_is_refused(self):
    path = self.create_tempdir().create_file('f').full_path
    with self.assertRaisesRegex(workdir.WorkdirError, 'cannot be created'):
      workdir.claim(os.path.join(path, 'w'), _OUTPUTS)


if __name__ == '__main__':
  absltest.main()
