"""The demo's working directory: marked as the demo's, replaced on a rerun.

A rerun is a normal user action, so the demo must give the same answer in a
directory it used before: `claim` removes the previous run's outputs (the
entries the marker file lists) before the new run writes them. A directory
that holds anything else is refused, so the demo never deletes what it did
not write.

Example:
  workdir.claim('/tmp/demo', ['canned', 'report.md'])  # checks, clears, marks
  ...                                                  # write them
"""

from collections.abc import Iterable
import json
import os
import shutil

from estimator_migrate import errors

MARKER = '.estimator_migrate_demo'
# Runs before the marker existed left these; their report's first line says
# whose they are.
_UNMARKED_REPORT = ('report.md', '# estimator_migrate demo')


class WorkdirError(errors.MigrationError):
  """The work directory cannot be used (a file, unwritable, not the demo's)."""


def _is_entry_name(name) -> bool:
  """A single entry of a directory: not `''`, `.`, `..`, nor a path."""
  return (
      isinstance(name, str)
      and name not in ('', os.curdir, os.pardir)
      and os.sep not in name
      and not (os.altsep and os.altsep in name)
      and '\0' not in name
  )


def _read_marker(workdir: str) -> list[str]:
  path = os.path.join(workdir, MARKER)
  try:
    with open(path, encoding='utf-8') as f:
      outputs = json.load(f)['outputs']
    if not isinstance(outputs, list):
      raise TypeError(f'outputs is a {type(outputs).__name__}, not a list')
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise WorkdirError(
        f'workdir={workdir}: its marker {MARKER} cannot be read ({e}); remove'
        ' the directory or choose another workdir.',
        argument='workdir',
    ) from e
  bad = [name for name in outputs if not _is_entry_name(name)]
  if bad:
    raise WorkdirError(
        f'workdir={workdir}: its marker {MARKER} lists {bad[0]!r}, which is'
        ' not an entry of the workdir; nothing was removed. Remove the'
        ' directory or choose another workdir.',
        argument='workdir',
    )
  return outputs


def _entries(workdir: str, outputs: Iterable[str]) -> list[str]:
  """The paths of `outputs`, each strictly inside `workdir` after realpath.

  Raises:
    WorkdirError: A name that is not one entry of the workdir (`''`, `.`,
      `..`, an absolute path, a path with a separator) or whose parent is not
      the workdir once symlinks are resolved; nothing is removed then.
  """
  root = os.path.realpath(workdir)
  paths = []
  for name in outputs:
    path = os.path.join(root, name) if _is_entry_name(name) else None
    # The entry itself is not resolved: a symlink is removed, not followed.
    if path is None or os.path.realpath(os.path.dirname(path)) != root:
      raise WorkdirError(
          f'workdir={workdir}: {name!r} is not an entry of the workdir;'
          ' nothing was removed. Remove the directory or choose another'
          ' workdir.',
          argument='workdir',
      )
    paths.append(path)
  return paths


def _unmarked_demo_output(workdir: str, present: set[str], outputs) -> bool:
  """An earlier version's demo output: only its entries, and its report."""
  name, title = _UNMARKED_REPORT
  if not present or not present <= set(outputs) or name not in present:
    return False
  try:
    with open(os.path.join(workdir, name), encoding='utf-8') as f:
      return f.readline().rstrip('\n') == title
  except (OSError, UnicodeDecodeError):
    return False


def record(workdir: str, outputs: Iterable[str]) -> None:
  """Writes the marker: these top-level entries are the demo's to replace."""
  path = os.path.join(workdir, MARKER)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump({'outputs': sorted(set(outputs))}, f)
  os.replace(path + '.tmp', path)


def remove(workdir: str, outputs: Iterable[str]) -> None:
  """Removes the demo's top-level entries `outputs` from `workdir`.

  Every name is checked before anything is removed: only entries strictly
  inside `workdir` (after `os.path.realpath`) are ever removed, and a symlink
  among them is removed itself, never what it points to.

  Raises:
    WorkdirError: A name is not one entry of `workdir`.
  """
  for path in _entries(workdir, outputs):
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path)
    elif os.path.lexists(path):
      os.remove(path)


def claim(workdir: str, outputs: Iterable[str]) -> None:
  """Makes `workdir` ready for a run: created, or the demo's and cleared.

  The marker lists `outputs` before the run writes them, so that the outputs
  of a run that failed or was killed are replaced by the next one too.

  Args:
    workdir: A new or empty directory, or one a previous demo run marked.
    outputs: The top-level entries the coming run writes.

  Raises:
    WorkdirError: `workdir` is a file, cannot be created or written, or holds
      entries that no demo run wrote.
  """
  workdir = os.path.abspath(workdir)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(
        f'workdir={workdir} is a file; give a new or empty directory, or one'
        ' an earlier demo run wrote.',
        argument='workdir',
    )
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise WorkdirError(
        f'workdir={workdir} cannot be created ({e.strerror}); give a'
        ' directory you can write.',
        argument='workdir',
    ) from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise WorkdirError(
        f'workdir={workdir} is not writable; give a directory you can write.',
        argument='workdir',
    )
  outputs = list(outputs)
  present = set(os.listdir(workdir))
  if MARKER in present:
    ours = set(_read_marker(workdir))
  elif _unmarked_demo_output(workdir, present, outputs):
    ours = present
  else:
    ours = set()
  foreign = sorted(present - ours - {MARKER})
  if foreign:
    shown = ', '.join(foreign[:5]) + (', ...' if len(foreign) > 5 else '')
    raise WorkdirError(
        f'workdir={workdir} holds files the demo did not write ({shown});'
        ' the demo replaces its own outputs only: give a new or empty'
        ' directory.',
        argument='workdir',
    )
  try:
    remove(workdir, ours)
    record(workdir, outputs)
  except OSError as e:
    raise WorkdirError(
        f"workdir={workdir}: the previous run's outputs cannot be replaced"
        f' ({e}); give a directory you can write.',
        argument='workdir',
    ) from e
