"""Brings a checkpoint data file to a new path by the cheapest safe means.

The means, tried in this order:

- `link`: a hard link, only when the caller passes `link=True` and both
  paths are local. No byte moves. Source and target are then two names of
  one file: nothing here or in TF writes into an existing data file (TF
  saves to new files and renames them into place), but anything else that
  does would change both, so only callers whose users asked for it may link.
- `kernel copy`: `os.copy_file_range`, the kernel copying page cache to page
  cache (or sharing extents on filesystems that reflink); the bytes never
  enter this process. Local files only.
- `stream`: a chunked copy, through `tf.io.gfile` for every filesystem TF
  knows (gs://, s3://, hdfs://, ram://), through plain reads and writes for
  local files whose filesystem refuses the faster means.

A filesystem that refuses a means (a link across filesystems: EXDEV; a
kernel without copy_file_range: ENOSYS; a filesystem without it:
EOPNOTSUPP, EINVAL, EXDEV) makes the next one run, and the report says which
means ran and why the faster ones did not. Any other error is raised.

The source is only ever opened for reading. A copied target is written under
a hidden temporary name beside it and renamed into place when complete, so
the target path holds the whole file or nothing; a link is made at the
target path directly (one atomic call that refuses an existing target).
Nothing is fsynced: like TF's own checkpoint writer, durability is left to
the filesystem.

Example:
  report = transfer.transfer_file(
      '/ckpt/v1/model.ckpt-100.data-00000-of-00001',
      '/ckpt/v2/.tmp/model.ckpt-100.data-00000-of-00002',
      link=True,
  )
  report.method  # 'link', 'kernel copy' or 'stream'
"""

import dataclasses
import errno
import os
import posixpath
from typing import Literal
import uuid

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files

Method = Literal['link', 'kernel copy', 'stream']
DEFAULT_CHUNK_BYTES = 16 << 20

# errno values meaning "this filesystem (or kernel) does not do that here".
_LINK_REFUSED = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOTSUP}
)
_COPY_REFUSED = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL}
)


@dataclasses.dataclass(frozen=True)
class Transfer:
  """How one file came over.

  Attributes:
    source: The file read.
    target: The file written (or linked).
    method: The means that produced the target.
    size: Bytes of the target.
    refused: Why each faster means was not used, e.g.
      ('link: [Errno 18] Invalid cross-device link',); empty when the first
      means asked for ran.
  """

  source: str
  target: str
  method: Method
  size: int
  refused: tuple[str, ...] = ()


class _Refused(Exception):
  """A means the filesystem does not offer for these paths."""


def _temporary(target: str) -> str:
  directory, base = posixpath.split(target)
  return posixpath.join(directory, f'.{base}.tmp-{uuid.uuid4().hex[:8]}')


def _link(source: str, target: str) -> None:
  try:
    os.link(source, target, follow_symlinks=True)
  except OSError as e:
    if e.errno in _LINK_REFUSED:
      raise _Refused(f'link: {e}') from e
    raise


def _kernel_copy(source: str, tmp: str, size: int, chunk_bytes: int) -> None:
  """copy_file_range until `size` bytes are in `tmp`."""
  if not hasattr(os, 'copy_file_range'):
    raise _Refused('kernel copy: os.copy_file_range is not available here')
  src = os.open(source, os.O_RDONLY)
  try:
    dst = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
      done = 0
      while done < size:
        try:
          count = os.copy_file_range(src, dst, min(chunk_bytes, size - done))
        except OSError as e:
          if e.errno in _COPY_REFUSED:
            raise _Refused(f'kernel copy: {e}') from e
          raise
        if not count:  # some filesystems copy nothing rather than refuse
          raise _Refused(
              f'kernel copy: copied {done} of {size} bytes, then nothing'
          )
        done += count
    finally:
      os.close(dst)
  finally:
    os.close(src)


def _stream(source: str, tmp: str, chunk_bytes: int, local: bool) -> None:
  if not local:
    with tf.io.gfile.GFile(source, 'rb') as src:
      with tf.io.gfile.GFile(tmp, 'wb') as dst:
        while chunk := src.read(chunk_bytes):
          dst.write(chunk)
    return
  # Local files through one reused buffer: tf.io.gfile is ~5x slower here.
  buffer = memoryview(bytearray(chunk_bytes))
  with open(source, 'rb', buffering=0) as src, open(tmp, 'xb') as dst:
    while count := src.readinto(buffer):
      dst.write(buffer[:count])


def _remove(path: str) -> None:
  if tf.io.gfile.exists(path):
    tf.io.gfile.remove(path)


def transfer_file(
    source: str,
    target: str,
    *,
    link: bool = False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Transfer:
  """Makes `target` a file with `source`'s bytes, as cheaply as is safe.

  Args:
    source: The file to bring over; only read. Any tf.io.gfile path.
    target: Where it goes; must not exist. Any tf.io.gfile path.
    link: Allow a hard link (default False: always a separate file).
    chunk_bytes: Bytes per kernel-copy call or streamed read.

  Returns:
    Which means ran, the size, and why faster means were refused.

  Raises:
    CheckpointError: `source` is missing; `target` exists (the source
      itself included, under any name); or the copy failed (nothing is
      left at `target`).
  """
  if not tf.io.gfile.exists(source) or tf.io.gfile.isdir(source):
    raise errors.CheckpointError(
        f'source: {source} is not a file; give an existing data file.'
    )
  if tf.io.gfile.exists(target):
    raise errors.CheckpointError(
        f'target: {target} exists; remove it or choose another path.'
    )
  local = files.is_local(source) and files.is_local(target)
  size = tf.io.gfile.stat(source).length
  refused = []
  if link and local:
    try:
      _link(source, target)
      return Transfer(source, target, 'link', size)
    except _Refused as e:
      refused.append(str(e))
    except OSError as e:
      raise _error(source, target, e) from e
  elif link:
    refused.append('link: only between local files')

  tmp = _temporary(target)
  method: Method = 'stream'
  try:
    if local:
      try:
        _kernel_copy(source, tmp, size, chunk_bytes)
        method = 'kernel copy'
      except _Refused as e:
        refused.append(str(e))
        _remove(tmp)
    if method == 'stream':
      _stream(source, tmp, chunk_bytes, local)
    written = tf.io.gfile.stat(tmp).length
    if written != size:
      raise OSError(
          errno.EIO, f'wrote {written} bytes of {size}; the copy is short'
      )
    tf.io.gfile.rename(tmp, target, overwrite=False)
  except (OSError, tf.errors.OpError) as e:
    raise _error(source, target, e) from e
  finally:
    _remove(tmp)
  return Transfer(source, target, method, size, tuple(refused))


def _error(source: str, target: str, e: Exception) -> errors.CheckpointError:
  message = e.message if isinstance(e, tf.errors.OpError) else str(e)
  return errors.CheckpointError(
      f'target: cannot bring {source} to {target}: {message}. Check free'
      ' space and permissions of the target directory; nothing was left'
      ' at the target.'
  )
