"""TensorFlow's own upgrader (`tf_upgrade_v2`'s engine), used as a library.

Everything in a TF 1.x file that is not a canned-estimator construction
(`tf.ConfigProto`, `tf.gfile`, `tf.logging`, `tf.decode_csv`, `tf.train.*`
outside estimators, `tf.layers`, ...) is upgraded by TensorFlow's
`ast_edits.ASTCodeUpgrader` with `tf_upgrade_v2.TFAPIChangeSpec`, its rename
tables unchanged, with one exception: its rules for the canned estimators
(rename to `tf.compat.v1.estimator.*` and append
`loss_reduction=tf.keras.losses.Reduction.SUM`, which the compat.v1 class
rejects) are taken out, so the constructions reach the toolkit's own tables
as the user wrote them (`transformer.rewrite_source` runs this first).

Most files of a TF 1.x tree are not changed by the upgrader (at most
warned about: `*.save requires manual check`), and most of its time is
pasta's formatting-preserving parse and print. So its own passes (the
spec's import analysis and `_PastaEditVisitor`) first run on CPython's tree
of the file (`unchanged_notes`): when they leave the tree as it was, the
text is kept and their log is the upgrader's notes, as the full run gives
them, and pasta is skipped. (Pasta prints a tree nothing changed back as it
was read, except for a bug of its own after a form feed; and it cannot read
`match`, `:=` or `f'{x=}'`: there the full run would fail.)
"""

import ast
import contextlib
import dataclasses
import functools
import hashlib
import inspect
import io
import pickle
import re

from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2

from estimator_migrate.tables import estimators

# The upgrader's names for the canned constructions this toolkit translates.
_CANNED = frozenset(
    f'tf.{module}estimator.{name}'
    for module in ('', 'compat.v1.')
    for name in estimators.NAMES
)
_RULES = (
    'function_keyword_renames',
    'symbol_renames',
    'function_reorders',
    'function_warnings',
    'function_transformers',
    'function_arg_warnings',
    'change_to_function',
    'reordered_function_names',
)
ARGUMENT = 'tf_upgrade_v2'  # the report's argument column for its lines
# Its line for a file importing tensorflow.compat.v1 (nothing is changed).
NOT_UPGRADING = 'Not upgrading symbols'
RENAMED = re.compile(r"^Renamed '([^']*)' to '([^']*)'")
# `line:col: SEVERITY: message` as ASTCodeUpgrader.format_log writes it.
_LOG = re.compile(r'^(?:.*?:)?(\d+):(\d+): (\w+): (.*)$', re.DOTALL)


class _Spec(tf_upgrade_v2.TFAPIChangeSpec):
  """`TFAPIChangeSpec` without its canned-estimator rules."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    for field in _RULES:
      table = getattr(self, field, None)
      if isinstance(table, dict):
        setattr(
            self, field, {k: v for k, v in table.items() if k not in _CANNED}
        )
      elif isinstance(table, (set, frozenset)):
        setattr(self, field, {k for k in table if k not in _CANNED})


@dataclasses.dataclass(frozen=True)
class Note:
  """One line of the upgrader's log: where, how severe, what it did."""

  line: int
  severity: str  # INFO, WARNING, ERROR
  message: str


@dataclasses.dataclass(frozen=True)
class Upgrade:
  """The upgraded text and the upgrader's log."""

  text: str
  notes: tuple[Note, ...]


def _notes(lines) -> list[Note]:
  notes = []
  for line in lines:
    found = _LOG.match(line.strip())
    if found:
      notes.append(
          Note(
              int(found.group(1)),
              found.group(3),
              ' '.join(found.group(4).split()),
          )
      )
  return notes


@functools.cache
def _spec() -> _Spec:
  # Built once a process (its tables take a while); tf_upgrade_v2 itself
  # shares one spec over a whole tree. Nothing in it changes per file.
  return _Spec()


# sha256 of TensorFlow's `_PastaEditVisitor.visit_Attribute` source (TF
# 2.15), which `_Visitor.visit_Attribute` follows. Its one difference: TF's
# prints every dotted name with pasta (a third of the pass), for the text of
# a deprecated module's line only. Another TF's method is used as it is.
_VISIT_ATTRIBUTE_SHA256 = (
    'afd0111a0fc9f7a694a4c26ee26b3f83040dc6dcef2bedc8410ac8d5030f179c'
)


@functools.cache
def _follows_visit_attribute() -> bool:
  try:
    source = inspect.getsource(
        ast_edits._PastaEditVisitor.visit_Attribute  # pylint: disable=protected-access
    )
  except (OSError, TypeError):
    return False
  return hashlib.sha256(source.encode()).hexdigest() == _VISIT_ATTRIBUTE_SHA256


class _Visitor(ast_edits._PastaEditVisitor):  # pylint: disable=protected-access
  """The upgrader's visitor; notes when a log line would hold pasta's print.

  `printed`: a deprecated module's member was met, whose log line's text is
  pasta's print of the source (not CPython's tree's): the full run says.
  """

  printed = False

  def _maybe_add_module_deprecation_warning(self, node, full_name, whole_name):
    added = super()._maybe_add_module_deprecation_warning(
        node, full_name, whole_name
    )
    self.printed = self.printed or added
    return added

  def visit_Attribute(self, node):  # pylint: disable=invalid-name
    if not _follows_visit_attribute():
      super().visit_Attribute(node)
      return
    full_name = self._get_full_name(node)
    if full_name:
      parent = self._stack[-2]
      self._maybe_add_warning(node, full_name)
      if self._maybe_rename(parent, node, full_name):
        return
      if self._maybe_change_to_function_call(parent, node, full_name):
        return
      if full_name in self._api_change_spec.module_deprecations:
        self.printed = True
    self.generic_visit(node)


def _snapshot(tree: ast.AST) -> bytes:
  """Every node and field of `tree` (pickle: faster than `ast.dump`)."""
  return pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)


def _collect(logs, problems, path: str) -> tuple[Note, ...]:
  """Notes as `upgrade` gives them, from the engine's log tuples."""
  upgrader = ast_edits.ASTCodeUpgrader(_spec())
  return _dedup(
      _notes(upgrader.format_log(log, None) for log in logs)
      + _notes(upgrader.format_log(log, path) for log in problems)
  )


def _dedup(notes: list[Note]) -> tuple[Note, ...]:
  seen, unique = set(), []
  for note in notes:
    if note not in seen:
      seen.add(note)
      unique.append(note)
  return tuple(sorted(unique, key=lambda n: n.line))


def unchanged_notes(tree: ast.Module, path: str) -> tuple[Note, ...] | None:
  """The upgrader's notes when it leaves the module's text as it is.

  Runs the upgrader's own passes (the spec's `preprocess`, then
  `_PastaEditVisitor`, as `update_string_pasta` runs them) on CPython's
  tree: they decide from node types, names and positions, which it has as
  pasta's tree has them; pasta's formatting enters only the text it prints
  for a change, and one kind of log line (a member of a deprecated module).
  When they leave `tree` equal to what it was and log no such line, the
  full run would return the text as it is with these notes.

  Args:
    tree: `ast.parse` of the module; it may be changed when None is
      returned.
    path: The module's name, for the log.

  Returns:
    The notes (often none), or None when the upgrader may change the text
    (or one of its passes failed here): then run `upgrade`.
  """
  spec = _spec()
  try:
    before = _snapshot(tree)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every line
      tree, logs, problems = spec.preprocess(tree)
      visitor = _Visitor(spec)
      visitor.visit(tree)
    if visitor.printed or _snapshot(tree) != before:
      return None
  except Exception:  # pylint: disable=broad-except
    return None  # the full run decides (and reports) what happens
  finally:
    spec.clear_preprocessing()
  return _collect(
      logs + visitor.log, problems + visitor.warnings_and_errors, path
  )


def upgrade(
    source: str, path: str = '<string>', *, check_unchanged: bool = True
) -> Upgrade:
  """Runs TensorFlow's upgrader, less its canned-estimator rules, on `source`.

  Args:
    source: A module's text (valid Python).
    path: Its name, for the log.
    check_unchanged: Return `source` at once when `unchanged_notes` says it
      is kept; False when the caller asked it already.

  Returns:
    The upgraded text (equal to `source` when nothing changes) and every
    line of the upgrader's log (a file importing `tensorflow.compat.v1`
    directly is left as it is, as `tf_upgrade_v2` leaves it, with its INFO
    line saying so).
  """
  if check_unchanged:
    try:
      notes = unchanged_notes(ast.parse(source), path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
      notes = None  # pasta's parse decides, as it did
    if notes is not None:
      return Upgrade(source, notes)
  upgrader = ast_edits.ASTCodeUpgrader(_spec())
  with contextlib.redirect_stdout(io.StringIO()):  # it prints every line
    done, text, logs, problems = upgrader.update_string_pasta(source, path)
  if not done:
    return Upgrade(source, ())
  return Upgrade(text, _dedup(_notes(logs) + _notes(problems)))
