r"""Benchmarks estimator-migrate-rewrite beside tf_upgrade_v2 on one tree.

Copies the tree to a temporary directory, then runs, each in its own fresh
process on its own output copy (the tree itself is never written):
`estimator-migrate-rewrite <copy> --in_place` and TensorFlow's own upgrader
(`python -m tensorflow.tools.compatibility.tf_upgrade_v2_main --intree <tree>
--outtree <out>`). Prints a Markdown table: the tree, its `.py` files and
lines, and for each tool the wall time (start-up included), lines per
second, its CPU time (user and system, its worker processes included:
`wait4`, which counts the children it waited for; less sensitive than wall
time to other jobs on the machine), the peak RSS of its largest process (`ru_maxrss` from `wait4`) and
the peak of its processes' RSS summed (sampled from /proc every 0.5 s: the
rewrite's worker processes count), then the ratio of the two wall times.

The default tree is tensorflow_estimator's own `python/estimator` package,
from the installed wheel: 99 files that import TensorFlow, none with a canned
construction to change.

Example:
  make bench
  python benchmarks/rewrite_throughput.py --tree=~/code/trainer --jobs=1
"""

from collections.abc import Sequence
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

_TREE = flags.DEFINE_string(
    'tree',
    None,
    "Directory of Python files to rewrite (default: tensorflow_estimator's"
    ' python/estimator, copied from the installed package).',
)
_JOBS = flags.DEFINE_integer(
    'jobs',
    None,
    'estimator-migrate-rewrite --jobs (default: its own, one per core).',
    lower_bound=1,
)
_REPEATS = flags.DEFINE_integer(
    'repeats', 1, 'Runs of each tool; each gets its own row.', lower_bound=1
)

_PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024
# A scan of /proc takes tens of ms of CPU: sample seldom enough not to slow
# the tools measured.
_SAMPLE_SECONDS = 0.5
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class _Run:
  seconds: float
  cpu_seconds: float  # user + system, of it and the children it waited for
  max_rss_mb: float  # the largest process
  total_rss_mb: float  # the peak of all its processes together


def _default_tree() -> str:
  import tensorflow_estimator  # pylint: disable=g-import-not-at-top

  return os.path.join(
      os.path.dirname(tensorflow_estimator.__file__), 'python', 'estimator'
  )


def _count(tree: str) -> tuple[int, int]:
  files = lines = 0
  for directory, _, names in os.walk(tree):
    for name in names:
      if name.endswith('.py'):
        files += 1
        with open(os.path.join(directory, name), 'rb') as f:
          lines += f.read().count(b'\n')
  return files, lines


def _tree_rss_kb(pid: int) -> int:
  """The RSS of `pid` and every process below it, in KiB (Linux /proc)."""
  parents: dict[int, int] = {}
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat') as f:
          parents[int(entry)] = int(f.read().rpartition(')')[2].split()[1])
      except (OSError, ValueError, IndexError):
        continue  # it ended meanwhile
  family, grew = {pid}, True
  while grew:
    more = {child for child, parent in parents.items() if parent in family}
    grew = not more <= family
    family |= more
  total = 0
  for member in family:
    try:
      with open(f'/proc/{member}/statm') as f:
        total += int(f.read().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
      continue
  return total


def _measure(command: Sequence[str], env: dict[str, str]) -> _Run:
  """Runs `command`; its wall time, and its peak RSS from wait4 and /proc."""
  start = time.perf_counter()
  process = subprocess.Popen(
      command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
  )
  peak = 0
  while True:
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid:
      break
    peak = max(peak, _tree_rss_kb(process.pid))
    time.sleep(_SAMPLE_SECONDS)
  seconds = time.perf_counter() - start
  process.returncode = os.waitstatus_to_exitcode(status)
  stderr = process.stderr.read().decode(errors='replace')
  process.stderr.close()
  if process.returncode:
    raise app.UsageError(
        f'{command[2]} exited {process.returncode}: {stderr[-2000:]}'
    )
  # wait4's ru_maxrss: the largest of the process and the children it
  # waited for (the rewrite's workers), in KiB.
  largest = usage.ru_maxrss
  return _Run(
      seconds,
      usage.ru_utime + usage.ru_stime,
      largest / 1024,
      max(peak, largest) / 1024,
  )


def _one(tool: str, tree: str, work: str, env: dict[str, str]) -> _Run:
  out = tempfile.mkdtemp(dir=work)
  shutil.rmtree(out)
  if tool == 'estimator-migrate-rewrite':
    shutil.copytree(tree, out, symlinks=True)
    command = [
        sys.executable,
        '-m',
        'estimator_migrate.cli.rewrite',
        out,
        '--in_place',
    ]
    if _JOBS.value:
      command.append(f'--jobs={_JOBS.value}')
  else:
    command = [
        sys.executable,
        '-m',
        'tensorflow.tools.compatibility.tf_upgrade_v2_main',
        f'--intree={tree}',
        f'--outtree={out}',
        f'--reportfile={os.path.join(work, "tf_upgrade_v2_report.txt")}',
    ]
  try:
    return _measure(command, env)
  finally:
    shutil.rmtree(out, ignore_errors=True)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  source = os.path.abspath(os.path.expanduser(_TREE.value or _default_tree()))
  if not os.path.isdir(source):
    raise app.UsageError(f'--tree={_TREE.value!r} is not a directory.')
  files, lines = _count(source)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (_ROOT, env.get('PYTHONPATH')) if p
  )
  label = _TREE.value or 'tensorflow_estimator/python/estimator'
  print(
      f'tree: {label} ({files} files, {lines} lines); cores:'
      f' {len(os.sched_getaffinity(0))}'
  )
  print()
  print(
      '| tool | wall s | lines/s | CPU s | peak RSS MB (largest process) |'
      ' peak RSS MB (all processes) | wall / tf_upgrade_v2 |'
      ' CPU / tf_upgrade_v2 |'
  )
  print('|---|---|---|---|---|---|---|---|')
  with tempfile.TemporaryDirectory() as work:
    tree = os.path.join(work, 'tree')
    shutil.copytree(source, tree, symlinks=True)
    for _ in range(_REPEATS.value):
      runs = {
          tool: _one(tool, tree, work, env)
          for tool in ('tf_upgrade_v2', 'estimator-migrate-rewrite')
      }
      reference = runs['tf_upgrade_v2']
      for tool, run in runs.items():
        print(
            f'| {tool} | {run.seconds:.1f} | {lines / run.seconds:.0f} |'
            f' {run.cpu_seconds:.1f} |'
            f' {run.max_rss_mb:.0f} | {run.total_rss_mb:.0f} |'
            f' {run.seconds / reference.seconds:.2f} |'
            f' {run.cpu_seconds / reference.cpu_seconds:.2f} |',
            flush=True,
        )


if __name__ == '__main__':
  app.run(main)
