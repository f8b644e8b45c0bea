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
"""

import contextlib
import dataclasses
import functools
import io
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


def upgrade(source: str, path: str = '<string>') -> Upgrade:
  """Runs TensorFlow's upgrader, less its canned-estimator rules, on `source`.

  Args:
    source: A module's text (valid Python).
    path: Its name, for the log.

  Returns:
    The upgraded text (equal to `source` when nothing changes) and every
    line of the upgrader's log (a file importing `tensorflow.compat.v1`
    directly is left as it is, as `tf_upgrade_v2` leaves it, with its INFO
    line saying so).
  """
  upgrader = ast_edits.ASTCodeUpgrader(_spec())
  with contextlib.redirect_stdout(io.StringIO()):  # it prints every line
    done, text, logs, problems = upgrader.update_string_pasta(source, path)
  if not done:
    return Upgrade(source, ())
  notes = _notes(logs) + _notes(problems)
  seen, unique = set(), []
  for note in notes:
    if note not in seen:
      seen.add(note)
      unique.append(note)
  return Upgrade(text, tuple(sorted(unique, key=lambda n: n.line)))
