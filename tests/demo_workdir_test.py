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


def _tree(root: str) -> dict[str, bytes | str]:
  """Every entry below `root`: file contents, symlink targets, directories."""
  out = {}
  for directory, names, files in os.walk(root):
    for name in names + files:
      path = os.path.join(directory, name)
      relative = os.path.relpath(path, root)
      if os.path.islink(path):
        out[relative] = 'link:' + os.readlink(path)
      elif os.path.isdir(path):
        out[relative] = 'dir'
      else:
        with open(path, 'rb') as f:
          out[relative] = f.read()
  return out


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

  @parameterized.named_parameters(
      ('parent', '..'),
      ('itself', '.'),
      ('empty', ''),
      ('absolute', '/ABS'),
      ('up_and_over', '../sibling'),
      ('below_a_symlink', 'link/kept'),
      ('not_a_string', 7),
  )
  def test_a_marker_naming_what_is_not_an_entry_removes_nothing(self, name):
    parent = self.create_tempdir().full_path
    outside = os.path.join(parent, 'sibling')
    _write(os.path.join(outside, 'kept'), 'mine')
    path = os.path.join(parent, 'work')
    workdir.claim(path, _OUTPUTS)
    _write(os.path.join(path, 'model', 'ckpt'))
    os.symlink(outside, os.path.join(path, 'link'))
    if name == '/ABS':
      name = outside
    _write(
        os.path.join(path, workdir.MARKER),
        json.dumps({'outputs': ['model', 'link', name]}),
    )
    before = _tree(parent)
    with self.assertRaisesRegex(
        workdir.WorkdirError, rf'{workdir.MARKER} lists .*nothing was removed'
    ):
      workdir.claim(path, _OUTPUTS)
    self.assertEqual(_tree(parent), before)

  def test_a_workdir_reached_by_symlink_keeps_its_parent(self):
    parent = self.create_tempdir().full_path
    real = os.path.join(parent, 'real')
    workdir.claim(real, _OUTPUTS)
    _write(os.path.join(parent, 'kept'), 'mine')
    link = os.path.join(self.create_tempdir().full_path, 'link')
    os.symlink(real, link)
    _write(os.path.join(real, workdir.MARKER), json.dumps({'outputs': ['..']}))
    before = _tree(parent)
    with self.assertRaisesRegex(workdir.WorkdirError, 'nothing was removed'):
      workdir.claim(link, _OUTPUTS)
    self.assertEqual(_tree(parent), before)

  def test_a_symlinked_output_is_removed_not_followed(self):
    parent = self.create_tempdir().full_path
    outside = os.path.join(parent, 'outside')
    _write(os.path.join(outside, 'kept'), 'mine')
    path = os.path.join(parent, 'work')
    workdir.claim(path, _OUTPUTS)
    os.symlink(outside, os.path.join(path, 'model'))
    workdir.claim(path, _OUTPUTS)
    self.assertEqual(os.listdir(path), [workdir.MARKER])
    self.assertEqual(os.listdir(outside), ['kept'])

  # Every name resolves inside this test's own temporary directory, so that
  # even a broken `remove` cannot reach anything else.
  @parameterized.named_parameters(
      ('parent', '..'), ('itself', '.'), ('empty', ''), ('absolute', '/ABS')
  )
  def test_remove_checks_every_name_before_removing_any(self, name):
    parent = self.create_tempdir().full_path
    path = os.path.join(parent, 'work')
    _write(os.path.join(path, 'model', 'ckpt'))
    _write(os.path.join(parent, 'sibling', 'kept'), 'mine')
    if name == '/ABS':
      name = os.path.join(parent, 'sibling')
    before = _tree(parent)
    with self.assertRaisesRegex(workdir.WorkdirError, 'nothing was removed'):
      workdir.remove(path, ['model', name])
    self.assertEqual(_tree(parent), before)

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
