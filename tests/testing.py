"""Helpers shared by the tests: a TFDS directory, binaries, bounded waits."""

from collections.abc import Callable, Sequence
import functools
import os
import subprocess
import sys
import tempfile
import time
from typing import TypeVar

_T = TypeVar('_T')

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def tfds_dir() -> str:
  """A TFDS data_dir for this test process, outside the user's home."""
  root = os.environ.get('TEST_TMPDIR') or tempfile.mkdtemp()
  path = os.path.join(root, 'tensorflow_datasets')
  os.makedirs(path, exist_ok=True)
  return path


def run_binary(
    relative_path: str,
    *args: str,
    timeout: float = 600,
    cwd: str = REPO_ROOT,
    wrapper: Sequence[str] = (),
) -> subprocess.CompletedProcess:
  """Runs a binary's source file as its user would, capturing its output.

  Args:
    relative_path: The binary's source, relative to the repository.
    *args: Its command-line arguments.
    timeout: Seconds before the run is killed (and the test fails).
    cwd: Its working directory (relative paths are resolved from there).
    wrapper: A command that runs it, e.g. `('unshare', '-U')`.
  """
  # Level 3 hides TF's C++ start-up lines (CUDA factories), which are not
  # the binary's own output.
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='3')
  return subprocess.run(
      [
          *wrapper,
          sys.executable,
          os.path.join(REPO_ROOT, relative_path),
          *args,
      ],
      capture_output=True,
      text=True,
      env=env,
      cwd=cwd,
      timeout=timeout,
      check=False,
  )


def wait_until(
    predicate: Callable[[], _T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> _T:
  """Calls `predicate` every `interval` seconds until it returns a true value.

  A `predicate` may itself fail the wait early by raising (e.g. an assertion
  that the awaited process still runs).

  Args:
    predicate: Called at once, then after each `interval`.
    timeout: Seconds before the wait fails.
    what: What is awaited, for the failure message.
    interval: Seconds between calls.

  Returns:
    The first true value `predicate` returned.

  Raises:
    AssertionError: `timeout` passed first; the message names `what`.
  """
  deadline = time.monotonic() + timeout
  while True:
    value = predicate()
    if value:
      return value
    if time.monotonic() > deadline:
      raise AssertionError(f'timed out after {timeout:g} s waiting for {what}')
    time.sleep(interval)


def assert_unprepared_dataset_fails(test, relative_path: str, *args: str):
  """A data binary given an unprepared TFDS set exits 2 saying what to do."""
  result = run_binary(
      relative_path,
      '--dataset=mnist',
      f'--data_dir={test.create_tempdir().full_path}',
      *args,
  )
  test.assertEqual(result.returncode, 2, result.stderr[-2000:])
  test.assertIn('tfds build mnist', result.stderr)
  # The library's arguments, named as this binary's flags.
  test.assertIn(
      "pass --data_dir=DIR, or use --dataset='uci_digits'", result.stderr
  )
  test.assertNotIn('Traceback', result.stderr)
