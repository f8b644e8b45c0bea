"""A local TensorFlow cluster on loopback, for tests and migration rehearsals.

`LocalCluster` starts one process per task (chief, workers, ps, evaluator),
each with its own `TF_CONFIG` pointing at free 127.0.0.1 ports, and each
calling the same importable function, named `'module:function'`, with the
same keyword arguments (JSON). The function runs as the task its `TF_CONFIG`
says: an Estimator's `train_and_evaluate` reads it through `RunConfig`.

Every task runs in its own process group, its output goes to
`<workdir>/logs/<task>.log`, and it dies when the process that started the
cluster dies (`PR_SET_PDEATHSIG`), after `task_timeout_secs` (`alarm`), or
when the cluster stops (`with` block exit, `stop()`, interpreter exit):
nothing outlives a failed test. Tasks keep their ports for the cluster's
life, so a task restarted after `kill` rejoins at the same address.

Example:
  with cluster.LocalCluster(
      'estimator_migrate.cluster.trainers:train_canned',
      dict(model_dir='/tmp/m', version='v2', max_steps=500),  # its kwargs
      workdir='/tmp/run', workers=1, ps=2, evaluator=True) as c:
    c.start()
    c.wait_for(lambda: c.exited('chief'), timeout_secs=600, what='the chief')
    c.kill('worker', 0)     # SIGKILL the process group
    c.restart('worker', 0)  # same address, same arguments
"""

import atexit
from collections.abc import Callable, Mapping, Sequence
import contextlib
import ctypes
import dataclasses
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import weakref

from estimator_migrate import errors

LOOPBACK = '127.0.0.1'
ROLES = ('chief', 'worker', 'ps', 'evaluator')
DEFAULT_TASK_TIMEOUT_SECS = 900
_PR_SET_PDEATHSIG = 1
# The directory holding the estimator_migrate package (tasks import it).
_PACKAGE_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
_LIVE: 'weakref.WeakSet[LocalCluster]' = weakref.WeakSet()


class ClusterError(errors.MigrationError):
  """A cluster cannot be started, a task is unknown, or a wait timed out."""


def free_ports(count: int) -> list[int]:
  """Returns `count` distinct ports free on 127.0.0.1 right now.

  The sockets are held until all are chosen, so the ports differ; another
  process could still take one before the task binds it (rare on loopback).
  """
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind((LOOPBACK, 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def cluster_spec(
    workers: int, ps: int, ports: Sequence[int] | None = None
) -> dict[str, list[str]]:
  """The `TF_CONFIG` cluster: one chief, `workers` workers, `ps` ps tasks.

  The evaluator is never part of the cluster spec (TF's rule): it only reads
  checkpoints. Addresses are 127.0.0.1 only.
  """
  count = 1 + workers + ps
  ports = list(ports) if ports is not None else free_ports(count)
  if len(ports) != count:
    raise ClusterError(
        f'ports= has {len(ports)} ports; need {count}.', argument='ports'
    )
  spec = {'chief': [f'{LOOPBACK}:{ports[0]}']}
  if workers:
    spec['worker'] = [f'{LOOPBACK}:{p}' for p in ports[1 : 1 + workers]]
  if ps:
    spec['ps'] = [f'{LOOPBACK}:{p}' for p in ports[1 + workers :]]
  return spec


def tf_config(spec: Mapping[str, Sequence[str]], role: str, index: int) -> str:
  """The `TF_CONFIG` JSON of one task of `spec`."""
  return json.dumps(
      {
          'cluster': {k: list(v) for k, v in spec.items()},
          'task': {'type': role, 'index': index},
          'environment': 'cloud',
      }
  )


@dataclasses.dataclass
class _Task:
  role: str
  index: int
  log_path: str
  process: subprocess.Popen | None = None
  starts: int = 0

  @property
  def name(self) -> str:
    return f'{self.role}-{self.index}'


def _die_with_parent() -> None:
  """In the child before exec: SIGKILL when the parent dies (Linux only)."""
  try:
    ctypes.CDLL(None, use_errno=True).prctl(
        _PR_SET_PDEATHSIG, int(signal.SIGKILL)
    )
  except (OSError, AttributeError):
    pass  # not Linux: the process group, atexit and the alarm still apply


class LocalCluster(contextlib.AbstractContextManager):
  """Processes for chief, workers, ps and an evaluator on 127.0.0.1."""

  def __init__(
      self,
      target: str,
      kwargs: Mapping[str, Any] | None = None,
      *,
      workdir: str,
      workers: int = 1,
      ps: int = 0,
      evaluator: bool = False,
      task_timeout_secs: float = DEFAULT_TASK_TIMEOUT_SECS,
      env: Mapping[str, str] | None = None,
      python: str | None = None,
      pythonpath: Sequence[str] | None = None,
  ):
    """Plans the cluster; `start()` starts it.

    Args:
      target: `'module:function'` every task calls with `kwargs`; the module
        must be importable by the tasks (the caller's `sys.path` is passed).
      kwargs: JSON-serialisable keyword arguments of `target`.
      workdir: Where `logs/` goes (created).
      workers: Number of workers besides the chief (>= 0).
      ps: Number of parameter-server tasks (>= 0).
      evaluator: Also run an evaluator task.
      task_timeout_secs: Each task process is killed (SIGALRM) this long
        after it starts, whatever it is doing; default 900.
      env: Extra environment variables of every task.
      python: The tasks' interpreter (default: this one), e.g. the modern
        environment's (TensorFlow 2.21, Keras 3) to train an export.
      pythonpath: The tasks' `PYTHONPATH`. Default: this process's
        `sys.path`; with `python`, only the directory holding the
        `estimator_migrate` package, so that another environment's
        packages are not shadowed by this one's.

    Raises:
      ClusterError: A bad target, count or non-JSON kwargs.
    """
    if ':' not in target:
      raise ClusterError(
          f"target={target!r} is not 'module:function'; e.g."
          " 'estimator_migrate.cluster.trainers:train_canned'.",
          argument='target',
      )
    if workers < 0 or ps < 0:
      raise ClusterError(
          f'workers={workers}, ps={ps}: counts must be >= 0.',
          argument=('workers', 'ps'),
      )
    if task_timeout_secs <= 0:
      raise ClusterError(
          f'task_timeout_secs={task_timeout_secs}: must be > 0.',
          argument='task_timeout_secs',
      )
    self._target = target
    try:
      self._kwargs_json = json.dumps(dict(kwargs or {}))
    except TypeError as e:
      raise ClusterError(
          f'kwargs= must be JSON-serialisable (each task receives a copy): {e}',
          argument='kwargs',
      ) from e
    self.workdir = os.path.abspath(workdir)
    self._log_dir = os.path.join(self.workdir, 'logs')
    os.makedirs(self._log_dir, exist_ok=True)
    self._timeout = task_timeout_secs
    self._env = dict(env or {})
    if python is not None and not os.access(python, os.X_OK):
      raise ClusterError(
          f'python={python!r} is not an executable interpreter; pass the'
          ' path of a python binary (e.g. .venv-modern/bin/python).',
          argument='python',
      )
    self._python = python or sys.executable
    if pythonpath is None:
      pythonpath = [_PACKAGE_ROOT] if python else sys.path
    self._pythonpath = [p for p in pythonpath if p and os.path.isdir(p)]
    self.spec = cluster_spec(workers, ps)
    roles = [('chief', 0)]
    roles += [('worker', i) for i in range(workers)]
    roles += [('ps', i) for i in range(ps)]
    if evaluator:
      roles.append(('evaluator', 0))
    self._tasks = {
        (role, i): _Task(
            role, i, os.path.join(self._log_dir, f'{role}-{i}.log')
        )
        for role, i in roles
    }

  @property
  def tasks(self) -> list[tuple[str, int]]:
    """Every (role, index) in start order: chief, workers, ps, evaluator."""
    return list(self._tasks)

  def _task(self, role: str, index: int) -> _Task:
    try:
      return self._tasks[(role, index)]
    except KeyError:
      raise ClusterError(
          f'no task {role}:{index} in this cluster; tasks:'
          f' {[f"{r}:{i}" for r, i in self._tasks]}.'
      ) from None

  def _command(self) -> list[str]:
    return [
        self._python,
        '-m',
        __name__,
        self._target,
        self._kwargs_json,
        str(self._timeout),
    ]

  def _environ(self, task: _Task) -> dict[str, str]:
    env = dict(os.environ)
    env.update(self._env)
    env['PYTHONPATH'] = os.pathsep.join(self._pythonpath)
    env['TF_CONFIG'] = tf_config(self.spec, task.role, task.index)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
    env['PYTHONUNBUFFERED'] = '1'
    return env

  def _launch(self, task: _Task) -> None:
    if task.process is not None and task.process.poll() is None:
      raise ClusterError(
          f'task {task.name} is running (pid {task.process.pid}); kill it'
          ' before restarting it.'
      )
    task.starts += 1
    with open(task.log_path, 'ab') as log:
      log.write(
          f'=== start {task.starts} of {task.name} at {time.time():.3f}'
          ' ===\n'.encode()
      )
      log.flush()
      task.process = subprocess.Popen(
          self._command(),
          stdin=subprocess.DEVNULL,
          stdout=log,
          stderr=subprocess.STDOUT,
          env=self._environ(task),
          cwd=self.workdir,
          start_new_session=True,  # its own process group, for killpg
          preexec_fn=_die_with_parent,
      )

  def start(
      self, tasks: Sequence[tuple[str, int]] | None = None
  ) -> 'LocalCluster':
    """Starts the given tasks, default all (ps first, so others find them).

    Estimator workers that start before the chief has initialised the
    variables wait 30 s between readiness checks (TF's SessionManager);
    start them after the chief makes progress to skip that wait.
    """
    _LIVE.add(self)
    if tasks is None:
      tasks = list(self._tasks)
    chosen = [self._task(r, i) for r, i in tasks]
    for task in sorted(chosen, key=lambda t: t.role != 'ps'):
      self._launch(task)
    return self

  def kill(self, role: str, index: int = 0, sig: int = signal.SIGKILL) -> float:
    """Sends `sig` to the task's process group; waits for it to die on SIGKILL.

    Returns:
      The time (time.time()) the signal was sent.
    """
    task = self._task(role, index)
    if task.process is None or task.process.poll() is not None:
      raise ClusterError(
          f'task {role}:{index} is not running; nothing to kill.'
      )
    sent = time.time()
    with contextlib.suppress(ProcessLookupError):
      os.killpg(task.process.pid, sig)
    if sig == signal.SIGKILL:
      task.process.wait(timeout=60)
    return sent

  def restart(self, role: str, index: int = 0) -> None:
    """Starts a task (again) at its address, with the same arguments."""
    _LIVE.add(self)
    self._launch(self._task(role, index))

  def returncode(self, role: str, index: int = 0) -> int | None:
    """The task's exit status; None while it runs (or never started)."""
    process = self._task(role, index).process
    return None if process is None else process.poll()

  def exited(self, role: str, index: int = 0) -> bool:
    return self.returncode(role, index) is not None

  def pids(self) -> list[int]:
    """Process ids of the tasks now running."""
    return [
        t.process.pid
        for t in self._tasks.values()
        if t.process is not None and t.process.poll() is None
    ]

  def log(self, role: str, index: int = 0, start: int | None = None) -> str:
    """Everything the task wrote, across restarts (start markers between).

    With `start` (1-based), only what its `start`-th process wrote. Empty
    before the task (or that process) starts.
    """
    try:
      with open(self._task(role, index).log_path, errors='replace') as f:
        text = f.read()
    except FileNotFoundError:
      return ''
    if start is None:
      return text
    parts = text.split('=== start ')
    return parts[start] if len(parts) > start else ''

  def log_path(self, role: str, index: int = 0) -> str:
    return self._task(role, index).log_path

  def wait_for(
      self,
      condition: Callable[[], Any],
      *,
      timeout_secs: float,
      what: str,
      poll_secs: float = 0.2,
      fail_if_exited: Sequence[tuple[str, int]] = (),
  ) -> Any:
    """Polls `condition` until it returns a true value, and returns it.

    Args:
      condition: Called every `poll_secs`.
      timeout_secs: Bound on the wait.
      what: Says what is awaited, for the error.
      poll_secs: Interval between calls.
      fail_if_exited: Tasks whose non-zero exit ends the wait early.

    Raises:
      ClusterError: On timeout, or a task of `fail_if_exited` failed; the
        message has the tail of each task's log.
    """
    deadline = time.monotonic() + timeout_secs
    while True:
      value = condition()
      if value:
        return value
      for role, index in fail_if_exited:
        code = self.returncode(role, index)
        if code not in (None, 0):
          raise ClusterError(
              f'{role}:{index} exited with {code} while waiting for {what}.'
              f'\n{self.tails()}'
          )
      if time.monotonic() > deadline:
        raise ClusterError(
            f'timed out after {timeout_secs:.0f} s waiting for {what}.'
            f'\n{self.tails()}'
        )
      time.sleep(poll_secs)

  def tails(self, lines: int = 15) -> str:
    """The last `lines` lines of every task's log, for error messages."""
    parts = []
    for role, index in self._tasks:
      try:
        tail = self.log(role, index).splitlines()[-lines:]
      except OSError:
        tail = ['(no log)']
      parts.append(f'--- {role}:{index} ---\n' + '\n'.join(tail))
    return '\n'.join(parts)

  def stop(self) -> None:
    """SIGKILLs every task's process group and reaps it. Idempotent."""
    for task in self._tasks.values():
      process = task.process
      if process is None:
        continue
      with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
      with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    _LIVE.discard(self)

  def __exit__(self, *exc_info) -> None:
    self.stop()


@atexit.register
def _stop_all() -> None:
  for c in list(_LIVE):
    c.stop()


def _run_task(target: str, kwargs_json: str, timeout_secs: str) -> None:
  """The task program: a deadline, then `target(**kwargs)`."""
  signal.alarm(max(1, int(float(timeout_secs))))  # SIGALRM ends the process
  module_name, function_name = target.split(':', 1)
  function = getattr(importlib.import_module(module_name), function_name)
  function(**json.loads(kwargs_json))


if __name__ == '__main__':
  _run_task(*sys.argv[1:4])
