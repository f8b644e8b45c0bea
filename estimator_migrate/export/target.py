"""The export's target directory: checked, locked, written beside, renamed in.

The same discipline as a checkpoint conversion (`checkpoints.staging`):

- The target is compared with the checkpoint it is exported from after
  symlinks are resolved (`files.real`): it may not be the checkpoint prefix
  nor lie inside its model_dir. It must be a new or empty directory, not
  `''`, `.`, a file or a symlink.
- The target directory is created empty if new and locked (`flock`) for the
  whole export, so a second export to it fails at once. Only the lock
  holder may judge a leftover temporary directory (`.<name>.tmp-*`, left by
  a killed export) dead and remove it.
- Everything is written into a hidden temporary directory beside the target,
  which is then renamed over the (still empty) target. The rename replaces
  only an empty directory: a file put into the target meanwhile is kept and
  the export fails. A failed export removes its temporary directory and the
  directories it created, nothing else.

On filesystems without locks (`gs://`) the target is checked and the
temporary directory renamed into place; leftovers are never removed.
"""

from collections.abc import Callable, Iterator, Mapping
import contextlib
import errno
import os
import uuid

from absl import logging
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import staging
from estimator_migrate.export import npz_stream

_WHAT = 'exporting a model'


def check(target: str, checkpoint_prefix: str) -> str:
  """Refuses a target the export may not write; returns it normalized.

  Args:
    target: The directory to write.
    checkpoint_prefix: The checkpoint exported (its model_dir is the
      prefix's directory).

  Raises:
    MigrationError: `target` is empty, `.`, a symlink or a file, or is (or
      lies inside) the checkpoint's model_dir.
  """
  if not target:
    raise errors.MigrationError(
        'target is empty: give the directory to write, e.g. /models/keras.',
        argument='target',
    )
  if len(target) > 1:
    target = target.rstrip('/')
  name = os.path.basename(os.path.normpath(target))
  if name in ('', '.', '..') or (
      files.is_local(target)
      and os.path.realpath(target) == os.path.realpath(os.getcwd())
  ):
    raise errors.MigrationError(
        f'target={target!r} is the current directory or one of its'
        ' parents: give a new directory, e.g. ./keras.',
        argument='target',
    )
  if files.is_local(target) and os.path.islink(target):
    raise errors.MigrationError(
        f'target={target!r} is a symbolic link (to {os.readlink(target)}):'
        ' the export would replace the link, not fill what it names. Give'
        ' the real directory, or a new one.',
        argument='target',
    )
  if tf.io.gfile.exists(target) and not tf.io.gfile.isdir(target):
    raise errors.MigrationError(
        f'target={target!r} is a file: give a new directory.', argument='target'
    )
  model_dir = os.path.dirname(files.real(checkpoint_prefix))
  if files.inside(files.real(target), model_dir):
    raise errors.MigrationError(
        f"target={target!r} is inside the checkpoint's model_dir"
        f' {model_dir}: the export never writes into what it reads. Choose'
        ' a directory outside it.',
        argument='target',
    )
  return target


def write_directory(
    target: str,
    texts: Mapping[str, str],
    arrays: Mapping[str, np.ndarray | npz_stream.Blocks],
    finish: Callable[[str, Mapping[str, str]], object] | None = None,
    *,
    checkpoint_prefix: str,
) -> str:
  """Writes text files and `weights.npz` as the directory `target`.

  Args:
    target: A new (or empty) directory, outside the checkpoint's model_dir.
    texts: File name -> text.
    arrays: Stored in `weights.npz`, one at a time (a `Blocks` one block
      at a time): memory never holds them all.
    finish: Called with the temporary directory when the files are in it
      and `{'weights.npz': its sha256 as written}`, to check them and add
      more (e.g. `saved_model/`; `integrity.sealing`).
    checkpoint_prefix: The checkpoint exported (see `check`).

  Returns:
    `target` (normalized).

  Raises:
    MigrationError: A target `check` refuses; one that exists and is not
      empty; another export writing it; a target that cannot be written (a
      file in its path, no permission, a full disk); `finish` failing. The
      target is left as it was.
  """
  target = check(target, checkpoint_prefix)
  with _claimed(target):  # the target is new or empty, and ours
    parent = os.path.dirname(target) or '.'
    temporary = os.path.join(
        parent, f'.{os.path.basename(target)}.tmp-{uuid.uuid4().hex}'
    )
    try:
      written = _write_files(temporary, target, texts, arrays)
      if finish is not None:
        finish(temporary, written)
      # Everything is in `temporary` now: the last writes into it (and any
      # re-read of what was written) go here, before the rename.
      _rename_into_place(temporary, target)
    except BaseException:
      if tf.io.gfile.exists(temporary):
        tf.io.gfile.rmtree(temporary)
      raise
  return target


@contextlib.contextmanager
def _claimed(target: str) -> Iterator[None]:
  """Holds the target (new or empty) for this export alone.

  Creates it if new, locks it and clears what killed exports left beside
  it; on failure removes the directories it created while they are empty.
  """
  created = staging.first_missing(target)
  try:
    if not created and tf.io.gfile.listdir(target):
      raise _not_empty(target)
    tf.io.gfile.makedirs(target)
  except (OSError, tf.errors.OpError) as e:
    raise _unwritable(target, e) from e
  if not files.is_local(target):  # no locks: never judge leftovers dead
    try:
      yield
    except BaseException:
      if created:
        staging.remove_empty(target, created)
      raise
    return
  before = os.stat(target)
  # Refused here (another export holds it), nothing is removed.
  with files.locked(target, _WHAT):
    try:
      if not _same(before, target):  # another export renamed its result in
        raise errors.MigrationError(
            f'another process exported to target={target!r} just now: give'
            ' a new directory.',
            argument='target',
        )
      if os.listdir(target):  # written meanwhile
        raise _not_empty(target)
      for stale in staging.temporary_dirs(target):
        # Every export holds this lock while its temporary directory
        # exists: holding it proves the writer of `stale` dead.
        try:
          tf.io.gfile.rmtree(stale)
        except (OSError, tf.errors.OpError) as e:
          raise _unwritable(target, e) from e
        logging.warning('removed %s, left by an interrupted export', stale)
      yield
    except BaseException:
      if created:
        staging.remove_empty(target, created)
      raise


def _same(before: os.stat_result, path: str) -> bool:
  try:
    return os.path.samestat(before, os.stat(path))
  except OSError:
    return False


def _write_files(
    temporary: str,
    target: str,
    texts: Mapping[str, str],
    arrays: Mapping[str, np.ndarray | npz_stream.Blocks],
) -> dict[str, str]:
  try:
    tf.io.gfile.makedirs(temporary)
    for name, text in texts.items():
      with tf.io.gfile.GFile(os.path.join(temporary, name), 'w') as f:
        f.write(text)
    path = os.path.join(temporary, 'weights.npz')
    return {'weights.npz': npz_stream.write(path, arrays)}
  except (OSError, tf.errors.OpError) as e:
    raise _unwritable(target, e) from e


def _rename_into_place(temporary: str, target: str) -> None:
  """Renames `temporary` over the empty `target`; never over anything else."""
  try:
    if files.is_local(target):
      os.rename(temporary, target)  # atomic; fails unless target is empty
      return
    if tf.io.gfile.exists(target) and not tf.io.gfile.listdir(target):
      tf.io.gfile.rmtree(target)  # an empty directory marker, ours
    tf.io.gfile.rename(temporary, target)
  except OSError as e:
    if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
      raise errors.MigrationError(
          f'target={target!r} was written to during the export'
          f' ({", ".join(sorted(os.listdir(target))[:5])}): nothing in it was'
          ' touched and the export was not written. Give a new directory.',
          argument='target',
      ) from e
    raise _unwritable(target, e) from e
  except tf.errors.OpError as e:
    raise _unwritable(target, e) from e


def _not_empty(target: str) -> errors.MigrationError:
  return errors.MigrationError(
      f'target={target!r} exists and is not empty: give a new directory.',
      argument='target',
  )


def _unwritable(target: str, error: Exception) -> errors.MigrationError:
  return errors.MigrationError(
      f'cannot write target={target!r}: {files.error_line(error)}. Choose a'
      ' target you can write to, with free space.',
      argument='target',
  )
