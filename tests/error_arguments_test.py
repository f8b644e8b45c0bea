"""Every error that names an argument carries it, so binaries name the flag.

A binary rewrites only the arguments an error carries
(`MigrationError.arguments`, see `cli.console.ArgumentFlags`): a raise site
that names `target=` in its message but forgets `argument='target'` would
print `target=...` where the user typed `--target`. The scan reads every
construction of a `MigrationError` (or subclass) in the package whose message
is written at the site, and checks both directions:

- a message that names an argument some binary maps (`name=`, or starting
  with `name `), or that starts with any `identifier=`, carries it;
- every argument carried is named in the message, so no mapping is dead;
- text naming such an argument away from a raise site (advice a helper
  adds to its error) is listed in `_AWAY_FROM_RAISE`, saying where it goes.

The library cases below then raise a few of these errors for real and pass
them through the binaries' own `ArgumentFlags`.
"""

import ast
import os
import pathlib
import re
import tempfile

from absl.testing import absltest
from absl.testing import parameterized

from estimator_migrate import errors
from estimator_migrate.cli import console

_PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'estimator_migrate'
# Stands for an interpolated value: never part of a word.
_VALUE = '\0'
# (module, start of the message) -> why it carries no argument.
_EXEMPT = {
    ('rewrite/calls.py', 'keras_model_path=: to_estimator'): (
        'names an argument of the user code being rewritten, not of a call'
        ' into this package'
    ),
}
# Text naming an argument away from a raise site: (module, start) -> where
# it goes. A new one is either not a message or reaches an error that must
# carry the argument (e.g. `advice_arguments=`).
_AWAY_FROM_RAISE = {
    ('checkpoints/assignment.py', 'estimator variable'): 'a table header',
    ('cli/train_estimator.py', ' dataset='): 'printed on success',
    ('cli/train_estimator.py', ' steps='): 'printed on success',
    ('cli/train_keras.py', 'dataset='): 'printed on success',
    ('rewrite/transformer.py', ', model_dir='): 'source code written',
    ('export/model_fn_export.py', 'model_fn line'): 'a report.md header',
    (
        'export/serving.py',
        'Export without saved_model=True',
    ): "modern.run's advice: carried as advice_arguments=('saved_model',)",
}


def _text(node: ast.expr) -> str | None:
  """The message written at the site, `_VALUE` for each interpolation."""
  if isinstance(node, ast.Constant) and isinstance(node.value, str):
    return node.value
  if isinstance(node, ast.JoinedStr):
    return ''.join(
        v.value if isinstance(v, ast.Constant) else _VALUE for v in node.values
    )
  if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
    left, right = _text(node.left), _text(node.right)
    return (left or _VALUE) + (right or _VALUE)
  return None


def _modules() -> list[tuple[str, ast.Module]]:
  return [
      (str(path.relative_to(_PACKAGE)), ast.parse(path.read_text()))
      for path in sorted(_PACKAGE.rglob('*.py'))
  ]


def _error_classes(modules) -> set[str]:
  """MigrationError and every subclass defined in the package, by name."""
  names = {
      name
      for name, value in vars(errors).items()
      if isinstance(value, type) and issubclass(value, errors.MigrationError)
  }
  classes = [
      (node.name, {ast.unparse(b).split('.')[-1] for b in node.bases})
      for _, tree in modules
      for node in ast.walk(tree)
      if isinstance(node, ast.ClassDef)
  ]
  grown = True
  while grown:
    more = {name for name, bases in classes if bases & names} - names
    names |= more
    grown = bool(more)
  return names


def _binary_arguments() -> dict[str, console.ArgumentFlags]:
  """Each binary's `_ARGUMENTS`, evaluated without importing the binary."""
  found = {}
  for path in sorted((_PACKAGE / 'cli').glob('*.py')):
    for node in ast.walk(ast.parse(path.read_text())):
      if (
          isinstance(node, ast.Assign)
          and ast.unparse(node.targets[0]) == '_ARGUMENTS'
      ):
        found[path.stem] = eval(  # pylint: disable=eval-used
            compile(ast.Expression(node.value), str(path), 'eval'),
            {'console': console},
        )
  return found


def _names(message: str, argument: str) -> bool:
  """Whether `message` names `argument` as `ArgumentFlags` rewrites it."""
  name = re.escape(argument)
  return bool(
      re.search(rf'(?<![\w-]){name}=', message)
      or re.match(rf'{name} ', message)
  )


def _sites():
  """(module, line, message, carried) for each error with a written message."""
  modules = _modules()
  classes = _error_classes(modules)
  for module, tree in modules:
    for node in ast.walk(tree):
      if not (
          isinstance(node, ast.Call)
          and ast.unparse(node.func).split('.')[-1] in classes
          and node.args
      ):
        continue
      message = _text(node.args[0])
      if message is None:
        continue
      carried = ()
      for keyword in node.keywords:
        if keyword.arg == 'argument':
          try:
            carried = ast.literal_eval(keyword.value)
          except ValueError:  # given by the caller, with the text it adds
            carried = None
      if carried is None:
        continue
      carried = (carried,) if isinstance(carried, str) else tuple(carried)
      yield module, node.lineno, message, carried


class StaticScanTest(absltest.TestCase):

  def test_binaries_map_arguments(self):
    binaries = _binary_arguments()
    self.assertIn('convert_checkpoint', binaries)
    self.assertIn('export', binaries)
    self.assertIn('target', binaries['export'].flags)

  def test_sites_found(self):
    sites = list(_sites())
    self.assertGreater(len(sites), 150)
    self.assertGreater(sum(1 for *_, carried in sites if carried), 60)

  def test_every_named_argument_is_carried(self):
    known = set()
    for arguments in _binary_arguments().values():
      known |= set(arguments.flags) | set(arguments.special)
    missing = []
    for module, line, message, carried in _sites():
      if any(module == m and message.startswith(start) for m, start in _EXEMPT):
        continue
      named = {a for a in known if _names(message, a)}
      first = re.match(r'(\w+)=', message)
      if first:
        named.add(first[1])
      if named - set(carried):
        missing.append(
            f'{module}:{line}: {message[:60]!r} names'
            f' {sorted(named - set(carried))}; pass argument='
        )
    self.assertEqual(missing, [], '\n'.join(missing))

  def test_every_carried_argument_is_named(self):
    dead = [
        f'{module}:{line}: {message[:60]!r} carries {a!r}'
        for module, line, message, carried in _sites()
        for a in carried
        if not _names(message, a)
    ]
    self.assertEqual(dead, [], '\n'.join(dead))

  def test_text_away_from_raise_sites_is_known(self):
    known = set()
    for arguments in _binary_arguments().values():
      known |= set(arguments.flags) | set(arguments.special)
    classes = _error_classes(_modules())
    unknown = []
    for module, tree in _modules():
      skip = set()
      for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).split('.')[-1] in classes
        ):
          skip |= {id(n) for n in ast.walk(node)}
        docstring = (
            ast.get_docstring(node, clean=False)
            if isinstance(
                node,
                (
                    ast.Module,
                    ast.ClassDef,
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                ),
            )
            else None
        )
        if docstring is not None:
          skip.add(id(node.body[0].value))
      for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and any(_names(node.value, a) for a in known)
            and not any(
                module == m and node.value.startswith(start)
                for m, start in _AWAY_FROM_RAISE
            )
        ):
          unknown.append(f'{module}:{node.lineno}: {node.value[:60]!r}')
    self.assertEqual(unknown, [], '\n'.join(unknown))


class LibraryErrorsTest(parameterized.TestCase):
  """Errors raised for real, reported as each binary reports them."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.binaries = _binary_arguments()

  def reported(self, binary: str, raise_it) -> str:
    with self.assertRaises(errors.MigrationError) as raised:
      raise_it()
    return self.binaries[binary](raised.exception)

  def test_convert_empty_source(self):
    from estimator_migrate.checkpoints import convert  # pylint: disable=g-import-not-at-top

    self.assertStartsWith(
        self.reported(
            'convert_checkpoint',
            lambda: convert.convert_optimizer_checkpoint('', '/tmp/x'),
        ),
        '--source is empty',
    )

  def test_export_empty_target(self):
    from estimator_migrate.export import target  # pylint: disable=g-import-not-at-top

    self.assertStartsWith(
        self.reported('export', lambda: target.check('', '/m/model.ckpt-1')),
        '--target is empty',
    )

  def test_export_config_not_importable(self):
    from estimator_migrate.export import exporter  # pylint: disable=g-import-not-at-top

    self.assertStartsWith(
        self.reported('export', lambda: exporter.load_config('no_colon')),
        "--config 'no_colon' is not `module:callable`",
    )

  def test_data_dir_not_a_directory(self):
    from estimator_migrate.guide import data  # pylint: disable=g-import-not-at-top

    with tempfile.TemporaryDirectory() as directory:
      missing = os.path.join(directory, 'missing')
      for binary in ('train_keras', 'demo', 'canned_migration'):
        self.assertStartsWith(
            self.reported(
                binary, lambda: data.info('uci_digits', data_dir=missing)
            ),
            f'--data_dir={missing} is not a directory',
        )


if __name__ == '__main__':
  absltest.main()
