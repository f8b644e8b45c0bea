"""Helpers shared by the export tests."""

import numpy as np


def labels(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
  """`n` labels: `'vocabulary'` (no/yes), `'classesK'` or `'regressionD'`."""
  if kind == 'vocabulary':
    return rng.choice(np.array(['no', 'yes']), size=(n, 1))
  if kind.startswith('classes'):
    return rng.integers(0, int(kind[-1]), size=(n, 1))
  return rng.normal(size=(n, int(kind[-1]))).astype(np.float32)
