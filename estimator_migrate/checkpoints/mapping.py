"""Which tensors a v2 canned estimator restores, and how each is made.

v2 estimators with Keras (legacy) optimizers keep optimizer state under
`training/<Optimizer>[_k]/`: slots at `<var>/<slot>`, hyperparameters (the
optimizer's `_hyper` entries) as scalars, and an `iter` counter unless the
optimizer's `iterations` is the global step (all but a combined model's linear
optimizer). Model variables and `global_step` keep their names.
"""

from collections.abc import Mapping
import dataclasses
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.checkpoints.bundle import index as index_lib
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers

Kind = Literal['model', 'step', 'slot', 'hyper', 'iter']


@dataclasses.dataclass(frozen=True)
class Piece:
  """Rows [start, stop) of a target, read from the same rows of `source`."""

  source: str
  start: int
  stop: int


@dataclasses.dataclass(frozen=True)
class Target:
  """One tensor of the converted checkpoint.

  Assembled from `pieces` of source tensors (times `scale` when set), or the
  constant `value` when there are none.
  """

  name: str
  dtype: tf.DType
  shape: tuple[int, ...]
  kind: Kind
  pieces: tuple[Piece, ...] = ()
  scale: float | None = None
  value: Any = None

  @classmethod
  def copy(
      cls,
      name: str,
      variable,
      kind: Kind,
      source: str | None = None,
      scale: float | None = None,
  ) -> 'Target':
    rows = variable.shape[0] if variable.shape else 0
    return cls(
        name,
        variable.dtype,
        variable.shape,
        kind,
        (Piece(source or variable.name, 0, rows),),
        scale,
    )

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.size

  def transform(self, chunk: np.ndarray) -> np.ndarray:
    """The target values of a chunk of the source (formula in `scale`)."""
    if self.scale is None:
      return chunk
    # Keras SGD keeps -lr * v1's accumulator: v_keras = -lr * accum_v1,
    # computed in the variable's dtype.
    return chunk * chunk.dtype.type(self.scale)

  def describe(self) -> str:
    if not self.pieces:
      return f'= {self.value!r}'
    sources = ' + '.join(
        p.source if len(self.pieces) == 1 else f'{p.source}[{p.start}:{p.stop}]'
        for p in self.pieces
    )
    if self.scale is not None:
      return f'= {self.scale!r} * {sources}'
    return f'<- {sources}'


@dataclasses.dataclass(frozen=True)
class Plan:
  """All targets, and the source tensors left out with the reason."""

  targets: tuple[Target, ...]
  dropped: tuple[tuple[str, str], ...]
  keras_names: Mapping[str, str]  # part -> training/<name> scope


def keras_names(
    parts: list[str], plans: Mapping[str, optimizers.OptimizerPlan]
) -> dict[str, str]:
  """Keras uniquifies optimizer names in creation order: Adam, Adam_1."""
  names, seen = {}, {}
  for part in parts:
    base = plans[part].keras_name
    count = seen.get(base, 0)
    seen[base] = count + 1
    names[part] = base if count == 0 else f'{base}_{count}'
  return names


def creation_order(estimator_type: roles.EstimatorType) -> list[str]:
  """Parts in the order v2 builds their optimizers (the family table's)."""
  return list(estimators.FAMILIES[estimator_type].scopes)


def _hyper_targets(scope: str, plan: optimizers.OptimizerPlan) -> list[Target]:
  keras = plan.build()
  out = []
  for name, value in sorted(keras._hyper.items()):  # pylint: disable=protected-access
    if callable(value):
      continue  # a schedule: Keras keeps no variable for it
    out.append(
        Target(
            f'{scope}/{name}', tf.float32, (), 'hyper', value=np.float32(value)
        )
    )
  return out


def _slot_pieces(
    keys: tuple[roles.SlotVariable, ...],
    variable,
    index: index_lib.Index,
) -> tuple[Piece, ...]:
  """One piece per partition key: the rows the index says it holds."""
  rows = variable.shape[0] if variable.shape else 0
  if len(keys) == 1:
    return (Piece(keys[0].name, 0, rows),)
  pieces = []
  for key in keys:
    for start, stop in index_lib.row_ranges(
        index.entries[key.name], variable.shape
    ):
      pieces.append(Piece(key.name, start, stop))
  pieces.sort(key=lambda p: p.start)
  covered = 0
  for piece in pieces:
    if piece.start != covered:
      raise errors.CheckpointError(
          f'the partitions {[k.name for k in keys]} do not cover rows'
          f' {covered}..{piece.start} of {rows}: the checkpoint is incomplete.'
      )
    covered = piece.stop
  if covered != rows:
    raise errors.CheckpointError(
        f'the partitions {[k.name for k in keys]} cover {covered} of {rows}'
        ' rows: the checkpoint is incomplete.'
    )
  return tuple(pieces)


def plan_targets(
    source: source_lib.Source,
    layout: roles.Layout,
    estimator_type: roles.EstimatorType,
    plans: Mapping[str, optimizers.OptimizerPlan],
) -> Plan:
  """Lists every target tensor of the v2 checkpoint.

  Raises:
    CheckpointError: A variable's slots do not match its optimizer, or the
      global step is missing where an `iter` counter needs it.
  """
  variables, index = source.variables, source.index
  targets = [
      Target.copy(name, variables[name], 'model') for name in layout.model
  ]
  if layout.step:
    targets.append(Target.copy(layout.step, variables[layout.step], 'step'))
  dropped = [
      (
          name,
          "Keras Adam computes beta^t from the step; v1's running product"
          ' is not kept',
      )
      for name in layout.powers
  ]
  parts = creation_order(estimator_type)
  names = keras_names(parts, plans)
  by_part = layout.parts()
  for position, part in enumerate(parts):
    plan = plans[part]
    scope = f'training/{names[part]}'
    targets.extend(_hyper_targets(scope, plan))
    if position > 0:  # only the first optimizer's iterations is the step
      if not layout.step:
        raise errors.CheckpointError(
            f'{scope}/iter needs the global step, and the checkpoint has no'
            ' global_step.'
        )
      targets.append(
          Target.copy(f'{scope}/iter', variables[layout.step], 'iter')
      )
    for var in by_part.get(part, ()):
      for pair in plan.pair_slots(var, layout.slot_groups(var)):
        if pair.keras is None:
          dropped.extend((k.name, pair.dropped) for k in pair.keys)
          continue
        variable = variables[pair.keys[0].name]
        targets.append(
            Target(
                f'{scope}/{var}/{pair.keras}',
                variable.dtype,
                variable.shape,
                'slot',
                _slot_pieces(pair.keys, variable, index),
                pair.scale,
            )
        )
  return Plan(tuple(targets), tuple(dropped), names)
