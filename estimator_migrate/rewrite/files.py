"""Rewrites files and directory trees; writes in place only when asked.

In place, each file is written to a temporary name beside it and renamed
over the original once complete, so a failed run leaves every file whole.
"""

from collections.abc import Sequence
import difflib
import os

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import transformer


def python_files(paths: Sequence[str]) -> list[str]:
  """The `.py` files named by `paths` (files, or trees walked in order).

  Raises:
    TranslationError: A path does not exist, or is a file that is not `.py`.
  """
  found = []
  for path in paths:
    if tf.io.gfile.isdir(path):
      for root, dirs, files in tf.io.gfile.walk(path):
        dirs.sort()
        found.extend(
            os.path.join(root, f) for f in sorted(files) if f.endswith('.py')
        )
    elif tf.io.gfile.exists(path):
      if not path.endswith('.py'):
        raise errors.TranslationError(
            f'paths: {path!r} is not a .py file; name Python files or'
            ' directories.'
        )
      found.append(path)
    else:
      raise errors.TranslationError(
          f'paths: {path!r} does not exist; name Python files or directories.'
      )
  return found


def _write_atomically(path: str, text: str) -> None:
  temporary = f'{path}.estimator-migrate.tmp'
  with tf.io.gfile.GFile(temporary, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(temporary, path, overwrite=True)


def rewrite_paths(
    paths: Sequence[str],
    *,
    in_place: bool = False,
    options: transformer.Options | None = None,
) -> report.RewriteReport:
  """Rewrites every Python file under `paths`.

  Args:
    paths: Files and directories.
    in_place: Replace each changed file (atomically); otherwise nothing is
      written and the report carries the new text.
    options: How to rewrite (`transformer.Options`).

  Returns:
    The report: each file's old and new text, and every edit.

  Raises:
    TranslationError: A bad path or a file that is not valid Python (nothing
      is written then).

  Example:
    result = files.rewrite_paths(['trainer/'], in_place=True)
    print(result.markdown())
  """
  results = []
  for path in python_files(paths):
    with tf.io.gfile.GFile(path) as f:
      old = f.read()
    new, edits = transformer.rewrite_source(
        old, path, options or transformer.Options()
    )
    results.append(report.FileResult(path, old, new, edits))
  if in_place:
    for result in results:
      if result.changed:
        _write_atomically(result.path, result.new)
  return report.merge(results)


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
