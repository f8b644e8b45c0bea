"""Runs Python in the modern environment (current TensorFlow, Keras 3).

The toolkit runs on TF 2.15; an export is proven where it will be used, in a
second environment reached only through a subprocess. Its interpreter is
`$ESTIMATOR_MIGRATE_MODERN_PYTHON`, else `.venv-modern/bin/python` in the
current directory or beside this package's checkout.
"""

import json
import os
import subprocess

from estimator_migrate import errors

ENV_VAR = 'ESTIMATOR_MIGRATE_MODERN_PYTHON'
_RESULT = 'ESTIMATOR_MIGRATE_RESULT='


def find_python() -> str:
  """The modern environment's interpreter.

  Raises:
    MigrationError: None found; says how to create one.
  """
  candidates = []
  if os.environ.get(ENV_VAR):
    candidates.append(os.environ[ENV_VAR])
  repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
  for root in (os.getcwd(), repo):
    candidates.append(os.path.join(root, '.venv-modern', 'bin', 'python'))
  for path in candidates:
    if os.path.isfile(path) and os.access(path, os.X_OK):
      return path
  raise errors.MigrationError(
      f'no modern environment: tried {candidates}. Run `make .venv-modern`'
      f' (TensorFlow 2.21 from requirements-modern.lock) or set {ENV_VAR}'
      ' to its python.'
  )


def run(script: str, *args: str, timeout: float = 600):
  """Runs `script` in the modern env; returns the JSON it reports.

  The script prints one line `ESTIMATOR_MIGRATE_RESULT=<json>`
  (`result_line` makes it).

  Raises:
    MigrationError: The script failed; the message holds its stderr tail.
  """
  python = find_python()
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('PYTHONPATH', None)  # the TF 2.15 tree must not shadow Keras 3
  completed = subprocess.run(
      [python, '-c', script, *args],
      capture_output=True,
      text=True,
      env=env,
      timeout=timeout,
      check=False,
  )
  for line in completed.stdout.splitlines():
    if line.startswith(_RESULT) and completed.returncode == 0:
      return json.loads(line[len(_RESULT) :])
  raise errors.MigrationError(
      f'the modern environment ({python}) failed with exit code'
      f' {completed.returncode}: {completed.stderr[-3000:]}'
  )


# Python source for the modern env: imports an export's own model.py.
LOAD_EXPORT = """
import importlib.util, json, os, sys
import numpy as np
sys.dont_write_bytecode = True  # no __pycache__ inside the export


def load_export(directory, index):
  spec = importlib.util.spec_from_file_location(
      f'exported_{index}', os.path.join(directory, 'model.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
"""


def result_line(name: str = 'result') -> str:
  """Python source printing the JSON of variable `name` for `run`."""
  return f'print({_RESULT!r} + __import__("json").dumps({name}))'
