"""Change records and their rendering, shared by every tool."""

from collections.abc import Sequence
import dataclasses


@dataclasses.dataclass(frozen=True)
class Change:
  """One argument's translation: what it was, what it became, and why.

  `exact`: the v2 side computes the same numbers (float rounding aside).
  """

  argument: str
  old: str
  new: str
  why: str
  exact: bool


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> str:
  """Renders rows as a Markdown table (pipes inside cells are escaped)."""

  def line(cells):
    return '| ' + ' | '.join(str(c).replace('|', '\\|') for c in cells) + ' |'

  out = [line(headers), line(['---'] * len(headers))]
  out.extend(line(row) for row in rows)
  return '\n'.join(out)


def changes_table(changes: Sequence[Change]) -> str:
  """The change table every translation prints."""
  return markdown_table(
      ('argument', 'v1', 'v2', 'exact', 'why'),
      [
          (c.argument, c.old, c.new, 'yes' if c.exact else 'NO', c.why)
          for c in changes
      ],
  )
