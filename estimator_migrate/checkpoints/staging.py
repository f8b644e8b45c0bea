"""Where a conversion writes: a locked temporary directory beside the target.

The order of a safe write: temporary directory beside the target -> write ->
verify there -> swap into place -> state file last. The swap moves the old
target's files (index first) into the temporary directory, then the new data
files, then the new index: at every instant the target directory holds the
old checkpoint, the new verified one, or (for the few renames in between) no
index and the old files kept aside, which the next conversion to that
target puts back before it does anything else. The target directory is
locked (`flock`) for the whole conversion, so a second conversion to it
fails at once instead of deleting the first one's files; only a process
holding that lock may judge a temporary directory dead and remove it.
"""

from collections.abc import Iterator
import contextlib
import os
import uuid

from absl import logging
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files

_STAGED = 'staged'  # the new checkpoint's prefix inside the temporary dir
_PREVIOUS = 'previous'  # the old target's files, kept during the swap


def _data_files(prefix: str) -> list[str]:
  return files.with_prefix(prefix, '.data-')


def checkpoint_files(prefix: str) -> list[str]:
  """A checkpoint's `.index` (if any) and `.data-*` files, index first."""
  index = [prefix + '.index'] if tf.io.gfile.exists(prefix + '.index') else []
  return index + _data_files(prefix)


def _rename(source: str, destination: str) -> None:
  tf.io.gfile.rename(source, destination, overwrite=True)


def _move(old_prefix: str, new_prefix: str) -> None:
  """Renames a checkpoint's files to another prefix: data first, index last."""
  for path in _data_files(old_prefix):
    _rename(path, new_prefix + path[len(old_prefix) :])
  if tf.io.gfile.exists(old_prefix + '.index'):
    _rename(old_prefix + '.index', new_prefix + '.index')


def temporary_dirs(target_prefix: str) -> list[str]:
  """The hidden `.<name>.tmp-*` directories beside `target_prefix`."""
  return files.with_prefix(
      os.path.join(os.path.dirname(target_prefix) or '.', ''),
      f'.{os.path.basename(target_prefix)}.tmp-',
  )


def _recover(target_prefix: str) -> None:
  """Finishes what a killed conversion left: restores or clears its files.

  `commit` moves the old target aside data first, index last, so `previous`
  holding an index means the old checkpoint is whole there.
  """
  for stale in temporary_dirs(target_prefix):
    previous = os.path.join(stale, _PREVIOUS)
    if not tf.io.gfile.exists(target_prefix + '.index'):
      # Killed while writing, or while the old target was moved aside or the
      # new one in: what is at the target is partial; `previous` is whole.
      for path in _data_files(target_prefix):
        tf.io.gfile.remove(path)
      if checkpoint_files(previous):
        _move(previous, target_prefix)
        logging.warning('restored %s after an interrupted swap', target_prefix)
    elif _data_files(previous) and not tf.io.gfile.exists(previous + '.index'):
      # Killed while moving the old data aside: its index is still in place.
      _move(previous, target_prefix)
      logging.warning('restored %s after an interrupted swap', target_prefix)
    tf.io.gfile.rmtree(stale)


@contextlib.contextmanager
def staged(target_prefix: str) -> Iterator[str]:
  """Yields a prefix to write the new checkpoint to; cleans up on exit.

  On failure, directories this call created for the target are removed
  again if they are empty.

  Raises:
    CheckpointError: The target directory cannot be created or written, or
      another conversion holds it.
  """
  target_dir = os.path.dirname(target_prefix) or '.'
  base = os.path.basename(target_prefix)
  tmp_dir = os.path.join(target_dir, f'.{base}.tmp-{uuid.uuid4().hex[:8]}')
  created = first_missing(target_dir)
  done = False
  try:
    try:
      tf.io.gfile.makedirs(target_dir)
    except (OSError, tf.errors.OpError) as e:
      raise _unwritable(target_dir, e) from e
    with files.locked(target_dir, 'converting a checkpoint') as alone:
      if alone:
        _recover(target_prefix)
      try:
        tf.io.gfile.makedirs(tmp_dir)
      except (OSError, tf.errors.OpError) as e:
        raise _unwritable(target_dir, e) from e
      try:
        yield os.path.join(tmp_dir, _STAGED)
      finally:
        if tf.io.gfile.exists(tmp_dir):
          tf.io.gfile.rmtree(tmp_dir)
    done = True
  finally:
    if not done and created:
      remove_empty(target_dir, created)


def first_missing(directory: str) -> str | None:
  """The outermost directory of `directory`'s path that does not exist yet."""
  missing = None
  while directory and not tf.io.gfile.exists(directory):
    missing = directory
    parent = os.path.dirname(directory.rstrip('/'))
    if parent == directory:
      break
    directory = parent
  return missing


def remove_empty(directory: str, outermost: str) -> None:
  """Removes `directory` and its parents up to `outermost` while empty."""
  while True:
    try:
      if not tf.io.gfile.exists(directory) or tf.io.gfile.listdir(directory):
        return
      tf.io.gfile.rmtree(directory)  # empty: nothing but the directory
    except (OSError, tf.errors.OpError):
      return
    if directory.rstrip('/') == outermost.rstrip('/'):
      return
    directory = os.path.dirname(directory.rstrip('/'))


def commit(staged_prefix: str, target_prefix: str) -> None:
  """Swaps the verified staged checkpoint in for the target (see above)."""
  previous = os.path.join(os.path.dirname(staged_prefix), _PREVIOUS)
  _move(target_prefix, previous)  # the old one, if any: data, then index
  _move(staged_prefix, target_prefix)


def _unwritable(directory: str, error: Exception) -> errors.CheckpointError:
  return errors.CheckpointError(
      f'cannot write to {directory}: {files.error_line(error)}. Choose a'
      ' target directory you can write to.'
  )
