"""How far two sets of weights are apart: the one measure every check uses.

Absolute: max |a - b|. Relative: max |a - b| / max(|reference|, floor), so
that a weight near 0 does not blow the ratio up (floor 1e-3 by default).
Both in float64, over every non-empty array the reference names.

Example:
  gap = differences.weight_difference(v1_weights, v2_weights)
  print(gap.absolute, gap.relative)
"""

from collections.abc import Mapping
import dataclasses

import numpy as np

from estimator_migrate import errors

RELATIVE_FLOOR = 1e-3


@dataclasses.dataclass(frozen=True)
class Difference:
  """The largest differences over every weight compared."""

  absolute: float  # max |reference - other|
  relative: float  # max |reference - other| / max(|reference|, floor)


def weight_difference(
    reference: Mapping[str, np.ndarray],
    other: Mapping[str, np.ndarray],
    *,
    floor: float = RELATIVE_FLOOR,
) -> Difference:
  """Max absolute and relative difference of `other` from `reference`.

  Args:
    reference: Name -> array; every name is compared (empty arrays skipped).
    other: Name -> array, holding at least `reference`'s names, same shapes.
    floor: The smallest |reference| a relative difference divides by.

  Returns:
    Both maxima; 0 when nothing is compared.

  Raises:
    MigrationError: `other` lacks a name or has another shape for it.
  """
  absolute = relative = 0.0
  for name, want in reference.items():
    if name not in other:
      raise errors.MigrationError(
          f'other has no {name!r}; it holds {sorted(other)[:10]}: compare'
          ' weights of the same model.'
      )
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(other[name], dtype=np.float64)
    if got.shape != want.shape:
      raise errors.MigrationError(
          f'{name}: other has shape {got.shape}, reference {want.shape}.'
      )
    if not want.size:
      continue
    gap = np.abs(got - want)
    absolute = max(absolute, float(np.max(gap)))
    relative = max(
        relative, float(np.max(gap / np.maximum(np.abs(want), floor)))
    )
  return Difference(absolute, relative)
