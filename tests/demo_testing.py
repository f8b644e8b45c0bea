"""Running the demo binary as its user does, with few steps."""

import re
import subprocess

from tests import testing

BINARY = 'estimator_migrate/cli/demo.py'
_STEPS = '--steps=10'
# TensorFlow's C++ start-up lines, printed at import before any flag is read.
_TF_STARTUP = re.compile(r'^\d{4}-\d\d-\d\d [\d:.]+: [EWI] ')


def run(*args: str) -> subprocess.CompletedProcess:
  """The demo at 10 steps on this test process's TFDS directory."""
  return testing.run_binary(
      BINARY, _STEPS, f'--data_dir={testing.tfds_dir()}', *args
  )


def stderr_lines(stderr: str) -> list[str]:
  """The non-blank lines of `stderr` but TensorFlow's C++ start-up lines."""
  return [
      line
      for line in stderr.splitlines()
      if line.strip() and not _TF_STARTUP.match(line)
  ]
