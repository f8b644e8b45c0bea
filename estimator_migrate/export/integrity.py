"""The export directory's integrity record, `integrity.json`, written last.

The record holds the sha256 of every file the export wrote (`model.py`,
`spec.json`, `weights.npz`, `report.md`, `saved_model/...`) under its path
relative to the directory, and the record's format version:

  {"format": 1, "algorithm": "sha256",
   "files": {"model.py": "<hex>", "spec.json": "<hex>", ...}}

The generated `model.py` checks it first in `load()` (`verify_integrity`
in `keras3/canned_model.py` and `keras3/custom_model.py`: the modern environment
imports nothing of this package) and refuses a missing record or any
file that differs. `seal` writes the record into the export's temporary
directory after every other file, and reads back what was written before
the directory is moved into place.
"""

from collections.abc import Callable, Mapping
import json
import os

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.export import npz_stream

RECORD = 'integrity.json'
# The record's layout; `model.py` refuses any other (INTEGRITY_FORMAT there).
FORMAT = 1
ALGORITHM = 'sha256'
# Files every export has; `model.py` refuses a record without them.
REQUIRED = ('model.py', 'spec.json', 'weights.npz')


def _sha256(path: str) -> str:
  return npz_stream.sha256(path)


def digests(
    directory: str, known: Mapping[str, str] | None = None
) -> dict[str, str]:
  """sha256 of every file under `directory` but the record, by `/` path.

  A file `known` names is not read: its digest is taken from there.
  """
  known = known or {}
  out = {}
  for root, _, names in tf.io.gfile.walk(directory):
    relative = os.path.relpath(root, directory) if root != directory else ''
    for name in names:
      key = '/'.join([*relative.split(os.sep), name] if relative else [name])
      if key in known:
        out[key] = known[key]
      elif key != RECORD:
        out[key] = _sha256(os.path.join(root, name))
  return dict(sorted(out.items()))


def write_record(directory: str, kept: Mapping[str, str] | None = None) -> dict:
  """Writes `integrity.json` for the files now in `directory`; returns it.

  Args:
    directory: The export directory.
    kept: Digests recorded before, kept as they are (a file changed since
      then fails `check_record`); other files are read and digested now.
  """
  files = digests(directory, kept)
  files.update(kept or {})  # also one gone since: check_record refuses it
  record = {
      'format': FORMAT,
      'algorithm': ALGORITHM,
      'files': dict(sorted(files.items())),
  }
  with tf.io.gfile.GFile(os.path.join(directory, RECORD), 'w') as f:
    f.write(json.dumps(record, indent=2, sort_keys=True) + '\n')
  return record


def _unreadable(path: str, what: str) -> errors.MigrationError:
  return errors.MigrationError(
      f'{path}: {what} after writing it. The disk or filesystem did not'
      ' keep what the export wrote; nothing was moved into the target.'
      ' Check the disk and export again (or export to another disk).'
  )


def check_written(directory: str, spec: Mapping) -> None:
  """Reads `spec.json` back: it must hold what was meant.

  Raises:
    MigrationError: It differs from `spec` or cannot be read, naming it.
  """
  path = os.path.join(directory, 'spec.json')
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      read = json.loads(f.read().decode('utf-8'))
  except (tf.errors.OpError, UnicodeDecodeError, ValueError) as e:
    raise _unreadable(path, f'cannot be read back ({e})') from e
  if read != json.loads(json.dumps(spec)):
    raise _unreadable(path, 'reads back different from the spec')


def check_record(directory: str) -> None:
  """Recomputes every digest from disk; each must match the record.

  Raises:
    MigrationError: The record cannot be read, or a file is missing from
      it, missing on disk, or differs from it, naming the file.
  """
  path = os.path.join(directory, RECORD)
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      record = json.loads(f.read().decode('utf-8'))
  except (tf.errors.OpError, UnicodeDecodeError, ValueError) as e:
    raise _unreadable(path, f'cannot be read back ({e})') from e
  if not isinstance(record, dict):
    record = {}
  recorded = record.get('files')
  if record.get('format') != FORMAT or not isinstance(recorded, dict):
    raise _unreadable(path, 'reads back different from what was written')
  found = digests(directory)
  for name in sorted(set(recorded) | set(found)):
    if recorded.get(name) != found.get(name):
      raise _unreadable(
          os.path.join(directory, name),
          'has a sha256 other than the one recorded',
      )
  for name in REQUIRED:
    if name not in found:
      raise _unreadable(os.path.join(directory, name), 'is missing')


def seal(
    directory: str,
    spec: Mapping,
    written: Mapping[str, str],
    then: Callable[[str], object] | None = None,
) -> None:
  """Checks what was written into `directory` and writes its record last.

  `spec.json` is read back and compared with `spec`; the record is written,
  with the digests `written` (`weights.npz`'s, hashed as its bytes went to
  the file: it is not read for the record); `then(directory)` (the serving
  SavedModel, written by the export's own `load()`, which checks the
  record) may add files, which a second record then covers, keeping the
  first one's digests; finally every file is read back and its digest
  recomputed from disk and compared with the record (`weights.npz` read
  once, one block at a time).

  Args:
    directory: The export's temporary directory, every file written.
    spec: What `spec.json` must hold.
    written: The sha256 of files as they were written, by name
      (`weights.npz`).
    then: Adds to the directory before the final record, if given.

  Raises:
    MigrationError: A file reads back different, naming it.
  """
  check_written(directory, spec)
  record = write_record(directory, kept=written)
  if then is not None:
    then(directory)
    write_record(directory, kept=record['files'])
  check_record(directory)


def sealing(
    spec: Mapping,
    then: Callable[[str], object] | None = None,
) -> Callable[[str, Mapping[str, str]], None]:
  """`seal` as the `finish` step of `target.write_directory`.

  Example:
    target.write_directory(directory, files, arrays,
                           integrity.sealing(spec, finish),
                           checkpoint_prefix=prefix)
  """
  return lambda directory, written: seal(directory, spec, written, then)
