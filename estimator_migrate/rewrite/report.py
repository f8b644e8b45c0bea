"""What a rewrite changed, file by file, and what it left for the user."""

from collections.abc import Sequence
import dataclasses

from estimator_migrate import report


@dataclasses.dataclass(frozen=True)
class Edit:
  """One change at one line, or one construction left as it was.

  `applied=False` marks a construction the rewriter did not change because a
  value it needs is not visible in the source; `why` says what to do.
  """

  path: str
  line: int
  argument: str
  before: str
  after: str
  exact: bool
  why: str
  applied: bool = True


@dataclasses.dataclass(frozen=True)
class FileResult:
  """One file's rewrite: its old and new text and the edits between them."""

  path: str
  old: str
  new: str
  edits: tuple[Edit, ...]

  @property
  def changed(self) -> bool:
    return self.old != self.new


@dataclasses.dataclass(frozen=True)
class Failure:
  """A file the rewrite could not read, rewrite or write; it is unchanged.

  `message` is one line: the file, what went wrong, and what to do.
  """

  path: str
  message: str


@dataclasses.dataclass(frozen=True)
class RewriteReport:
  """Every file a rewrite read, and every file it had to leave as it was."""

  files: tuple[FileResult, ...]
  failures: tuple[Failure, ...] = ()

  @property
  def edits(self) -> tuple[Edit, ...]:
    return tuple(e for f in self.files for e in f.edits)

  @property
  def left(self) -> tuple[Edit, ...]:
    """Constructions left unchanged, each with what to do."""
    return tuple(e for e in self.edits if not e.applied)

  def summary(self) -> str:
    changed = sum(f.changed for f in self.files)
    applied = [e for e in self.edits if e.applied]
    inexact = sum(not e.exact for e in applied)
    summary = (
        f'{len(self.files)} file(s) read, {changed} changed; {len(applied)}'
        f' change(s), {inexact} not exact; {len(self.left)} construction(s)'
        ' left for you (see the report).'
    )
    if self.failures:
      summary += (
          f' {len(self.failures)} file(s) NOT rewritten, each left as it was'
          ' (one error line each).'
      )
    return summary

  def markdown(self) -> str:
    lines = ['# estimator-migrate-rewrite report', '', self.summary(), '']
    rows = [
        (
            f'{e.path}:{e.line}',
            e.argument,
            _code(e.before),
            _code(e.after) if e.applied else '(unchanged)',
            ('yes' if e.exact else 'NO') if e.applied else '-',
            e.why,
        )
        for e in self.edits
    ]
    lines.append(
        report.markdown_table(
            ('where', 'argument', 'before', 'after', 'exact', 'why'), rows
        )
    )
    if self.failures:
      lines += ['', '## Not rewritten (each file left as it was)', '']
      lines += [f'- {f.message}' for f in self.failures]
    return '\n'.join(lines) + '\n'


def _code(text: str) -> str:
  text = ' '.join(text.split())
  return f'`{text}`' if text else ''


def merge(
    results: Sequence[FileResult], failures: Sequence[Failure] = ()
) -> RewriteReport:
  return RewriteReport(tuple(results), tuple(failures))
