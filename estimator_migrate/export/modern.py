"""Runs Python in the modern environment (current TensorFlow, Keras 3).

The toolkit runs on TF 2.15; an export is proven where it will be used, in a
second environment reached only through a subprocess. Its interpreter is
`$ESTIMATOR_MIGRATE_MODERN_PYTHON`, else `.venv-modern/bin/python` in the
current directory, beside the running interpreter's environment (`make`
lays out `<dir>/.venv` and `<dir>/.venv-modern`, so the installed console
scripts find it from any directory) or beside this package's checkout.

The subprocess dies with its parent: it asks the kernel for SIGKILL when
its parent exits (`PR_SET_PDEATHSIG`), first thing, and exits at once if
the parent is already gone; a killed export leaves no orphan writing into
its temporary directory.
"""

from collections.abc import Mapping, Sequence
import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

from estimator_migrate import errors
from estimator_migrate import keras3
from estimator_migrate.keras3 import jobs

ENV_VAR = 'ESTIMATOR_MIGRATE_MODERN_PYTHON'
_RESULT = jobs.RESULT


def find_python() -> str:
  """The modern environment's interpreter.

  Raises:
    MigrationError: None found; says how to create one.
  """
  candidates = []
  if os.environ.get(ENV_VAR):
    candidates.append(os.environ[ENV_VAR])
  repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
  for root in (os.getcwd(), os.path.dirname(sys.prefix), repo):
    candidate = os.path.join(root, '.venv-modern', 'bin', 'python')
    if candidate not in candidates:
      candidates.append(candidate)
  for path in candidates:
    if os.path.isfile(path) and os.access(path, os.X_OK):
      return path
  raise errors.MigrationError(
      f'no modern environment: tried {candidates}. Run `make .venv-modern`'
      f' (TensorFlow 2.21 from requirements-modern.lock) or set {ENV_VAR}'
      ' to its python.'
  )


# Runs first in the modern env: die with the parent (Linux), or now if the
# parent is already gone (it died before the request took effect).
_WATCH_PARENT = """
import ctypes, os, signal, sys
if sys.platform.startswith('linux'):
  ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
if os.getppid() != int(os.environ['ESTIMATOR_MIGRATE_PARENT_PID']):
  os._exit(70)
"""


def run(
    script: str,
    *args: str,
    what: str = 'running a script',
    advice: str = 'Check that the environment works.',
    advice_arguments: Sequence[str] = (),
    timeout: float = 600,
):
  """Runs `script` in the modern env; returns the JSON it reports.

  The script prints one line `ESTIMATOR_MIGRATE_RESULT=<json>`
  (`result_line` makes it). It is killed if this process dies.

  Args:
    script: Python source.
    *args: Its `sys.argv[1:]`.
    what: What the script does, for the error message (e.g. 'writing
      saved_model/').
    advice: What to do when it fails (the error says what failed).
    advice_arguments: The arguments `advice` names (`MigrationError`'s
      `argument`).
    timeout: Seconds before it is stopped.

  Raises:
    MigrationError: No modern environment, or the script failed: one line
      saying what failed (the last line of its stderr, or that it printed
      nothing) and what to do.
  """
  python = find_python()
  env = dict(
      os.environ,
      TF_CPP_MIN_LOG_LEVEL='2',
      ESTIMATOR_MIGRATE_PARENT_PID=str(os.getpid()),
  )
  env.pop('PYTHONPATH', None)  # the TF 2.15 tree must not shadow Keras 3
  try:
    completed = subprocess.run(
        [python, '-c', _WATCH_PARENT + script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
  except subprocess.TimeoutExpired as e:
    raise errors.MigrationError(
        f'{what} in the modern environment ({python}) did not finish in'
        f' {timeout:.0f} s and was stopped. Check that the environment'
        ' works, or rerun on a less busy machine.'
    ) from e
  except OSError as e:
    raise _broken(python, f'cannot be started ({e})') from e
  for line in completed.stdout.splitlines():
    if line.startswith(_RESULT) and completed.returncode == 0:
      return json.loads(line[len(_RESULT) :])
  lines = [line.strip() for line in completed.stderr.splitlines()]
  lines = [line for line in lines if line]
  if completed.returncode < 0:
    try:
      name = signal.Signals(-completed.returncode).name
    except ValueError:
      name = f'signal {-completed.returncode}'
    status = f'was killed by {name}'
  else:
    status = f'exited with code {completed.returncode}'
  if not lines:
    raise _broken(python, f'{status} while {what}, printing nothing')
  raise errors.MigrationError(
      f'{what} failed in the modern environment ({python}, which {status}):'
      f' {lines[-1].rstrip(".")}. {advice}',
      argument=advice_arguments,
  )


def _broken(python: str, what: str) -> errors.MigrationError:
  return errors.MigrationError(
      f"the modern environment's python ({python}) {what}: it is broken or"
      ' not a Python. Check that `'
      f'{python} -c "import keras"` works; recreate it with `make'
      f' .venv-modern`, or set {ENV_VAR} to a working one.'
  )


def run_file(name: str, *args: str, **kwargs) -> object:
  """Runs script `name` of `estimator_migrate/keras3/` as `run` runs source.

  The script runs as `__main__` with its folder on `sys.path` (so it can
  `import jobs`) and `sys.argv[1:]` = `args`; `kwargs` are `run`'s.
  """
  path = keras3.path(name)
  launcher = (
      'import runpy, sys\n'
      f'sys.path.insert(0, {os.path.dirname(path)!r})\n'
      f'sys.argv = [{path!r}, *sys.argv[1:]]\n'
      f"runpy.run_path({path!r}, run_name='__main__')\n"
  )
  return run(launcher, *args, **kwargs)


# In a job given to `run_jobs`: the path of an .npz the script writes.
OUTPUT = object()


def run_jobs(name: str, jobs: Sequence[Sequence[Any]], *args: str, **kwargs):
  """Runs script `name` over jobs whose arrays travel as .npz files.

  Each job is a sequence of values passed to the script as one JSON list: a
  mapping of arrays is written to a scratch .npz and passed as its path,
  `OUTPUT` becomes the path of a scratch .npz for the script to write, and
  any other value goes as it is. `args` and `kwargs` are `run_file`'s.

  Returns:
    The script's reply, where each output path it names is replaced by the
    arrays that file holds (a dict).
  """
  with tempfile.TemporaryDirectory() as scratch:
    outputs = set()

    def place(value, where):
      if value is OUTPUT:
        outputs.add(where)
        return where
      if isinstance(value, Mapping):
        np.savez(where, **{k: np.asarray(v) for k, v in value.items()})
        return where
      return value

    specs = [
        [
            place(value, os.path.join(scratch, f'{i}_{j}.npz'))
            for j, value in enumerate(job)
        ]
        for i, job in enumerate(jobs)
    ]
    reply = run_file(name, json.dumps(specs), *args, **kwargs)

    def read(value):
      if isinstance(value, list):
        return [read(v) for v in value]
      if isinstance(value, str) and value in outputs:
        with np.load(value) as f:
          return {k: f[k] for k in f.files}
      return value

    return read(reply)


# Python source for a script given as text (tests): `load_export` and the
# imports the scripts of `keras3/` use, from `keras3/jobs.py`.
LOAD_EXPORT = (
    'import json, os, sys\n'
    'import numpy as np\n'
    f'sys.path.insert(0, {keras3.path("")!r})\n'
    'from jobs import load_export\n'
)


def result_line(name: str = 'result') -> str:
  """Python source printing the JSON of variable `name` for `run`."""
  return f'print({_RESULT!r} + __import__("json").dumps({name}))'
