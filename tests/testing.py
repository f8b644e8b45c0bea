"""Helpers shared by the tests: a TFDS directory and running binaries."""

import functools
import os
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def tfds_dir() -> str:
  """A TFDS data_dir for this test process, outside the user's home."""
  root = os.environ.get('TEST_TMPDIR') or tempfile.mkdtemp()
  path = os.path.join(root, 'tensorflow_datasets')
  os.makedirs(path, exist_ok=True)
  return path


def run_binary(
    relative_path: str, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess:
  """Runs a binary's source file as its user would, capturing its output."""
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, relative_path), *args],
      capture_output=True,
      text=True,
      env=env,
      cwd=REPO_ROOT,
      timeout=timeout,
      check=False,
  )


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
  test.assertNotIn('Traceback', result.stderr)
