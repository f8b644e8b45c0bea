"""Rewrites one module's source: finds the constructions, then edits them.

TensorFlow's own upgrader (`upgrader`, tf_upgrade_v2's engine without its
canned-estimator rules) runs first, on the original text; then a first
pass (with libcst's qualified names, scopes and positions) decides every
change; a second pass puts the new nodes in place, the comments above
their statements, and the imports the new code needs at the top. Everything
else, comments and formatting included, is kept byte for byte.
"""

import ast
import dataclasses
import re
import sys
import textwrap

import libcst as cst
from libcst import metadata

from estimator_migrate import errors
from estimator_migrate.rewrite import calls
from estimator_migrate.rewrite import keras_exit
from estimator_migrate.rewrite import names
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import upgrader
from estimator_migrate.rewrite import values
from estimator_migrate.tables import estimators

_MARK = 'estimator-migrate:'
_OPTIMIZER_ARGS = frozenset(
    arg.name
    for family in estimators.FAMILIES.values()
    for arg in family.optimizer_args
)
_WIDTH = 80
_EXPORT_V1 = 'export_savedmodel'
_EXPORT_V2 = 'export_saved_model'
# A TensorFlow symbol named in a line of the upgrader's log.
_SYMBOL = re.compile(r'\btf\.[\w.]*\w')
# The toolkit's pass acts only on calls: `.export_savedmodel(...)`, and
# calls whose qualified name ends in a canned estimator or
# `model_to_estimator` (`_Analysis.visit_Call`). Such a call spells that name
# as its function (`tf.estimator.DNNClassifier(`, `DNNClassifier(`) or as an
# import's alias of it. A module with no such call skips the pass, and with
# it libcst's metadata, most of a rewrite's time.
_ACTED_ON = frozenset((*estimators.NAMES, _EXPORT_V1, 'model_to_estimator'))


@dataclasses.dataclass(frozen=True)
class Options:
  """How to rewrite.

  `exact`: use the compat optimizers (`RMSPropV1`, ...) where Keras' class
  differs from v1. `runtime_translate`: a construction whose values are not
  in the source becomes `estimator_migrate.tf2.canned.make_v2_estimator(...)`,
  which translates them with the same tables when it runs; otherwise it is
  left as it is and reported. `to_keras`: after each canned construction
  bound to a name or returned, add its Keras 3 exit
  (`<estimator>.to_keras`, `keras_exit`); one it cannot add is reported.
  `upgrade`: first upgrade everything else with TensorFlow's own upgrader
  (`upgrader`), as `tf_upgrade_v2` would, less its canned-estimator rules.
  """

  exact: bool = False
  runtime_translate: bool = False
  to_keras: bool = False
  upgrade: bool = True


class _Analysis(cst.CSTVisitor):
  """Decides every change; implements `calls.Context` for the translator."""

  METADATA_DEPENDENCIES = (
      metadata.QualifiedNameProvider,
      metadata.ScopeProvider,
      metadata.ParentNodeProvider,
      metadata.PositionProvider,
  )

  def __init__(self, module: cst.Module, path: str, options: Options):
    super().__init__()
    self._module = module
    self._path = path
    self._options = options
    self.imports: set[str] = set()
    self.tf_alias = _tensorflow_alias(module)
    self.uses_tensorflow = False
    self.replacements: dict[cst.CSTNode, cst.CSTNode] = {}
    self.comments: dict[cst.CSTNode, list[str]] = {}
    # statement -> (bound name, its Keras exit, whether it was a return)
    self.exits: dict[cst.CSTNode, tuple[str, cst.CSTNode, bool]] = {}
    self.edits: list[report.Edit] = []
    self.export_lines: set[int] = set()

  # calls.Context
  def qualified(self, node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Call):
      node = node.func
    try:
      found = self.get_metadata(metadata.QualifiedNameProvider, node)
    except KeyError:
      return None
    imported = sorted(
        q.name for q in found if q.source == metadata.QualifiedNameSource.IMPORT
    )
    return imported[0] if imported else None

  def code(self, node: cst.CSTNode) -> str:
    return self._module.code_for_node(node)

  def line(self, node: cst.CSTNode) -> int:
    return self.get_metadata(metadata.PositionProvider, node).start.line

  def column(self, node: cst.CSTNode) -> int:
    return self.get_metadata(metadata.PositionProvider, node).start.column

  def indent(self, node: cst.CSTNode) -> int:
    return self.column(self._statement(node))

  def assigned(self, name: cst.Name) -> cst.BaseExpression | None:
    try:
      scope = self.get_metadata(metadata.ScopeProvider, name)
    except KeyError:
      return None
    if scope is None:
      return None
    assignments = list(scope[name.value])
    if len(assignments) != 1 or not isinstance(
        assignments[0], metadata.Assignment
    ):
      return None
    target = assignments[0].node
    parent = self.get_metadata(metadata.ParentNodeProvider, target, None)
    statement = (
        self.get_metadata(metadata.ParentNodeProvider, parent, None)
        if isinstance(parent, cst.AssignTarget)
        else None
    )
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
      return None
    return statement.value

  def only_optimizer(self, name: cst.Name) -> bool:
    scope = self.get_metadata(metadata.ScopeProvider, name, None)
    if scope is None:
      return False
    for assignment in scope[name.value]:
      for access in assignment.references:
        arg = self.get_metadata(metadata.ParentNodeProvider, access.node, None)
        call = self.get_metadata(metadata.ParentNodeProvider, arg, None)
        if not (
            isinstance(arg, cst.Arg)
            and arg.keyword is not None
            and arg.keyword.value in _OPTIMIZER_ARGS
            and isinstance(call, cst.Call)
            and getattr(names.classify(self.qualified(call) or ''), 'kind', '')
            == 'canned'
        ):
          return False
    return True

  def spell(self, qualified: str) -> str:
    if qualified.startswith('tensorflow.'):
      self.uses_tensorflow = True
      return f'{self.tf_alias}.{qualified.removeprefix("tensorflow.")}'
    module = qualified.rpartition('.')[0]
    self.imports.add(module)
    return qualified

  # Visiting
  def visit_Call(self, node: cst.Call) -> None:
    if (
        isinstance(node.func, cst.Attribute)
        and node.func.attr.value == _EXPORT_V1
    ):
      self._export_saved_model(node)
      return
    api = names.classify(self.qualified(node) or '')
    if api is None or api.kind not in ('canned', 'model_to_estimator'):
      return
    if api.kind == 'canned' and values.is_v2_call(self, node, api):
      self._keras_exit(node, api, node)
      return
    try:
      if api.kind == 'canned':
        rewrite = calls.translate_canned(self, node, api, self._options.exact)
      else:
        rewrite = calls.translate_model_to_estimator(self, node, api)
    except values.NotVisible as e:
      self._not_visible(node, api, str(e))
      return
    except errors.TranslationError as e:
      self._left(node, api, f'cannot be translated: {e}')
      return
    self._record(node, rewrite)
    if api.kind == 'canned':
      self._keras_exit(node, api, rewrite.call or node)

  def _export_saved_model(self, node: cst.Call) -> None:
    """`est.export_savedmodel(...)` -> `est.export_saved_model(...)`.

    v2 estimators have only the second; its positional arguments are the
    first's. `strip_default_attrs` is gone (v2 always strips): `True` is
    dropped (the same SavedModel), anything else is left for the user.
    """
    strip = [
        a
        for a in node.args
        if a.keyword is not None and a.keyword.value == 'strip_default_attrs'
    ]
    if len(node.args) > 5 and not strip:
      strip = list(node.args[5:6])
    if any(a.star for a in node.args) or (
        strip and values.literal(self, strip[0].value) is not True
    ):
      self.export_lines.add(self.line(node))
      self._left_line(
          node,
          _EXPORT_V1,
          'v2 estimators have only export_saved_model, which always strips'
          ' default attributes; rename the call (and drop'
          ' strip_default_attrs) by hand',
      )
      return
    args = [a for a in node.args if a not in strip]
    if args and strip:
      args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    self.replacements[node] = node.with_changes(
        func=node.func.with_changes(attr=cst.Name(_EXPORT_V2)), args=args
    )
    self.export_lines.add(self.line(node))
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            _EXPORT_V1,
            f'.{_EXPORT_V1}(',
            f'.{_EXPORT_V2}(',
            True,
            'v2 estimators export with export_saved_model (same positional'
            ' arguments; default attributes always stripped'
            + (', as strip_default_attrs=True asked' if strip else '')
            + ')',
        )
    )

  def _left_line(self, node, argument, why) -> None:
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            argument,
            self.code(node.func),
            '',
            False,
            why,
            applied=False,
        )
    )

  def _keras_exit(self, node: cst.Call, api: names.Api, final: cst.Call):
    """Decides the Keras 3 exit of a construction (`Options.to_keras`)."""
    if not self._options.to_keras:
      return
    why = keras_exit.unsupported(api)
    statement = self._statement(node)
    parent = self.get_metadata(metadata.ParentNodeProvider, node)
    alone = (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
    )
    target, returned = None, False
    if (
        alone
        and isinstance(parent, cst.Assign)
        and len(parent.targets) == 1
        and isinstance(parent.targets[0].target, cst.Name)
    ):
      target = parent.targets[0].target.value
      block = self.get_metadata(metadata.ParentNodeProvider, statement)
      siblings = list(getattr(block, 'body', ()))
      at = next(i for i, s in enumerate(siblings) if s is statement)
      if at + 1 < len(siblings) and keras_exit.is_exit(
          self._module, siblings[at + 1], target
      ):
        return  # added by an earlier run
    elif alone and isinstance(parent, cst.Return):
      target, returned = self._free_name(node, 'estimator'), True
    elif why is None:
      why = (
          'the construction is neither bound to a name (`est = ...`) nor'
          ' returned'
      )
    if why is None:
      try:
        exit_line = keras_exit.statement(
            self, target, api, final, self.indent(node)
        )
      except values.NotVisible as e:
        why = str(e)
    if why is not None:
      self._no_exit(node, api, why)
      return
    comment = keras_exit.COMMENT.format(target=target)
    exit_line = exit_line.with_changes(leading_lines=_comment_lines([comment]))
    self.exits[statement] = (target, exit_line, returned)
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            'to_keras',
            '',
            f'{target}.to_keras = functools.partial('
            f'{keras_exit.EXPORT}, {api.name!r}, model_dir={target}.model_dir,'
            ' <the same arguments>)',
            False,
            'the Keras 3 exit, added; exactness is decided when it runs'
            ' (canned_to_keras refuses a column or option it cannot carry'
            ' exactly; report.md lists each); the arguments are evaluated'
            ' again there'
            + (
                '; `return X(...)` became a name, the exit and a return'
                if returned
                else ''
            ),
        )
    )

  def _no_exit(self, node: cst.Call, api: names.Api, why: str) -> None:
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            'to_keras',
            self.code(node.func),
            '',
            False,
            f'no Keras exit added: {why}. After training run'
            f' estimator-migrate-export --estimator={api.name}'
            ' --model_dir=<its model_dir> --config=<module:callable'
            ' returning its constructor kwargs> --target=DIR',
            applied=False,
        )
    )

  def _free_name(self, node: cst.CSTNode, stem: str) -> str:
    scope = self.get_metadata(metadata.ScopeProvider, node, None)
    name = stem
    while scope is not None and name in scope:
      name += '_'
    return name

  def _record(self, node: cst.Call, rewrite: calls.CallRewrite) -> None:
    self.replacements[node] = rewrite.call
    self.replacements.update(rewrite.replacements)
    if rewrite.comments:
      self.comments.setdefault(self._statement(node), []).extend(
          rewrite.comments
      )
    self.edits.extend(
        dataclasses.replace(e, path=self._path) for e in rewrite.edits
    )

  def _not_visible(self, node: cst.Call, api: names.Api, reason: str):
    if not self._options.runtime_translate or api.kind != 'canned':
      self._left(
          node,
          api,
          f'{reason}. Make it visible in this file, or rerun with'
          ' --runtime_translate to translate it when it runs.',
      )
      return
    try:
      new = calls.runtime_call(self, node, api, self._options.exact)
    except values.NotVisible as e:
      self._left(node, api, f'{e}; pass the arguments by name.')
      return
    self.replacements[node] = new
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            api.name,
            self.code(node.func),
            self.code(new.func),
            False,
            f'{reason}: translated when it runs, with the same tables'
            ' (exact unless the run says otherwise; print'
            ' canned.translate_canned_args(...).table() to see)',
        )
    )
    if self._options.to_keras:
      self._no_exit(
          node,
          api,
          'translated at run time (make_v2_estimator), so its v2 arguments'
          ' are not in the source',
      )

  def _left(self, node: cst.Call, api: names.Api, why: str) -> None:
    self.edits.append(
        report.Edit(
            self._path,
            self.line(node),
            api.name,
            self.code(node.func),
            '',
            False,
            why,
            applied=False,
        )
    )

  def _statement(self, node: cst.CSTNode) -> cst.CSTNode:
    while not isinstance(
        node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)
    ):
      node = self.get_metadata(metadata.ParentNodeProvider, node)
    return node


def _tensorflow_alias(module: cst.Module) -> str:
  """The name this module binds to `tensorflow` (TF 2), or the one to add."""
  bound = set()
  for statement in module.body:
    if not isinstance(statement, cst.SimpleStatementLine):
      continue
    for small in statement.body:
      if isinstance(small, cst.Import):
        for alias in small.names:
          dotted = module.code_for_node(alias.name)
          local = alias.evaluated_alias or dotted.split('.')[0]
          if dotted == 'tensorflow':
            return local
          bound.add(local)
      elif isinstance(small, cst.ImportFrom) and not isinstance(
          small.names, cst.ImportStar
      ):
        bound.update(
            a.evaluated_alias or module.code_for_node(a.name)
            for a in small.names
        )
  return 'tf' if 'tf' not in bound else 'tf2'


class _Apply(cst.CSTTransformer):
  """Puts the decided nodes and comments in place."""

  def __init__(self, analysis: _Analysis):
    super().__init__()
    self._replacements = analysis.replacements
    self._comments = analysis.comments
    self._exits = analysis.exits

  def on_leave(self, original_node, updated_node):
    new = self._replacements.get(original_node)
    if new is not None:
      return new
    comments = self._comments.get(original_node)
    if comments and hasattr(updated_node, 'leading_lines'):
      updated_node = updated_node.with_changes(
          leading_lines=[
              *updated_node.leading_lines,
              *_comment_lines(comments),
          ]
      )
    if original_node in self._exits:
      return _with_exit(updated_node, *self._exits[original_node])
    return updated_node


def _with_exit(statement, target, exit_line, returned):
  """The statement followed by its Keras exit; a return split in three."""
  if not returned:
    return cst.FlattenSentinel([statement, exit_line])
  value = statement.body[0].value
  bind = statement.with_changes(
      body=[
          cst.Assign(targets=[cst.AssignTarget(cst.Name(target))], value=value)
      ]
  )
  again = cst.SimpleStatementLine([cst.Return(cst.Name(target))])
  return cst.FlattenSentinel([bind, exit_line, again])


def _comment_lines(comments) -> list[cst.EmptyLine]:
  # EmptyLine indents itself to the statement's block.
  lines = []
  for comment in comments:
    for text in textwrap.wrap(
        f'{_MARK} {comment}',
        _WIDTH - 12,
        break_long_words=False,
        break_on_hyphens=False,
    ):
      lines.append(cst.EmptyLine(comment=cst.Comment(f'# {text}')))
  return lines


def _imported(module: cst.Module, statement: cst.CSTNode) -> str | None:
  """The module a top-level import statement imports from, if it is one."""
  if not isinstance(statement, cst.SimpleStatementLine):
    return None
  small = statement.body[0]
  if isinstance(small, cst.Import):
    return module.code_for_node(small.names[0].name)
  if isinstance(small, cst.ImportFrom) and small.module is not None:
    return module.code_for_node(small.module)
  return None


def _add_imports(module: cst.Module, analysis: _Analysis) -> cst.Module:
  """Adds `import tensorflow as <alias>` and the toolkit's modules.

  TensorFlow goes among the imports in sorted place; the toolkit's modules
  after them, in a block of their own (they are a separate package).
  """
  body = list(module.body)
  have = {_imported(module, s) for s in body}
  if analysis.uses_tensorflow and 'tensorflow' not in have:
    line = cst.parse_statement(f'import tensorflow as {analysis.tf_alias}\n')
    position = None
    for i, statement in enumerate(body):
      name = _imported(module, statement)
      if name is not None and name.lower() > 'tensorflow':
        position = i
        break
    if position is None:
      position = _after_imports(module, body)
    elif body[position].leading_lines:
      # Keep blank lines and comments above the block's first import.
      line = line.with_changes(leading_lines=body[position].leading_lines)
      body[position] = body[position].with_changes(leading_lines=[])
    body.insert(position, line)
  wanted = sorted(m for m in analysis.imports if m not in have)
  for name in (m for m in wanted if m in sys.stdlib_module_names):
    body = _add_standard_import(module, body, name)
  wanted = [m for m in wanted if m not in sys.stdlib_module_names]
  if wanted:
    position = _after_imports(module, body)
    new = [cst.parse_statement(f'import {m}\n') for m in wanted]
    new[0] = new[0].with_changes(leading_lines=[cst.EmptyLine()])
    body[position:position] = new
  return module.with_changes(body=body)


def _add_standard_import(module, body, name):
  """`import <name>` among the standard-library imports, or above the rest."""
  line = cst.parse_statement(f'import {name}\n')
  standard = [
      i
      for i, s in enumerate(body)
      if (_imported(module, s) or '.').split('.')[0] in sys.stdlib_module_names
  ]
  if standard:
    after = [i for i in standard if _imported(module, body[i]) > name]
    position = after[0] if after else standard[-1] + 1
  else:
    position = next(
        (i for i, s in enumerate(body) if _imported(module, s) is not None),
        _after_imports(module, body),
    )
    if position < len(body):
      # A section of its own: the first import's comments move above it.
      line = line.with_changes(leading_lines=body[position].leading_lines)
      body[position] = body[position].with_changes(
          leading_lines=[cst.EmptyLine()]
      )
  return body[:position] + [line] + body[position:]


def _after_imports(module: cst.Module, body: list[cst.CSTNode]) -> int:
  index = 0
  for i, statement in enumerate(body):
    if _imported(module, statement) is not None:
      index = i + 1
  if index == 0 and body and _is_docstring(body[0]):
    index = 1
  return index


class _Uses(cst.CSTVisitor):
  """The names a module reads, outside its import statements."""

  def __init__(self):
    super().__init__()
    self.names: set[str] = set()

  def visit_Import(self, node: cst.Import) -> bool:
    return False

  def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
    return False

  def visit_Attribute(self, node: cst.Attribute) -> bool:
    node.value.visit(self)  # `tf` in `tf.estimator`, not `estimator`
    return False

  def visit_Name(self, node: cst.Name) -> None:
    self.names.add(node.value)


def _used(module: cst.Module) -> set[str]:
  uses = _Uses()
  module.visit(uses)
  return uses.names


def _bound(module: cst.Module, alias: cst.ImportAlias) -> str:
  return alias.evaluated_alias or module.code_for_node(alias.name).split('.')[0]


def _remove_unused_tensorflow(old: cst.Module, new: cst.Module) -> cst.Module:
  """Drops the TensorFlow imports the rewrite left unused (only those)."""
  before, after = _used(old), _used(new)
  body = []
  for statement in new.body:
    name = _imported(new, statement)
    if name is None or not name.startswith('tensorflow'):
      body.append(statement)
      continue
    small = statement.body[0]
    aliases = (
        list(small.names) if not isinstance(small.names, cst.ImportStar) else []
    )
    kept = [
        a
        for a in aliases
        if _bound(new, a) in after or _bound(new, a) not in before
    ]
    if not aliases or len(kept) == len(aliases):
      body.append(statement)
    elif kept:
      kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
      body.append(statement.with_changes(body=[small.with_changes(names=kept)]))
  return new.with_changes(body=body)


def _is_docstring(statement: cst.CSTNode) -> bool:
  return (
      isinstance(statement, cst.SimpleStatementLine)
      and isinstance(statement.body[0], cst.Expr)
      and isinstance(statement.body[0].value, cst.SimpleString)
  )


def _parse(source: str, path: str) -> cst.Module:
  try:
    return cst.parse_module(source)
  except cst.ParserSyntaxError as e:
    raise errors.TranslationError(
        f'{path}: not valid Python ({e.message} at line {e.raw_line});'
        ' fix it or leave it out of the paths.'
    ) from e


def _root(func: ast.expr) -> str | None:
  """`tf` for `tf.estimator.X`; None when the chain starts with no name."""
  while isinstance(func, ast.Attribute):
    func = func.value
  return func.id if isinstance(func, ast.Name) else None


def _may_act(tree: ast.Module) -> bool:
  """Whether the toolkit's pass could change the module `tree` is of.

  Only calls whose name is in `_ACTED_ON` (or an import's alias of one) can
  be acted on. `.export_savedmodel(` is, whatever it is called on; the
  others only when libcst's qualified name of the call, the one its root
  name's import gives (`_Analysis.qualified`), names a `tensorflow` API
  (`names.classify`): so only when an import of `tensorflow` or below binds
  that root name somewhere in the module (a superset of what libcst
  resolves, scopes aside). `linear.LinearClassifier(...)` with `linear` from
  `tensorflow_estimator` is not acted on, nor a name nothing imports.
  """
  aliases = set()  # import aliases of an acted-on name
  tensorflow = set()  # names an import of tensorflow binds, in any scope
  calls = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Call):
      calls.append(node.func)
    elif isinstance(node, ast.Import):
      tensorflow.update(
          a.asname or a.name.partition('.')[0]
          for a in node.names
          if a.name.partition('.')[0] == 'tensorflow'
      )
    elif isinstance(node, ast.ImportFrom):
      aliases.update(
          a.asname for a in node.names if a.asname and a.name in _ACTED_ON
      )
      if not node.level and (node.module or '').split('.')[0] == 'tensorflow':
        tensorflow.update(a.asname or a.name for a in node.names)
  for func in calls:
    if isinstance(func, ast.Attribute) and func.attr == _EXPORT_V1:
      return True
    if (
        isinstance(func, ast.Name)
        and (func.id in _ACTED_ON or func.id in aliases)
    ) or (isinstance(func, ast.Attribute) and func.attr in _ACTED_ON):
      root = _root(func)
      if root is None or root in tensorflow:
        return True
  return False


def rewrite_source(
    source: str, path: str = '<string>', options: Options = Options()
) -> tuple[str, tuple[report.Edit, ...]]:
  """Rewrites one module's source.

  TensorFlow's upgrader (`upgrader.upgrade`) runs first, on the original
  text, with its canned-estimator rules taken out: the constructions keep
  the spelling the user wrote (`tf.estimator.X` still means TF 1.x's v1
  class, and a construction tf_upgrade_v2 already touched keeps its form),
  and the upgrader only renames in place, so its lines are the original's.
  Then the toolkit's pass translates the constructions with its tables.

  Args:
    source: The module's text.
    path: Its name in the edits.
    options: How to rewrite.

  Returns:
    The new text (equal to `source` when nothing changes) and the edits,
    including the constructions left as they were and the upgrader's
    lines (argument `tf_upgrade_v2`).

  Raises:
    TranslationError: `source` is not valid Python.
  """
  try:
    tree = ast.parse(source)
  except (SyntaxError, ValueError):
    tree = None
    _parse(source, path)  # libcst's grammar decides: its error, or it parses
  notes = ()
  text = source
  if options.upgrade:
    kept = None if tree is None else upgrader.unchanged_notes(tree, path)
    if kept is not None:  # the text stays, and `tree` is still its tree
      notes = kept
    else:
      upgraded = upgrader.upgrade(source, path, check_unchanged=tree is None)
      text, notes = upgraded.text, upgraded.notes
      tree = None
  if tree is None:
    try:
      tree = ast.parse(text)
    except (SyntaxError, ValueError):
      pass  # libcst's grammar decides, not ours
  if tree is not None and not _may_act(tree):
    edits = sorted(
        (_upgrader_edit(path, note) for note in notes), key=lambda e: e.line
    )
    return text, tuple(edits)
  module = _parse(text, path)
  # Parsed here for this pass alone: libcst's defensive deep copy is not
  # needed (no node of it is shared).
  wrapper = metadata.MetadataWrapper(module, unsafe_skip_copy=True)
  analysis = _Analysis(wrapper.module, path, options)
  wrapper.visit(analysis)
  # The toolkit's own rows supersede the upgrader's about the same code (a
  # v1 optimizer it renamed, then translated; export_savedmodel; a contrib
  # head): a note naming a symbol that a toolkit change on its line read.
  replaced = [(e.line, e.before) for e in analysis.edits if e.applied]
  edits = list(analysis.edits)
  for note in notes:
    if note.line in analysis.export_lines and _EXPORT_V1 in note.message:
      continue
    symbols = _SYMBOL.findall(note.message)
    if any(
        line == note.line and any(s in before for s in symbols)
        for line, before in replaced
    ):
      continue
    edits.append(_upgrader_edit(path, note))
  edits.sort(key=lambda e: e.line)
  if not analysis.replacements and not analysis.exits:
    return wrapper.module.code, tuple(edits)
  new = wrapper.module.visit(_Apply(analysis))
  new = _remove_unused_tensorflow(wrapper.module, new)
  new = _add_imports(new, analysis)
  return new.code, tuple(edits)


def _upgrader_edit(path: str, note: upgrader.Note) -> report.Edit:
  """One line of TensorFlow's upgrader as a report row."""
  renamed = upgrader.RENAMED.match(note.message)
  before, after = renamed.groups() if renamed else ('', '')
  if note.severity == 'INFO':
    return report.Edit(
        path,
        note.line,
        upgrader.ARGUMENT,
        before,
        after,
        True,
        note.message,
        applied=not note.message.startswith(upgrader.NOT_UPGRADING),
    )
  return report.Edit(
      path,
      note.line,
      upgrader.ARGUMENT,
      before,
      after,
      False,
      f'{note.severity}: {note.message}',
      applied=note.severity == 'WARNING' and bool(renamed),
  )
