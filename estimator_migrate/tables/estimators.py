"""THE table of canned estimators: families, their parts, v1 defaults.

One row per family says which parts it trains, in the order v2 creates their
variables and optimizers, and for each part its variable scope, its optimizer
argument with v1's default, and the constructor arguments that give its
feature columns and hidden units. The optimizer translator (a string
optimizer's learning rate depends on the family), the canned-argument
translator, the checkpoint converter (which parts a checkpoint holds) and the
examples and tests read it. Facts are those of tensorflow_estimator 2.15
(`canned/dnn.py`, `linear.py`, `dnn_linear_combined.py`, `baseline.py`);
`tests/optimizer_signatures_test.py` checks them against the v1 classes.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import math
import types
from typing import Any, Literal

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
class Part:
  """One separately optimized part of a canned model.

  `scope` is the variable scope of its variables (`dnn/hiddenlayer_0/...`)
  and its key in the converter's `optimizers=`; `columns_arg` /
  `hidden_units_arg` name the constructor arguments that build it.
  """

  scope: str
  optimizer: OptimizerArg
  columns_arg: str | None = None
  hidden_units_arg: str | None = None


def _part(
    scope: str,
    optimizer: str,
    v1_default: str,
    string_lr: float,
    *,
    columns: str | None = None,
    hidden_units: str | None = None,
    string_lr_capped: bool = False,
    none_means_default: bool = False,
) -> Part:
  """A part; the capped learning rates count the part's own columns."""
  return Part(
      scope,
      OptimizerArg(
          optimizer,
          v1_default,
          string_lr,
          string_cap_columns=columns if string_lr_capped else None,
          none_means=v1_default if none_means_default else None,
          none_cap_columns=columns if none_means_default else None,
      ),
      columns,
      hidden_units,
  )


@dataclasses.dataclass(frozen=True)
class FamilyRow:
  """What every estimator of one family shares."""

  family: Family
  class_prefix: str  # DNN -> DNNClassifier, DNNRegressor, DNNEstimator
  parts: tuple[Part, ...]  # in v2's variable- and optimizer-creation order
  # v1-only partitioner argument, removed in v2.
  partitioner_arg: str | None

  @property
  def optimizer_args(self) -> tuple[OptimizerArg, ...]:
    return tuple(part.optimizer for part in self.parts)

  @property
  def scopes(self) -> tuple[str, ...]:
    """The parts' variable scopes, in creation order."""
    return tuple(part.scope for part in self.parts)

  def scope_of(self, optimizer_arg: str) -> str:
    """The scope of the part that `optimizer_arg` trains."""
    for part in self.parts:
      if part.optimizer.name == optimizer_arg:
        return part.scope
    raise errors.TranslationError(
        f'the {self.family} family has no optimizer argument'
        f' {optimizer_arg!r}; it has {[a.name for a in self.optimizer_args]}.'
    )

  def minimal_kwargs(
      self, columns: Mapping[str, Sequence[Any]], hidden_units: Sequence[int]
  ) -> dict[str, Any]:
    """The fewest v1 arguments that build the family (without a head).

    Args:
      columns: Each part's feature columns, by scope (`'dnn'`, `'linear'`);
        parts that take none are not looked up.
      hidden_units: The DNN part's layer sizes.
    """
    kwargs: dict[str, Any] = {}
    for part in self.parts:
      if part.columns_arg:
        kwargs[part.columns_arg] = list(columns[part.scope])
      if part.hidden_units_arg:
        kwargs[part.hidden_units_arg] = list(hidden_units)
    return kwargs


FAMILIES: types.MappingProxyType[Family, FamilyRow] = types.MappingProxyType(
    {
        row.family: row
        for row in (
            FamilyRow(
                'dnn',
                'DNN',
                (
                    _part(
                        'dnn',
                        'optimizer',
                        'Adagrad',
                        0.05,
                        columns='feature_columns',
                        hidden_units='hidden_units',
                    ),
                ),
                'input_layer_partitioner',
            ),
            FamilyRow(
                'linear',
                'Linear',
                (
                    _part(
                        'linear',
                        'optimizer',
                        'Ftrl',
                        0.2,
                        columns='feature_columns',
                        none_means_default=True,
                    ),
                ),
                'partitioner',
            ),
            FamilyRow(
                'dnn_linear_combined',
                'DNNLinearCombined',
                (
                    _part(
                        'dnn',
                        'dnn_optimizer',
                        'Adagrad',
                        0.001,
                        columns='dnn_feature_columns',
                        hidden_units='dnn_hidden_units',
                    ),
                    _part(
                        'linear',
                        'linear_optimizer',
                        'Ftrl',
                        0.005,
                        columns='linear_feature_columns',
                        string_lr_capped=True,
                    ),
                ),
                'input_layer_partitioner',
            ),
            FamilyRow(
                'baseline',
                'Baseline',
                (_part('baseline', 'optimizer', 'Ftrl', 0.3),),
                None,
            ),
        )
    }
)

# Every part scope any family has.
SCOPES: tuple[str, ...] = tuple(
    dict.fromkeys(s for row in FAMILIES.values() for s in row.scopes)
)
KINDS: tuple[Kind, ...] = ('Classifier', 'Regressor', 'Estimator')
NAMES: tuple[str, ...] = tuple(
    row.class_prefix + kind for row in FAMILIES.values() for kind in KINDS
)


def family_of_scopes(scopes) -> FamilyRow | None:
  """The family whose parts are exactly `scopes`, if any."""
  for row in FAMILIES.values():
    if set(row.scopes) == set(scopes):
      return row
  return None


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
  # Longest prefix first: DNNLinearCombined before DNN.
  for family in sorted(FAMILIES.values(), key=lambda r: -len(r.class_prefix)):
    kind = name.removeprefix(family.class_prefix)
    if name.startswith(family.class_prefix) and kind in KINDS:
      return EstimatorRow(name, family, kind)
  raise errors.TranslationError(
      f'estimator {name!r} is not a canned estimator. Known: {list(NAMES)}.',
      argument='estimator',
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
