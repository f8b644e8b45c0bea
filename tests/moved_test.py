"""Import paths from before the layout along the road keep working, warning.

Users' code imports `estimator_migrate.canned` and the like; after the move
each old name must give the same module object as its new place and warn
once, at the user's line, naming the new path. CHANGELOG.md lists the moves.
"""

import importlib
import os
import sys
import tomllib
import warnings

from absl.testing import absltest
from absl.testing import parameterized

import estimator_migrate
from estimator_migrate import _moved
from estimator_migrate.cluster import loopback
from tests import testing

_PACKAGE = os.path.dirname(os.path.abspath(estimator_migrate.__file__))
# `examples` is a package of the installed wheel only (pyproject's
# package-dir); in the source tree its binaries are imported from cli/.
_SOURCE_TREE_ONLY = 'estimator_migrate.examples.'


def _file_of(dotted: str) -> str:
  parts = dotted.split('.')[1:]
  return os.path.join(_PACKAGE, *parts) + '.py'


class MovedTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (old.replace('.', '_'), old, new) for old, new in _moved.MOVED.items()
  )
  def test_old_path_is_the_new_module_and_warns(self, old, new):
    self.assertTrue(os.path.isfile(_file_of(new)), f'{new} does not exist')
    self.assertFalse(
        os.path.exists(_file_of(old)), f'{old} still exists beside {new}'
    )
    if old.startswith(_SOURCE_TREE_ONLY):
      return  # its parent package exists only once installed
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      moved = importlib.import_module(old)
    self.assertIs(moved, importlib.import_module(new))
    messages = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    self.assertLen(messages, 1, [str(w.message) for w in caught])
    self.assertIn(f'{old} moved to {new}', str(messages[0].message))

  def test_warning_points_at_the_importing_line(self):
    sys.modules.pop('estimator_migrate.canned', None)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      import estimator_migrate.canned  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import
    self.assertEqual(caught[0].filename, __file__)

  def test_from_package_import_old_name(self):
    sys.modules.pop('estimator_migrate.optimizers', None)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      from estimator_migrate import optimizers  # pylint: disable=g-import-not-at-top
    from estimator_migrate.tables import optimizers as new  # pylint: disable=g-import-not-at-top

    self.assertIs(optimizers, new)
    self.assertEqual(caught[0].filename, __file__)

  @parameterized.parameters(
      'LocalCluster', 'ClusterError', 'free_ports', 'tf_config'
  )
  def test_cluster_module_names_resolve_to_loopback(self, name):
    from estimator_migrate import cluster  # pylint: disable=g-import-not-at-top

    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      value = getattr(cluster, name)
    self.assertIs(value, getattr(loopback, name))
    self.assertLen(caught, 1)
    self.assertEqual(caught[0].filename, __file__)
    self.assertIn(
        f'estimator_migrate.cluster.loopback.{name}', str(caught[0].message)
    )

  def test_unknown_names_still_fail(self):
    with self.assertRaises(ModuleNotFoundError):
      importlib.import_module('estimator_migrate.no_such_module')
    from estimator_migrate import cluster  # pylint: disable=g-import-not-at-top

    with self.assertRaises(AttributeError):
      _ = cluster.no_such_name

  def test_the_wheel_holds_every_package(self):
    with open(os.path.join(testing.REPO_ROOT, 'pyproject.toml'), 'rb') as f:
      listed = set(tomllib.load(f)['tool']['setuptools']['packages'])
    present = {
        os.path.relpath(root, os.path.dirname(_PACKAGE)).replace(os.sep, '.')
        for root, _, names in os.walk(_PACKAGE)
        if '__init__.py' in names
    }
    self.assertEmpty(present - listed, 'packages pyproject.toml leaves out')
    self.assertEmpty(
        {
            p
            for p in listed - present
            if not p.startswith(_SOURCE_TREE_ONLY[:-1])
        }
        - {'estimator_migrate.guide.datasets'},
        'packages pyproject.toml lists that do not exist',
    )

  def test_changelog_lists_every_move(self):
    with open(os.path.join(testing.REPO_ROOT, 'CHANGELOG.md')) as f:
      changelog = f.read()
    for old, new in _moved.MOVED.items():
      self.assertIn(f'`{old}` -> `{new}`', changelog)


if __name__ == '__main__':
  absltest.main()
