"""Checkpoint files on any TF filesystem: listing, path identity, locking.

Checkpoint prefixes are user paths and may hold glob metacharacters
(`/models/run[3]/model.ckpt-5`), so files are found by listing the directory
and matching names, never by `glob`. Two paths are the same place only after
symlinks are resolved and relative paths made absolute (`os.path.realpath`):
string comparison of normalized paths lets `../v1` or a symlinked directory
reach the source.

A model_dir's `checkpoint` state file is read and written here only
(`state_prefix`, `write_state`), with TensorFlow's own rule: a relative entry
is relative to the state file's directory, an absolute one is kept.
"""

from collections.abc import Iterator
import contextlib
import errno
import fcntl
import os
import re

from google.protobuf import text_format
import tensorflow as tf
from tensorflow.python.training import checkpoint_state_pb2

from estimator_migrate import errors

STATE_FILE = 'checkpoint'  # TF's name for a model_dir's state file


def error_line(error: Exception) -> str:
  """The first line of a TF or OS error, without TF's function-node prefix."""
  text = getattr(error, 'message', None) or str(error)
  text = re.sub(r'\{\{function_node [^}]*\}\}\s*', '', text).strip()
  return text.splitlines()[0] if text else type(error).__name__


def is_local(path: str | os.PathLike) -> bool:
  """True for plain paths; False for `gs://`, `ram://` and other schemes."""
  return '://' not in os.fspath(path)


def real(path: str | os.PathLike) -> str:
  """The path with symlinks resolved (local) or normalized (other schemes)."""
  path = os.fspath(path)
  if is_local(path):
    return os.path.realpath(path)
  scheme, rest = path.split('://', 1)
  return f'{scheme}://{os.path.normpath(rest)}'


def inside(path: str, directory: str) -> bool:
  """Whether `path` is `directory` or below it (both as given to `real`)."""
  return path == directory or path.startswith(directory.rstrip('/') + '/')


def with_prefix(prefix: str, start: str) -> list[str]:
  """Files named `<basename(prefix)><start>...` beside `prefix`, sorted.

  Unlike `glob(prefix + start + '*')`, characters such as `[` in the prefix
  match only themselves.
  """
  directory = os.path.dirname(prefix) or '.'
  head = os.path.basename(prefix) + start
  try:
    names = tf.io.gfile.listdir(directory)
  except tf.errors.NotFoundError:
    return []
  return sorted(
      os.path.join(directory, name.rstrip('/'))
      for name in names
      if name.startswith(head)
  )


@contextlib.contextmanager
def locked(directory: str, what: str) -> Iterator[bool]:
  """Holds an exclusive lock on a local directory while the block runs.

  Yields whether the lock is held: `False` on filesystems without locks
  (`gs://`, `ram://`), where the caller must not assume it is alone.

  Raises:
    CheckpointError: Another process holds the lock (`what` names the work).
  """
  if not is_local(directory):
    yield False
    return
  fd = os.open(directory, os.O_RDONLY)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
        raise
      raise errors.CheckpointError(
          f'another process is {what} in {directory} right now; wait for it'
          ' to finish, or choose another target directory.'
      ) from e
    yield True
  finally:
    os.close(fd)  # closing the descriptor releases the lock


def _joined(directory: str, entry: str) -> str:
  """`entry` as TF's `get_checkpoint_state` resolves it against `directory`."""
  # TF keeps absolute entries and joins the rest onto the directory it was
  # given. A `gs://` entry is kept too: TF would join it and find nothing.
  if os.path.isabs(entry) or not is_local(entry):
    return entry
  return os.path.join(directory, entry)


def state_prefix(directory: str) -> str | None:
  """The newest checkpoint prefix named by `directory`'s state file.

  Resolved exactly as `tf.train.get_checkpoint_state` does (a relative entry
  is joined onto `directory`, once), so a relative `directory` gives a prefix
  relative to the same working directory. Unlike TF, a state file that
  cannot be read or parsed is an error, not a warning and `None`.

  Args:
    directory: A model_dir (local or any TF filesystem).

  Returns:
    The prefix, or None when `directory` has no state file.

  Raises:
    CheckpointError: The state file cannot be read or parsed, or names no
      checkpoint.
  """
  path = os.path.join(directory, STATE_FILE)
  try:
    if not tf.io.gfile.exists(path):
      return None
    with tf.io.gfile.GFile(path, 'rb') as f:
      text = f.read()
    state = checkpoint_state_pb2.CheckpointState()
    # Merge, as TF reads it: a field given twice takes its last value.
    text_format.Merge(text.decode('utf-8'), state)
  except Exception as e:  # I/O, unicode and text_format errors alike
    raise errors.CheckpointError(
        f'cannot read {path}: {error_line(e)}. Give the checkpoint prefix'
        f' itself, e.g. {directory}/model.ckpt-1000.'
    ) from e
  if not state.model_checkpoint_path:
    raise errors.CheckpointError(
        f'{path} names no checkpoint (its model_checkpoint_path is empty).'
        f' Give a checkpoint prefix such as {directory}/model.ckpt-1000.'
    )
  return _joined(directory, state.model_checkpoint_path)


def write_state(prefix: str) -> None:
  """Makes `prefix` the newest checkpoint of its directory's state file.

  The entry is the prefix's base name, relative to the state file's
  directory as Estimators write it: TF reads it back as `prefix` whether
  `prefix` is absolute, relative to the working directory, or reached through
  a symlink, and a model_dir moved or copied still names its own checkpoint.
  (`tf.compat.v1.train.update_checkpoint_state` with a relative directory
  would write `../<name>`.) Written under a temporary name, then renamed.

  Raises:
    OSError, tf.errors.OpError: The state file cannot be written.
  """
  directory = os.path.dirname(prefix) or '.'
  name = os.path.basename(prefix)
  state = checkpoint_state_pb2.CheckpointState(
      model_checkpoint_path=name, all_model_checkpoint_paths=[name]
  )
  path = os.path.join(directory, STATE_FILE)
  partial = f'{path}.tmp-{os.getpid()}'
  with tf.io.gfile.GFile(partial, 'w') as f:
    f.write(text_format.MessageToString(state))
  tf.io.gfile.rename(partial, path, overwrite=True)
