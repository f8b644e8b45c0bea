"""What every modern-environment script shares: loading an export, replying.

Runs only in the modern environment (current TensorFlow, Keras 3) and
imports nothing of the package: `estimator_migrate.export.modern` starts a
script of this folder with this folder on `sys.path`. A script reads its
jobs from `sys.argv` and ends with `reply(result)`, one line that the
TF 2.15 side reads back (`modern.run`).
"""

import importlib.util
import json
import os
import sys

# The prefix of the one line a script replies with; `modern.run` reads it.
RESULT = 'ESTIMATOR_MIGRATE_RESULT='


def load_export(directory, index):
  """The export's own model.py, imported as module `exported_<index>`."""
  sys.dont_write_bytecode = True  # no __pycache__ inside the export
  spec = importlib.util.spec_from_file_location(
      f'exported_{index}', os.path.join(directory, 'model.py')
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def reply(result):
  """Prints `result` (JSON) as the script's answer."""
  print(RESULT + json.dumps(result))
