"""Rewrites files and directory trees; writes in place only when asked.

Each file is read as bytes and decoded with the encoding Python itself would
use (its PEP 263 coding line or BOM, else UTF-8: `tokenize.detect_encoding`);
a rewritten file is encoded back in the same encoding, so every byte outside
the changed constructions is kept.

Trees are walked following symbolic links, and each real file and directory
is visited once, however many links reach it (a link loop ends the walk
there). In place, a changed file is written to a temporary file beside the
real file (through a symbolic link), given the original's mode and owner,
flushed to disk and renamed over it: at every instant the file is the old one
or the new one, and its links, mode and owner stay as they were. A file with
more than one hard link is refused (a rename would break the links; writing
through the inode could not be atomic), as are a read-only file and a file in
a read-only directory: read-only means without the owner's write bit, checked
from the mode, since the kernel lets root write anyway.

A file that cannot be read, decoded, parsed or written is left as it was and
reported (`report.Failure`, one line); the rest are still rewritten.

A file none of whose identifiers the rewrite acts on (`prefilter`: no
`tensorflow`, no `tf`, ...) is read and reported unchanged without going
through libcst. A tree may be rewritten by a pool of worker processes
(`jobs`, default one per usable core), each file whole in one process,
started once the work left is worth a worker's start-up (seconds of
importing TensorFlow); results are gathered in the order the files were
found, so the report and the diff are the same for any number of jobs. A
small tree is rewritten in this process.
Paths with a scheme (`gs://...`) are read and written with `tf.io.gfile`
(no links, modes or owners there).
"""

import collections
from collections.abc import Iterator, Sequence
from concurrent import futures
import contextlib
import dataclasses
import difflib
import io
import logging as std_logging
import multiprocessing
import os
import stat
import tempfile
import time
import tokenize

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files as checkpoint_files
from estimator_migrate.rewrite import prefilter
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import transformer

_SUFFIX = '.estimator-migrate.tmp'
# Below this many bytes of source, starting workers (each imports TensorFlow
# and libcst, seconds of CPU) costs more than it saves.
_PARALLEL_MIN_BYTES = 256 * 1024
# What a spawned worker spends before its first file (importing TensorFlow,
# libcst and the toolkit): about 3 s of a core. Workers are started once the
# work left, at this process's pace so far, is at least twice that: below,
# they would cost more than they save (and on a busy machine, slow this one).
_WORKER_START_CPU_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class Found:
  """The `.py` files under some paths, and what could not be listed.

  `files` are paths as reached (through links), each real file once, in
  walk order; `failures` name directories or links that could not be read.
  """

  files: tuple[str, ...]
  failures: tuple[report.Failure, ...]


def _identity(st: os.stat_result) -> tuple[int, int]:
  return st.st_dev, st.st_ino


def _reason(e: OSError) -> str:
  return e.strerror or str(e)


def _walk_local(
    root: str, seen: set[tuple[int, int]]
) -> Iterator[str | report.Failure]:
  """Yields the `.py` paths under `root`, each real directory entered once."""
  listing_errors: list[OSError] = []
  for directory, dirs, names in os.walk(
      root, followlinks=True, onerror=listing_errors.append
  ):
    yield from _unlisted(listing_errors)
    kept = []
    for name in sorted(dirs):
      try:
        key = _identity(os.stat(os.path.join(directory, name)))
      except OSError:
        continue  # os.walk reports it when it cannot list it
      if key not in seen:  # a link back up (a loop) or to a directory seen
        seen.add(key)
        kept.append(name)
    dirs[:] = kept
    for name in sorted(names):
      if name.endswith('.py'):
        yield os.path.join(directory, name)
  yield from _unlisted(listing_errors)  # the last directory, or the root


def _unlisted(listing_errors: list[OSError]) -> Iterator[report.Failure]:
  for e in listing_errors:
    yield report.Failure(
        e.filename,
        f'{e.filename}: directory cannot be listed ({_reason(e)}); its files'
        ' were not rewritten: make it readable or leave it out.',
    )
  listing_errors.clear()


def find_python_files(paths: Sequence[str]) -> Found:
  """The `.py` files named by `paths` (files, or trees walked in order).

  Symbolic links are followed; each real file and directory counts once
  (by device and inode), so a link loop or two links to one file are
  harmless. A `.py` name that is a broken link, or not a regular file, is
  kept in `files` and fails when read.

  Args:
    paths: Files and directories.

  Returns:
    The files, and the directories that could not be listed.

  Raises:
    TranslationError: A path does not exist, or is a file that is not `.py`.
  """
  found: list[str] = []
  failures: list[report.Failure] = []
  seen_directories: set[tuple[int, int]] = set()
  seen_files: set[tuple[int, int] | str] = set()

  def add(path: str) -> None:
    if checkpoint_files.is_local(path):
      try:
        key = _identity(os.stat(path))
      except OSError:
        key = os.path.abspath(path)  # fails, once, when read
    else:
      key = path
    if key not in seen_files:
      seen_files.add(key)
      found.append(path)

  for path in paths:
    if tf.io.gfile.isdir(path):
      if not checkpoint_files.is_local(path):
        for root, dirs, names in tf.io.gfile.walk(path):
          dirs.sort()
          for name in sorted(names):
            if name.endswith('.py'):
              add(os.path.join(root, name))
        continue
      key = _identity(os.stat(path))
      if key in seen_directories:
        continue
      seen_directories.add(key)
      for item in _walk_local(path, seen_directories):
        if isinstance(item, report.Failure):
          failures.append(item)
        else:
          add(item)
    elif tf.io.gfile.exists(path):
      if not path.endswith('.py'):
        raise errors.TranslationError(
            f'paths: {path!r} is not a .py file; name Python files or'
            ' directories.'
        )
      add(path)
    else:
      raise errors.TranslationError(
          f'paths: {path!r} does not exist; name Python files or directories.'
      )
  return Found(tuple(found), tuple(failures))


def python_files(paths: Sequence[str]) -> list[str]:
  """The `.py` files named by `paths` (see `find_python_files`).

  Raises:
    TranslationError: A path does not exist, is a file that is not `.py`, or
      a directory below it cannot be listed.
  """
  found = find_python_files(paths)
  if found.failures:
    raise errors.TranslationError(found.failures[0].message)
  return list(found.files)


class _FileError(Exception):
  """One file cannot be rewritten; the message is its one line."""


@dataclasses.dataclass(frozen=True)
class _Read:
  data: bytes
  stat: os.stat_result | None  # local files: the file as read


def _read(path: str) -> _Read:
  if not checkpoint_files.is_local(path):
    try:
      with tf.io.gfile.GFile(path, 'rb') as f:
        return _Read(f.read(), None)
    except tf.errors.OpError as e:
      raise _FileError(f'{path}: cannot be read ({e.message}).') from e
  try:
    st = os.stat(path)
  except OSError as e:
    what = (
        'a symbolic link that leads nowhere: ' if os.path.islink(path) else ''
    )
    raise _FileError(
        f'{path}: cannot be read ({what}{_reason(e)}); fix it or leave it'
        ' out.'
    ) from e
  if not stat.S_ISREG(st.st_mode):
    raise _FileError(
        f'{path}: is not a regular file; leave it out of the paths.'
    )
  try:
    with open(path, 'rb') as f:
      return _Read(f.read(), os.fstat(f.fileno()))
  except OSError as e:
    raise _FileError(
        f'{path}: cannot be read ({_reason(e)}); make it readable or leave'
        ' it out.'
    ) from e


def _decodes(data: bytes, encoding: str) -> bool:
  try:
    data.decode(encoding)
  except UnicodeDecodeError:
    return False
  return True


def decode(data: bytes, path: str) -> tuple[str, str]:
  """Decodes a Python source file as Python would (PEP 263).

  Args:
    data: The file's bytes.
    path: Its name, for errors.

  Returns:
    The text and the encoding (`utf-8-sig` when it starts with a BOM).

  Raises:
    TranslationError: A NUL byte, an unknown declared encoding, or bytes
      that are not valid in the encoding: not Python source.
  """
  nul = data.find(b'\0')
  if nul >= 0:
    raise errors.TranslationError(
        f'{path}: not Python source (a NUL byte at offset {nul}: a binary'
        ' file?); leave it out of the paths.'
    )
  try:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
  except SyntaxError as e:
    # Also raised for bytes that are not UTF-8 in the first two lines of a
    # file without a coding line: then name the byte, as below.
    undeclared = not e.msg.startswith('unknown encoding')
    if not undeclared or _decodes(data, 'utf-8'):
      raise errors.TranslationError(
          f'{path}: its coding line cannot be used ({e.msg}); fix the'
          ' encoding it declares or leave it out of the paths.'
      ) from e
    encoding = 'utf-8'
  try:
    return data.decode(encoding), encoding
  except UnicodeDecodeError as e:
    raise errors.TranslationError(
        f'{path}: not Python source (byte 0x{data[e.start]:02x} at offset'
        f' {e.start} is not valid {encoding}); if it is Python, declare its'
        ' encoding in a coding line (PEP 263), else leave it out of the'
        ' paths.'
    ) from e


def _unwritable(path: str, st: os.stat_result) -> str | None:
  """Why `path` cannot be written (by mode first: root may write anything)."""
  mode = stat.S_IMODE(st.st_mode)
  if not mode & stat.S_IWUSR:
    return f'read-only (mode {mode:04o}; chmod u+w)'
  if os.statvfs(path).f_flag & os.ST_RDONLY:
    return 'on a read-only filesystem'
  if not os.access(path, os.W_OK):
    return f'not writable by this user (mode {mode:04o})'
  return None


def _check_writable(path: str, real: str, st: os.stat_result) -> None:
  """Refuses what an in-place write would damage, as one line."""
  if st.st_nlink > 1:
    raise _FileError(
        f'{path}: has {st.st_nlink} hard links; left as it was, since'
        ' replacing it would break the links and writing through them would'
        ' change every name at once: break the link (cp it to a new name,'
        ' mv that back) and run again, or apply the diff of a run that is'
        ' not in place by hand.'
    )
  unwritable = _unwritable(real, st)
  if unwritable:
    raise _FileError(
        f'{path}: is {unwritable}; left as it was: make it writable and run'
        ' again, or apply the diff of a run that is not in place.'
    )
  directory = os.path.dirname(real)
  unwritable = _unwritable(directory, os.stat(directory))
  if unwritable:
    raise _FileError(
        f'{path}: its directory {directory} is {unwritable}, and in place'
        ' needs a temporary file beside it; left as it was: make the'
        ' directory writable and run again, or run not in place.'
    )


def _fsync_directory(directory: str) -> None:
  fd = os.open(directory, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


@contextlib.contextmanager
def _temporary_beside(real: str) -> Iterator[tuple[int, str]]:
  """A new temporary file in `real`'s directory, removed unless renamed."""
  fd, temporary = tempfile.mkstemp(
      dir=os.path.dirname(real),
      prefix=f'.{os.path.basename(real)}.',
      suffix=_SUFFIX,
  )
  try:
    yield fd, temporary
  finally:
    with contextlib.suppress(OSError):
      os.close(fd)
    with contextlib.suppress(FileNotFoundError):
      os.unlink(temporary)


def _write_all(fd: int, data: bytes) -> None:
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view) :]


def _replace_local(path: str, data: bytes, before: os.stat_result) -> None:
  """Atomically replaces the real file behind `path`, keeping mode and owner.

  Raises:
    _FileError: It is refused or cannot be written; it is unchanged.
  """
  real = os.path.realpath(path)
  try:
    _check_writable(path, real, before)
    with _temporary_beside(real) as (fd, temporary):
      _write_all(fd, data)
      try:
        # chown first: it clears set-id bits that chmod then restores.
        os.fchown(fd, before.st_uid, before.st_gid)
      except PermissionError as e:
        raise _FileError(
            f'{path}: is owned by uid {before.st_uid} gid {before.st_gid} and'
            ' a rewrite by this user would change its owner; left as it'
            ' was: run as its owner, or run not in place.'
        ) from e
      os.fchmod(fd, stat.S_IMODE(before.st_mode))
      os.fsync(fd)
      now = os.stat(real)
      if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
          before.st_dev,
          before.st_ino,
          before.st_size,
          before.st_mtime_ns,
      ):
        raise _FileError(
            f'{path}: changed while it was being rewritten; left as it is'
            ' now: run again.'
        )
      os.replace(temporary, real)
    _fsync_directory(os.path.dirname(real))
  except OSError as e:
    raise _FileError(
        f'{path}: cannot be written in place ({_reason(e)}); left as it was:'
        ' free space or make its directory writable and run again, or'
        ' run not in place.'
    ) from e


def _replace_remote(path: str, data: bytes) -> None:
  temporary = f'{path}{_SUFFIX}'
  try:
    with tf.io.gfile.GFile(temporary, 'wb') as f:
      f.write(data)
    tf.io.gfile.rename(temporary, path, overwrite=True)
  except tf.errors.OpError as e:
    with contextlib.suppress(tf.errors.OpError):
      tf.io.gfile.remove(temporary)
    raise _FileError(
        f'{path}: cannot be written in place ({e.message}); left as it was.'
    ) from e


def _rewrite_file(
    path: str, in_place: bool, options: transformer.Options
) -> report.FileResult:
  read = _read(path)
  try:
    old, encoding = decode(read.data, path)
    if not prefilter.may_change(old):
      return report.FileResult(path, old, old, ())
    new, edits = transformer.rewrite_source(old, path, options)
  except errors.TranslationError as e:
    raise _FileError(str(e)) from e
  if in_place and new != old:
    try:
      data = new.encode(encoding)
    except UnicodeEncodeError as e:
      raise _FileError(
          f'{path}: the rewrite does not fit its encoding {encoding}; left as'
          ' it was: declare utf-8 in its coding line and run again.'
      ) from e
    if read.stat is None:
      _replace_remote(path, data)
    else:
      _replace_local(path, data, read.stat)
  return report.FileResult(path, old, new, edits)


def rewrite_paths(
    paths: Sequence[str],
    *,
    in_place: bool = False,
    options: transformer.Options | None = None,
    jobs: int | None = None,
) -> report.RewriteReport:
  """Rewrites every Python file under `paths`.

  Each file is read, rewritten and (in place) written on its own: one that
  cannot be is left as it was and listed in the report's `failures` with
  one line saying what to do, and the rest are still rewritten.

  Args:
    paths: Files and directories (symbolic links followed, each real file
      once).
    in_place: Replace each changed file atomically, keeping its encoding,
      mode, owner and links; otherwise nothing is written and the report
      carries the new text.
    options: How to rewrite (`transformer.Options`).
    jobs: Worker processes (default: one per usable core); 1 rewrites in
      this process, as does a tree under 256 KiB. The report is the same for
      any number.

  Returns:
    The report: each rewritten file's old and new text, every edit, and the
    files left as they were (`failures`).

  Raises:
    TranslationError: A path does not exist or is a file that is not `.py`,
      or `jobs` is below 1 (nothing is read or written then).

  Example:
    result = files.rewrite_paths(['trainer/'], in_place=True)
    print(result.markdown())
  """
  if jobs is not None and jobs < 1:
    raise errors.TranslationError(
        f'jobs={jobs}: must be at least 1 (1 rewrites in this process).',
        argument='jobs',
    )
  found = find_python_files(paths)
  options = options or transformer.Options()
  jobs = min(jobs or usable_cores(), len(found.files))
  sizes = _sizes(found.files) if jobs > 1 else []
  if jobs > 1 and sum(sizes) >= _PARALLEL_MIN_BYTES:
    outcomes = _rewrite_in_pool(found.files, sizes, in_place, options, jobs)
  else:
    outcomes = [_rewrite_one(p, in_place, options) for p in found.files]
  results = [o for o in outcomes if isinstance(o, report.FileResult)]
  failures = list(found.failures)
  failures += [o for o in outcomes if isinstance(o, report.Failure)]
  return report.merge(results, failures)


def usable_cores() -> int:
  """The cores this process may run on (its CPU affinity), at least 1."""
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # no sched_getaffinity (macOS)
    return os.cpu_count() or 1


def _sizes(paths: Sequence[str]) -> list[int]:
  """Each file's size in bytes; 0 when it cannot be read (it fails later)."""
  sizes = []
  for path in paths:
    try:
      if checkpoint_files.is_local(path):
        sizes.append(os.stat(path).st_size)
      else:
        sizes.append(tf.io.gfile.stat(path).length)
    except (OSError, tf.errors.OpError):
      sizes.append(0)
  return sizes


def _rewrite_one(
    path: str, in_place: bool, options: transformer.Options
) -> report.FileResult | report.Failure:
  """One file's outcome; runs in a worker process or in this one."""
  try:
    return _rewrite_file(path, in_place, options)
  except _FileError as e:
    return report.Failure(path, str(e))


def _start_worker(tensorflow_log_level: int) -> None:
  # As quiet as this process: a binary shows TensorFlow's Python warnings
  # only when asked (console), and a worker's would reach the same stderr.
  std_logging.getLogger('tensorflow').setLevel(tensorflow_log_level)


def _started() -> None:
  """Returns once a worker has started (imported this module)."""


def _worth_workers(left_bytes: int, done_bytes: int, spent: float) -> bool:
  """Whether the work left, at this process's pace so far, pays for workers.

  Args:
    left_bytes: Bytes of the files no process has taken yet.
    done_bytes: Bytes of the files this process has rewritten.
    spent: The CPU seconds it spent on them.
  """
  pace = spent / done_bytes if done_bytes else 0.0
  return left_bytes * pace >= 2 * _WORKER_START_CPU_SECONDS


def _stop(pool: futures.ProcessPoolExecutor, started: futures.Future) -> None:
  """Shuts the pool down; a worker still starting, with nothing to do, ends."""
  if not started.done():
    # Not waited for: it would only finish importing TensorFlow, then exit.
    for process in list(getattr(pool, '_processes', {}).values()):
      process.terminate()
  pool.shutdown(wait=True, cancel_futures=True)


def _rewrite_in_pool(
    paths: Sequence[str],
    sizes: Sequence[int],
    in_place: bool,
    options: transformer.Options,
    jobs: int,
) -> list[report.FileResult | report.Failure]:
  """Each file's outcome, in the order of `paths`, from `jobs` processes.

  This process is one of them: it has TensorFlow and libcst loaded already,
  and starts rewriting at once. The `jobs - 1` others are started when the
  work left, at this process's pace so far, is worth their start-up
  (`_worth_workers`), and get files once one has started; until then this
  process goes on (so a small tree is done here). They are spawned:
  TensorFlow runs threads from import on, and a fork of a threaded process
  may hang. Files are handed out one at a time, largest first (so no
  process is left with a big one at the end), each worker kept one file
  ahead. A file whose worker died (the pool is then broken) is rewritten
  here, as with one job.
  """
  outcomes: list[report.FileResult | report.Failure | None] = [None] * len(
      paths
  )
  queue = collections.deque(
      sorted(range(len(paths)), key=lambda i: (-sizes[i], i))
  )
  left = sum(sizes)
  done_bytes, spent = 0, 0.0
  in_flight: dict[futures.Future[report.FileResult | report.Failure], int] = {}
  broken = False
  pool = started = None
  try:
    while queue or in_flight:
      if pool is None and queue and _worth_workers(left, done_bytes, spent):
        pool = futures.ProcessPoolExecutor(
            jobs - 1,
            mp_context=multiprocessing.get_context('spawn'),
            initializer=_start_worker,
            initargs=(std_logging.getLogger('tensorflow').level,),
        )
        # Files go to the workers once they have started: until then, this
        # process rewrites them (a start is seconds of imports).
        started = pool.submit(_started)
      while (
          pool is not None
          and not broken
          and started.done()
          and queue
          and len(in_flight) < 2 * (jobs - 1)
      ):
        i = queue.popleft()
        try:
          in_flight[pool.submit(_rewrite_one, paths[i], in_place, options)] = i
          left -= sizes[i]
        except futures.process.BrokenProcessPool:
          broken = True
          queue.appendleft(i)
      if queue:
        i = queue.popleft()
        left -= sizes[i]
        before = time.process_time()
        outcomes[i] = _rewrite_one(paths[i], in_place, options)
        spent += time.process_time() - before
        done_bytes += sizes[i]
        done = [f for f in in_flight if f.done()]
      else:
        done, _ = futures.wait(in_flight, return_when=futures.FIRST_COMPLETED)
      for future in done:
        i = in_flight.pop(future)
        try:
          outcomes[i] = future.result()
        except futures.process.BrokenProcessPool:
          broken = True
          queue.appendleft(i)
          left += sizes[i]
  finally:
    if pool is not None:
      _stop(pool, started)
  return [o for o in outcomes if o is not None]


def check_new_file(path: str, argument: str) -> None:
  """Refuses, before any work, a file that `write_file` could not create.

  Args:
    path: The file to write later (e.g. a report).
    argument: The argument that names it, for errors.

  Raises:
    MigrationError: `path` is a directory, or its directory is missing or
      read-only (by its mode, for root too).
  """
  if tf.io.gfile.isdir(path):
    raise errors.MigrationError(
        f'{argument}={path!r} is a directory; name a file.'
    )
  if not checkpoint_files.is_local(path):
    return
  directory = os.path.dirname(os.path.realpath(path))
  if not os.path.isdir(directory):
    raise errors.MigrationError(
        f'{argument}={path!r}: its directory does not exist; create it first.'
    )
  unwritable = _unwritable(directory, os.stat(directory))
  if unwritable:
    raise errors.MigrationError(
        f'{argument}={path!r}: its directory is {unwritable}; name a'
        ' writable place.'
    )


def write_file(path: str, text: str, argument: str) -> None:
  """Writes `text` (UTF-8) to `path` under a temporary name, then renames.

  A failure leaves nothing behind: no temporary file, and `path` as it was.
  A new file gets the usual mode (0666 less the umask); an existing one
  keeps its mode.

  Raises:
    MigrationError: It cannot be written; names `argument`.
  """
  data = text.encode('utf-8')
  if not checkpoint_files.is_local(path):
    try:
      _replace_remote(path, data)
    except _FileError as e:
      raise errors.MigrationError(f'{argument}={path!r}: {e}') from e
    return
  real = os.path.realpath(path)
  try:
    mode = stat.S_IMODE(os.stat(real).st_mode)
  except FileNotFoundError:
    umask = os.umask(0)
    os.umask(umask)
    mode = 0o666 & ~umask
  try:
    with _temporary_beside(real) as (fd, temporary):
      _write_all(fd, data)
      os.fchmod(fd, mode)
      os.fsync(fd)
      os.replace(temporary, real)
    _fsync_directory(os.path.dirname(real))
  except OSError as e:
    raise errors.MigrationError(
        f'{argument}={path!r} cannot be written ({_reason(e)}); name a'
        ' writable place with free space.'
    ) from e


def diff(result: report.RewriteReport) -> str:
  """A unified diff of every changed file."""
  return ''.join(
      ''.join(
          difflib.unified_diff(
              f.old.splitlines(keepends=True),
              f.new.splitlines(keepends=True),
              f'a/{f.path}',
              f'b/{f.path}',
          )
      )
      for f in result.files
      if f.changed
  )
