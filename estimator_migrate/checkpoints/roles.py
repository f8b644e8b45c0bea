"""Decides every variable's role from the checkpoint's structure.

A v1 optimizer names its slots `<var>/<Opt>`, `<var>/<Opt>_1`, ... (canned
DNN layers add a `t_0/` segment: `dnn/logits/kernel/t_0/Adam`), a slot has
its variable's shape, and Adam keeps `beta1_power` / `beta2_power` scalars.
A name is a slot only if its variable exists, the rest of the name has
exactly that form, and the shapes agree, so a feature called `Adam_clicks`
stays a model variable.
"""

from collections.abc import Mapping
import dataclasses
import re
import types

from estimator_migrate import errors
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.tables import estimators

# A checkpoint's estimator type is its family in `estimators.FAMILIES`.
EstimatorType = estimators.Family
ESTIMATOR_TYPES: tuple[EstimatorType, ...] = tuple(estimators.FAMILIES)
GLOBAL_STEP = 'global_step'
_SLOT_SUFFIX = re.compile(
    r'(?:(?:t|part)_(?P<partition>\d+)/)?'
    r'(?P<opt>[A-Za-z][A-Za-z0-9]*?)(?:_(?P<index>\d+))?'
)
_POWER = re.compile(r'beta[12]_power(?:_\d+)?')


@dataclasses.dataclass(frozen=True)
class SlotVariable:
  """A v1 slot key: `name` belongs to model variable `var`.

  `index` is the `_N` suffix (which slot of the optimizer); `partition` the
  `t_N` segment: a partitioned variable's slot is stored one key per
  partition, each holding only its own rows.
  """

  name: str
  var: str
  opt: str
  index: int
  partition: int = 0


@dataclasses.dataclass(frozen=True)
class Layout:
  """The roles of all variables of one checkpoint."""

  model: tuple[str, ...]
  slots: Mapping[str, tuple[SlotVariable, ...]]  # by model variable
  step: str | None
  powers: tuple[str, ...]

  def part_of(self, var: str) -> str:
    return var.split('/', 1)[0]

  def parts(self) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for var in self.model:
      out.setdefault(self.part_of(var), []).append(var)
    return {part: tuple(names) for part, names in out.items()}

  def estimator_type(self) -> EstimatorType:
    parts = set(self.parts())
    if 'training' in parts:
      raise errors.CheckpointError(
          'the checkpoint already keeps Keras optimizer state under'
          ' training/: it is a v2 checkpoint, nothing to convert.'
      )
    family = estimators.family_of_scopes(parts)
    if family is not None:
      return family.family
    *others, last = (r.class_prefix for r in estimators.FAMILIES.values())
    raise errors.CheckpointError(
        f'variables under {sorted(parts)} are not those of a canned'
        f' {", ".join(others)} or {last} estimator'
        f' ({", ".join(s + "/" for s in estimators.SCOPES)}). For'
        ' a custom model_fn, map names with checkpoints.assignment_map, or'
        ' pass estimator_type= if the variables are canned ones under'
        ' another scope.',
        argument='estimator_type',
    )

  def slot_groups(self, var: str) -> list[tuple[SlotVariable, ...]]:
    """The variable's slots in index order, each as its partition keys."""
    groups: dict[int, list[SlotVariable]] = {}
    for slot in self.slots.get(var, ()):
      groups.setdefault(slot.index, []).append(slot)
    return [
        tuple(sorted(groups[i], key=lambda s: s.partition))
        for i in sorted(groups)
    ]

  def slot_optimizer(self, part: str) -> str | None:
    """The v1 optimizer name that the part's slots carry, if any."""
    names = {
        slot.opt
        for var in self.parts().get(part, ())
        for slot in self.slots.get(var, ())
    }
    if len(names) > 1:
      raise errors.CheckpointError(
          f'part {part!r} has slots of several optimizers {sorted(names)};'
          ' a canned estimator trains each part with one optimizer.'
      )
    return names.pop() if names else None


def classify(variables: Mapping[str, source_lib.Variable]) -> Layout:
  """Sorts variables into model variables, slots, the step and Adam powers."""
  slots: dict[str, list[SlotVariable]] = {}
  slot_names = set()
  for name, variable in variables.items():
    parts = name.split('/')
    for cut in range(len(parts) - 1, 0, -1):
      var = '/'.join(parts[:cut])
      owner = variables.get(var)
      if owner is None or owner.shape != variable.shape:
        continue
      match = _SLOT_SUFFIX.fullmatch('/'.join(parts[cut:]))
      if match:
        slots.setdefault(var, []).append(
            SlotVariable(
                name,
                var,
                match['opt'],
                int(match['index'] or 0),
                int(match['partition'] or 0),
            )
        )
        slot_names.add(name)
        break
  powers = tuple(
      name
      for name, v in variables.items()
      if v.shape == () and _POWER.fullmatch(name.rsplit('/', 1)[-1])
  )
  step = GLOBAL_STEP if GLOBAL_STEP in variables else None
  model = tuple(
      name
      for name in variables
      if name not in slot_names and name not in powers and name != step
  )
  return Layout(
      model=model,
      slots=types.MappingProxyType(
          {
              var: tuple(sorted(found, key=lambda s: s.index))
              for var, found in slots.items()
          }
      ),
      step=step,
      powers=powers,
  )
