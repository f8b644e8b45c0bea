"""Lists a checkpoint's variables grouped by role: model, slots, step, etc.

Works on v1 checkpoints (slots `<var>/<Opt>[_N]`, Adam's powers) and on v2
ones (Keras optimizer state under `training/<Optimizer>/`).
"""

import dataclasses

from estimator_migrate import report
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source as source_lib


@dataclasses.dataclass(frozen=True)
class Row:
  role: str  # model | slot | hyperparameter | step | power | counter
  group: str  # the part, or the optimizer owning a slot / hyperparameter
  variable: source_lib.Variable


@dataclasses.dataclass(frozen=True)
class Inventory:
  prefix: str
  rows: tuple[Row, ...]

  def table(self) -> str:
    return report.markdown_table(
        ('role', 'group', 'name', 'shape', 'dtype', 'bytes'),
        [
            (
                r.role,
                r.group,
                r.variable.name,
                list(r.variable.shape),
                r.variable.dtype.name,
                f'{r.variable.nbytes:,}',
            )
            for r in self.rows
        ],
    )

  def totals(self) -> str:
    by_role: dict[str, tuple[int, int]] = {}
    for row in self.rows:
      count, size = by_role.get(row.role, (0, 0))
      by_role[row.role] = (count + 1, size + row.variable.nbytes)
    return '; '.join(
        f'{role}: {count} tensors, {size:,} bytes'
        for role, (count, size) in sorted(by_role.items())
    )


def _v2_row(variable, model_names) -> Row:
  _, optimizer, rest = variable.name.split('/', 2) + [''] * (
      2 - variable.name.count('/')
  )
  if rest in ('iter',):
    return Row('counter', optimizer, variable)
  owner = rest.rsplit('/', 1)[0] if '/' in rest else ''
  if owner in model_names:
    return Row('slot', optimizer, variable)
  return Row('hyperparameter', optimizer, variable)


def inspect_checkpoint(path: str) -> Inventory:
  """Opens `path` (prefix or model_dir) and classifies every variable."""
  src = source_lib.open_source(path)
  layout = roles.classify(src.variables)
  model = set(layout.model) - {
      n for n in layout.model if n.startswith('training/')
  }
  rows = []
  for name in layout.model:
    variable = src.variables[name]
    if name.startswith('training/'):
      rows.append(_v2_row(variable, model))
    else:
      rows.append(Row('model', layout.part_of(name), variable))
  for slots in layout.slots.values():
    rows.extend(
        Row('slot', slot.opt, src.variables[slot.name]) for slot in slots
    )
  rows.extend(Row('power', 'Adam', src.variables[n]) for n in layout.powers)
  if layout.step:
    rows.append(Row('step', '', src.variables[layout.step]))
  rows.sort(key=lambda r: (r.role, r.group, r.variable.name))
  return Inventory(src.prefix, tuple(rows))
