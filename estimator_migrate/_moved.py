"""Old import paths of modules that moved, kept working with a warning.

Version 0.2 laid the package out along the road (see CHANGELOG.md). Code
written against 0.1 imports, e.g., `estimator_migrate.canned`; that name
now resolves to `estimator_migrate.tf2.canned` (the same module object) and
warns once with a `DeprecationWarning` naming the new path.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

# Old dotted name -> new dotted name. CHANGELOG.md lists the same moves.
MOVED = {
    'estimator_migrate.estimators': 'estimator_migrate.tables.estimators',
    'estimator_migrate.optimizers': 'estimator_migrate.tables.optimizers',
    'estimator_migrate.heads': 'estimator_migrate.tables.heads',
    'estimator_migrate.compat_optimizers': (
        'estimator_migrate.tables.compat_optimizers'
    ),
    'estimator_migrate.canned': 'estimator_migrate.tf2.canned',
    'estimator_migrate.keras_estimator': (
        'estimator_migrate.tf2.keras_estimator'
    ),
    'estimator_migrate.model_fn': 'estimator_migrate.tf2.model_fn',
    'estimator_migrate.side_by_side': 'estimator_migrate.tf2.side_by_side',
    'estimator_migrate.differences': 'estimator_migrate.tf2.differences',
    'estimator_migrate.data': 'estimator_migrate.guide.data',
    'estimator_migrate.models': 'estimator_migrate.guide.models',
    'estimator_migrate.training': 'estimator_migrate.guide.training',
    'estimator_migrate.palmer_penguins': (
        'estimator_migrate.guide.palmer_penguins'
    ),
    'estimator_migrate.uci_digits': 'estimator_migrate.guide.uci_digits',
    'estimator_migrate.cluster_trainers': 'estimator_migrate.cluster.trainers',
    'estimator_migrate.cluster_keras': 'estimator_migrate.keras3.cluster_fit',
    'estimator_migrate.console': 'estimator_migrate.cli.console',
    'estimator_migrate.export.keras3_model': (
        'estimator_migrate.keras3.canned_model'
    ),
    'estimator_migrate.export.custom_keras3_model': (
        'estimator_migrate.keras3.custom_model'
    ),
    'estimator_migrate.checkpoints.bundle_format': (
        'estimator_migrate.checkpoints.bundle.format'
    ),
    'estimator_migrate.checkpoints.index': (
        'estimator_migrate.checkpoints.bundle.index'
    ),
    'estimator_migrate.checkpoints.index_writer': (
        'estimator_migrate.checkpoints.bundle.index_writer'
    ),
    'estimator_migrate.checkpoints.ranges': (
        'estimator_migrate.checkpoints.bundle.ranges'
    ),
    'estimator_migrate.examples.train_keras': (
        'estimator_migrate.cli.train_keras'
    ),
    'estimator_migrate.examples.canned_migration': (
        'estimator_migrate.cli.canned_migration'
    ),
    'estimator_migrate.examples.train_estimator': (
        'estimator_migrate.cli.train_estimator'
    ),
}
# `estimator_migrate.cluster` is now a package; its old names resolve to
# `estimator_migrate.cluster.loopback` (see cluster/__init__.py).


def _caller_level() -> int:
  """The stack level of the first frame outside this package's import code.

  `warnings.warn` itself skips importlib's frames and does not count them.
  """
  frame, level = sys._getframe(2), 2  # pylint: disable=protected-access
  while frame is not None:
    name = frame.f_code.co_filename
    if 'importlib' not in name:
      if name != __file__ and frame.f_globals.get('__name__') != (
          'estimator_migrate.cluster'
      ):
        return level
      level += 1
    frame = frame.f_back
  return level


def warn(old: str, new: str) -> None:
  """Warns that `old` moved to `new`, at the line that named `old`."""
  warnings.warn(
      f'{old} moved to {new}; import it from there ({old} will be removed'
      ' in a future version).',
      DeprecationWarning,
      stacklevel=_caller_level(),
  )


class _Alias(importlib.abc.Loader):
  """Loads an old name as the module at its new name."""

  def __init__(self, new: str):
    self._new = new

  def create_module(self, spec):
    warn(spec.name, self._new)
    return importlib.import_module(self._new)

  def exec_module(self, module):
    del module  # already executed under its new name


class _Finder(importlib.abc.MetaPathFinder):
  """Finds the old names of moved modules."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    new = MOVED.get(fullname)
    if new is None:
      return None
    return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
  """Makes every old name importable (once per interpreter)."""
  if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.append(_Finder())
