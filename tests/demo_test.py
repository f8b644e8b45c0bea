"""The demo binary refuses bad input as its user sees it.

Its normal runs (three in one workdir) are demo_rerun_test's.
"""

import os

from absl.testing import absltest
from absl.testing import parameterized

from tests import demo_testing
from tests import testing


class BadInputTest(parameterized.TestCase):

  def _assert_one_line(self, result, *expected: str):
    self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
    lines = demo_testing.stderr_lines(result.stderr)
    self.assertLen(lines, 1, result.stderr)
    for text in expected:
      self.assertIn(text, lines[0])

  @parameterized.named_parameters(
      ('a_file', lambda d: d.create_file('f').full_path, 'is a file'),
      (
          'under_a_file',
          lambda d: os.path.join(d.create_file('f').full_path, 'w'),
          'cannot be created',
      ),
      ('read_only_filesystem', lambda d: '/proc/demo', 'cannot be created'),
      (
          'foreign_files',
          lambda d: os.path.dirname(d.create_file('mine.txt').full_path),
          'mine.txt',
      ),
  )
  def test_bad_workdir(self, make_workdir, says):
    workdir = make_workdir(self.create_tempdir())
    before = sorted(os.listdir(workdir)) if os.path.isdir(workdir) else None
    self._assert_one_line(
        demo_testing.run(f'--workdir={workdir}'), '--workdir=', says
    )
    if before is not None:
      self.assertEqual(sorted(os.listdir(workdir)), before)

  @parameterized.named_parameters(
      ('unknown_flag', ('--no_such_flag=1',), 'no_such_flag'),
      ('malformed_steps', ('--steps=ten',), 'steps'),
      ('positional', ('extra',), 'extra'),
  )
  def test_usage_error(self, args, says):
    workdir = self.create_tempdir().full_path
    self._assert_one_line(demo_testing.run(f'--workdir={workdir}', *args), says)

  def test_unprepared_dataset_exits_2_without_traceback(self):
    testing.assert_unprepared_dataset_fails(self, demo_testing.BINARY)


if __name__ == '__main__':
  absltest.main()
