"""Which files a rewrite can change, decided without libcst.

The rule, in one place: a file can change only if one of its identifiers is
in `names()`. Both passes of a rewrite start from identifiers:

- The toolkit's transform acts only on names it resolves through an import
  (libcst's qualified names from an `import` or `from ... import`), and every
  API it knows lives under `tensorflow` (`names.py`); `tensorflow_estimator`,
  `estimator_migrate`, `keras`, `tf_keras` and `estimator` are kept as well,
  a margin that costs little.
- TensorFlow's upgrader (`tensorflow.tools.compatibility.ast_edits` with
  `tf_upgrade_v2.TFAPIChangeSpec`) matches dotted names built from `ast.Name`
  and `ast.Attribute` nodes against its tables: a key `tf.a.b` needs the
  identifier `tf`, a key `slim.x` the identifier `slim`, and a key `*.save`
  (any object's method) the identifier `save`; imports are matched by their
  first component (`tensorflow`). `names()` reads these from the tables
  themselves, so a new entry in TensorFlow's tables is covered; a key `*`
  alone (every call) would turn the filter off.

Identifiers are compared as Python reads them. In an ASCII file each is a
whole word of the text, so `may_change` looks for the names as whole words
(in code, comments or strings: a superset). A non-ASCII file is parsed with
`ast`, which normalizes identifiers as Python does (NFKC: `ｔf` is `tf`), and
its identifiers are compared exactly. A file CPython cannot parse may change:
the full transform then reports why it is not valid Python.
"""

import ast
from collections.abc import Iterable, Iterator
import functools
import re
import warnings

# The first component of every module the toolkit's transform resolves names
# from (see the module docstring).
_TRANSFORM_ROOTS = frozenset(
    {
        'tensorflow',
        'tensorflow_estimator',
        'estimator_migrate',
        'keras',
        'tf_keras',
        'estimator',
    }
)


def spec_names(tables: Iterable[object]) -> frozenset[str] | None:
  """The identifiers an upgrader spec's tables can match, None for any.

  Args:
    tables: The attribute values of an `ast_edits.APIChangeSpec`; dicts and
      sets keyed by dotted names (`tf.gfile.Open`, `*.save`) are read, others
      skipped.

  Returns:
    For `a.b.c` the first component `a`; for `*.b.c` the last, `c` (the
    upgrader matches `"*." + name` with the called attribute's name). None
    when a key is `*`: every call may change.
  """
  found = set()
  for table in tables:
    if not isinstance(table, (dict, set, frozenset)):
      continue
    for key in table:
      if not isinstance(key, str):
        continue
      if key == '*':
        return None
      head, _, rest = key.partition('.')
      found.add(rest.rpartition('.')[2] if head == '*' else head)
  return frozenset(found)


@functools.cache
def names() -> frozenset[str] | None:
  """Every identifier whose presence lets a file change; None for any file."""
  # Imported here: only the processes that filter need the upgrader's tables.
  from tensorflow.tools.compatibility import tf_upgrade_v2  # pylint: disable=g-import-not-at-top

  found = set(_TRANSFORM_ROOTS)
  for spec in (
      tf_upgrade_v2.TFAPIChangeSpec(),
      tf_upgrade_v2.TFAPIChangeSpec(
          import_rename=True, upgrade_compat_v1_import=True
      ),
  ):
    upgrader = spec_names(vars(spec).values())
    if upgrader is None:
      return None
    found |= upgrader
  return frozenset(found)


@functools.cache
def _pattern() -> re.Pattern[str] | None:
  found = names()
  if found is None:
    return None
  alternatives = '|'.join(map(re.escape, sorted(found)))
  return re.compile(f'(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])')


def _parse(text: str) -> ast.Module | None:
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # invalid escapes: not ours to report
    try:
      return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
      return None


def _identifiers(tree: ast.AST) -> Iterator[str]:
  """Every identifier in `tree`, dotted module names split (superset)."""
  for node in ast.walk(tree):
    if isinstance(node, ast.Constant):
      continue  # string values are data, not names
    for _, value in ast.iter_fields(node):
      if isinstance(value, str):
        yield from value.split('.')
      elif isinstance(value, list):  # `global a, b`, `nonlocal`
        for item in value:
          if isinstance(item, str):
            yield from item.split('.')


def may_change(text: str) -> bool:
  """Whether the rewrite (transform and upgrader) may change `text`.

  Args:
    text: A module's decoded source.

  Returns:
    False only when `text` parses and none of its identifiers is in
    `names()`: then the rewrite leaves it byte for byte as it is, with no
    edit and no warning. True for a text CPython cannot parse (the full
    transform reports why).
  """
  found = names()
  if found is None:
    return True
  if text.isascii():
    # An identifier is a maximal run of [A-Za-z0-9_] (one glued to a number
    # does not parse): a name that is no such run in the text (comments and
    # strings included) is no identifier of it.
    if _pattern().search(text):
      return True
    return _parse(text) is None
  tree = _parse(text)
  if tree is None:
    return True
  return not found.isdisjoint(_identifiers(tree))
