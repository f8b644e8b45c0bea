"""The converter's two paths, as named parameters for conversion tests.

Every conversion test runs through both: `zero_copy` (the source's data
files brought over, a new index) and `stream` (every tensor rewritten).
"""

from collections.abc import Iterable

PATHS = (('zero_copy', 'zero_copy'), ('stream', 'stream'))


def over_paths(cases: Iterable[tuple]) -> list[tuple]:
  """Each named case once per path: ('name_path', *args, path)."""
  return [
      (f'{case[0]}_{name}', *case[1:], path)
      for case in cases
      for name, path in PATHS
  ]
