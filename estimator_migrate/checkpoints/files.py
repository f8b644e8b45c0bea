"""Checkpoint files on any TF filesystem: listing, path identity, locking.

Checkpoint prefixes are user paths and may hold glob metacharacters
(`/models/run[3]/model.ckpt-5`), so files are found by listing the directory
and matching names, never by `glob`. Two paths are the same place only after
symlinks are resolved and relative paths made absolute (`os.path.realpath`):
string comparison of normalized paths lets `../v1` or a symlinked directory
reach the source.
"""

from collections.abc import Iterator
import contextlib
import errno
import fcntl
import os
import re

import tensorflow as tf

from estimator_migrate import errors


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
