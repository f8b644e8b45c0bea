"""THE table of canned estimators: families, optimizer arguments, v1 defaults.

Read by the optimizer translator (a string optimizer's learning rate depends
on the estimator family) and by the canned-argument translator. Facts are
those of tensorflow_estimator 2.15 (`canned/dnn.py`, `linear.py`,
`dnn_linear_combined.py`, `baseline.py`).
"""

import dataclasses
import math
import types
from typing import Literal

from estimator_migrate import errors

Family = Literal['dnn', 'linear', 'dnn_linear_combined', 'baseline']
Kind = Literal['Classifier', 'Regressor', 'Estimator']


@dataclasses.dataclass(frozen=True)
class OptimizerArg:
  """One optimizer argument of a canned estimator and how v1 resolves it.

  A string optimizer gets `string_lr`, capped at 1/sqrt(n) where
  `string_cap_columns` names the feature-column argument counted. `None`
  means `none_means` with that cap over `none_cap_columns` (v1 Linear only).
  """

  name: str
  v1_default: str
  string_lr: float
  string_cap_columns: str | None = None
  none_means: str | None = None
  none_cap_columns: str | None = None


@dataclasses.dataclass(frozen=True)
class FamilyRow:
  """What every estimator of one family shares."""

  family: Family
  optimizer_args: tuple[OptimizerArg, ...]
  # v1-only partitioner argument, removed in v2.
  partitioner_arg: str | None


FAMILIES: types.MappingProxyType[Family, FamilyRow] = types.MappingProxyType(
    {
        'dnn': FamilyRow(
            'dnn',
            (OptimizerArg('optimizer', 'Adagrad', 0.05),),
            'input_layer_partitioner',
        ),
        'linear': FamilyRow(
            'linear',
            (
                OptimizerArg(
                    'optimizer',
                    'Ftrl',
                    0.2,
                    none_means='Ftrl',
                    none_cap_columns='feature_columns',
                ),
            ),
            'partitioner',
        ),
        'dnn_linear_combined': FamilyRow(
            'dnn_linear_combined',
            (
                OptimizerArg('dnn_optimizer', 'Adagrad', 0.001),
                OptimizerArg(
                    'linear_optimizer',
                    'Ftrl',
                    0.005,
                    string_cap_columns='linear_feature_columns',
                ),
            ),
            'input_layer_partitioner',
        ),
        'baseline': FamilyRow(
            'baseline', (OptimizerArg('optimizer', 'Ftrl', 0.3),), None
        ),
    }
)

_PREFIXES: tuple[tuple[str, Family], ...] = (
    ('DNNLinearCombined', 'dnn_linear_combined'),
    ('DNN', 'dnn'),
    ('Linear', 'linear'),
    ('Baseline', 'baseline'),
)
KINDS: tuple[Kind, ...] = ('Classifier', 'Regressor', 'Estimator')
NAMES: tuple[str, ...] = tuple(
    prefix + kind for prefix, _ in _PREFIXES for kind in KINDS
)


@dataclasses.dataclass(frozen=True)
class EstimatorRow:
  """One canned estimator, e.g. `DNNClassifier`."""

  name: str
  family: FamilyRow
  kind: Kind

  @property
  def has_head(self) -> bool:
    # The *Estimator forms take a head, which owns the loss reduction.
    return self.kind == 'Estimator'

  @property
  def has_loss_reduction(self) -> bool:
    return not self.has_head

  def optimizer_arg(self, name: str) -> OptimizerArg:
    for arg in self.family.optimizer_args:
      if arg.name == name:
        return arg
    raise errors.TranslationError(
        f'{self.name} has no optimizer argument {name!r}; it has'
        f' {[a.name for a in self.family.optimizer_args]}.'
    )


def lookup(estimator) -> EstimatorRow:
  """Finds the row of a canned estimator given by name or v1/v2 class.

  Args:
    estimator: A name such as `'DNNClassifier'`, or the class itself
      (`tf.compat.v1.estimator.DNNClassifier` or `tf.estimator.DNNClassifier`).

  Returns:
    The estimator's row.

  Raises:
    TranslationError: Not one of the canned estimators.
  """
  name = estimator if isinstance(estimator, str) else estimator.__name__
  name = name.removesuffix('V2')
  for prefix, family in _PREFIXES:
    kind = name.removeprefix(prefix)
    if name.startswith(prefix) and kind in KINDS:
      return EstimatorRow(name, FAMILIES[family], kind)
  raise errors.TranslationError(
      f'estimator {name!r} is not a canned estimator. Known: {list(NAMES)}.'
  )


def capped_learning_rate(rate: float, columns) -> float:
  """v1's `min(rate, 1 / sqrt(number of feature columns))`."""
  count = len(list(columns))
  if count == 0:
    raise errors.TranslationError(
        'the learning rate depends on the number of feature columns, and'
        ' none were given.'
    )
  return min(rate, 1.0 / math.sqrt(count))
