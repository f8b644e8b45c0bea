"""The bundle layer: TF's tensor bundle format, apart from the estimator side.

`estimator_migrate.checkpoints.bundle` may import only itself and
`estimator_migrate.errors`; nothing of the conversion (source, mapping,
roles, convert) nor of the estimator tables.
"""

import ast
import json
import os
import subprocess
import sys

from absl.testing import absltest

from estimator_migrate.checkpoints.bundle import format as bundle_format
from tests import testing

_BUNDLE = os.path.join(
    testing.REPO_ROOT, 'estimator_migrate', 'checkpoints', 'bundle'
)
_ALLOWED = ('estimator_migrate.errors', 'estimator_migrate.checkpoints.bundle')


def _imports(path: str) -> list[str]:
  """Every module a file imports (`from a import b` counts as `a.b`)."""
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read(), path)
  out = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      out += [f'{node.module}.{alias.name}' for alias in node.names]
  return out


class LayerTest(absltest.TestCase):

  def test_imports_nothing_from_the_estimator_side(self):
    modules = sorted(n for n in os.listdir(_BUNDLE) if n.endswith('.py'))
    self.assertContainsSubset(
        ['format.py', 'index.py', 'index_writer.py', 'ranges.py'], modules
    )
    for name in modules:
      upward = [
          m
          for m in _imports(os.path.join(_BUNDLE, name))
          if m.startswith('estimator_migrate') and not m.startswith(_ALLOWED)
      ]
      self.assertEmpty(upward, name)

  def test_loading_it_loads_no_estimator_module(self):
    code = (
        'import json, sys\n'
        'from estimator_migrate.checkpoints.bundle import'
        ' format, index, index_writer, ranges\n'
        'print(json.dumps(sorted(m for m in sys.modules'
        " if m.startswith(('estimator_migrate', 'tensorflow_estimator')))))\n"
    )
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        check=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=testing.REPO_ROOT),
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual(
        [m for m in loaded if not m.startswith(_ALLOWED)],
        # The package and its old-path aliases (standard library only).
        [
            'estimator_migrate',
            'estimator_migrate._moved',
            'estimator_migrate.checkpoints',
        ],
    )


class NamesTest(absltest.TestCase):

  def test_data_file(self):
    self.assertEqual(
        bundle_format.data_file('/m/model.ckpt-5', 2, 13),
        '/m/model.ckpt-5.data-00002-of-00013',
    )

  def test_data_files_of_an_unsharded_header(self):
    # A header of num_shards=0 (no tensors) still names one data file.
    self.assertEqual(
        bundle_format.data_files('p', 0), ['p.data-00000-of-00001']
    )
    self.assertEqual(
        bundle_format.data_files('p', 2),
        ['p.data-00000-of-00002', 'p.data-00001-of-00002'],
    )


if __name__ == '__main__':
  absltest.main()
