"""The estimator's optimizer state, for `load(compile=True)` in Keras 3.

A v2 canned estimator trains with Keras 2 (legacy) optimizers and saves
their state as `training/<Optimizer>/<variable>/<slot>` plus scalar
hyperparameters `training/<Optimizer>/<name>`. This module reads them into
`spec['optimizers']` (one entry per optimizer: Keras 3 class, config,
iterations, the variables it trains and its slots) and arrays stored in
`weights.npz` under `optimizer/<Optimizer>/<variable>/<slot>`.

Slot names come from `optimizers.OPTIMIZERS` (the Keras side of each row);
`KERAS3` below says which Keras 3 optimizer list holds each slot.
Every optimizer also gets embedding gradients with repeated rows summed
first (model.py's `EstimatorModel.train_step`), as TF 2.15 does; Keras 3
alone would square each repeat separately in Adagrad and Ftrl.
v1 checkpoints (slots `<variable>/<Optimizer>`) carry no hyperparameters:
`read_v1_state` converts them as `checkpoints.convert` does (the optimizers
read from the v1 graph beside the checkpoint), in memory, every byte read
checked against its CRC-32C as the converter checks it.
"""

from collections.abc import Mapping
import dataclasses
import re
import types

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import blocks
from estimator_migrate.checkpoints import convert
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import graph as graph_lib
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.checkpoints import writer
from estimator_migrate.tables import optimizers

_TRAINING = re.compile(r'training/(?P<opt>[A-Za-z]+(?:_\d+)?)/(?P<rest>.+)')


@dataclasses.dataclass(frozen=True)
class Keras3Row:
  """How one Keras 2 optimizer's state sits in its Keras 3 counterpart.

  `slots`: Keras 2 slot name -> Keras 3 attribute listing that slot per
  variable. `hypers`: Keras 2 checkpoint scalars carried into the config.
  `model_py_class`: the class `model.py` builds. `note`: any difference
  between the update rules.
  """

  slots: Mapping[str, str]
  hypers: tuple[str, ...]
  model_py_class: str
  note: str


KERAS3: types.MappingProxyType[str, Keras3Row] = types.MappingProxyType(
    {
        'Adam': Keras3Row(
            types.MappingProxyType({'m': '_momentums', 'v': '_velocities'}),
            ('learning_rate', 'beta_1', 'beta_2'),
            'keras.optimizers.Adam',
            'same update (lr_t = lr sqrt(1-b2^t)/(1-b1^t), eps outside sqrt)',
        ),
        'Adagrad': Keras3Row(
            types.MappingProxyType({'accumulator': '_accumulators'}),
            ('learning_rate',),
            'Adagrad (model.py)',
            'Keras 3 divides by sqrt(acc + eps), TF 2.15 by sqrt(acc) + eps:'
            " model.py's Adagrad keeps TF 2.15's rule",
        ),
        'Ftrl': Keras3Row(
            types.MappingProxyType(
                {
                    'accumulator': '_accumulators',
                    'linear': '_linears',
                }
            ),
            (
                'learning_rate',
                'learning_rate_power',
                'l1_regularization_strength',
                'l2_regularization_strength',
                'beta',
            ),
            'keras.optimizers.Ftrl',
            'same update (the FTRL-proximal kernel written in Keras ops)',
        ),
        'SGD': Keras3Row(
            types.MappingProxyType({'momentum': 'momentums'}),
            ('learning_rate', 'momentum'),
            'SGD (model.py)',
            'same update (m = momentum m - lr g; var += m); embedding rows'
            " updated lazily as TF 2.15 does (model.py's SGD)",
        ),
    }
)
# The rows of v1 optimizers' state (a model_fn's, translated by
# `tables.optimizers`): KERAS3's, and RMSprop, whose Keras 3 rule is v1's
# (sqrt(ms + eps); with momentum, the increment accumulated) but not the
# Keras 2 legacy class's without momentum (sqrt(ms) + eps).
KERAS3_V1: types.MappingProxyType[str, Keras3Row] = types.MappingProxyType(
    {
        **KERAS3,
        'RMSprop': Keras3Row(
            types.MappingProxyType(
                {
                    'rms': '_velocities',
                    'momentum': '_momentums',
                    'mg': '_average_gradients',
                }
            ),
            ('learning_rate', 'rho', 'momentum'),
            'RMSprop (model.py)',
            "v1's update (ms, then lr g / sqrt(ms + eps), accumulated with"
            ' momentum); embedding rows updated lazily as v1 does'
            " (model.py's RMSprop)",
        ),
    }
)
# Config entries not in the checkpoint (Python attributes of the Keras 2
# optimizer): read from the graph's update ops (`GRAPH_CONFIG`), else from
# the optimizer object passed in the kwargs if any, else TF 2.15's defaults.
_PYTHON_CONFIG = types.MappingProxyType(
    {
        'Adam': {'epsilon': 1e-7, 'amsgrad': False},
        'Adagrad': {'epsilon': 1e-7},
        'Ftrl': {'l2_shrinkage_regularization_strength': 0.0},
        'SGD': {'nesterov': False},
        'RMSprop': {'epsilon': 1e-7, 'centered': False},
    }
)


@dataclasses.dataclass(frozen=True)
class GraphRead:
  """Where a Python-only config entry shows in a Keras 2 update op.

  The op `op` (dense form, as TF 2.15's legacy optimizers call it) holds the
  value as its input `input` (a constant), as its bool attribute `attr`, or,
  where the optimizer picks the kernel by the value, its running means
  `value` (Adam's amsgrad kernel; Ftrl's V1 kernel for zero shrinkage).
  """

  op: str
  input: int | None = None
  attr: str | None = None
  value: object = None


# Keras 2 class -> config entry -> the update ops that record it.
GRAPH_CONFIG: types.MappingProxyType[
    str, Mapping[str, tuple[GraphRead, ...]]
] = types.MappingProxyType(
    {
        'Adam': {
            'epsilon': (
                GraphRead('ResourceApplyAdam', input=8),
                GraphRead('ResourceApplyAdamWithAmsgrad', input=9),
            ),
            'amsgrad': (
                GraphRead('ResourceApplyAdam', value=False),
                GraphRead('ResourceApplyAdamWithAmsgrad', value=True),
            ),
        },
        'Adagrad': {'epsilon': (GraphRead('ResourceApplyAdagradV2', input=3),)},
        'Ftrl': {
            'l2_shrinkage_regularization_strength': (
                GraphRead('ResourceApplyFtrl', value=0.0),
                GraphRead('ResourceApplyFtrlV2', input=7),
            ),
        },
        'SGD': {
            'nesterov': (
                GraphRead('ResourceApplyKerasMomentum', attr='use_nesterov'),
                GraphRead('ResourceApplyGradientDescent', value=False),
            ),
        },
    }
)

# Where each value of an entry's config came from (report.md's column).
FROM_CHECKPOINT = 'checkpoint'
FROM_GRAPH = 'checkpoint graph'
FROM_KWARGS = 'kwargs'
FROM_DEFAULT = 'TF 2.15 default'
FROM_V1_GRAPH = 'checkpoint graph (v1 optimizer, translated)'


class OptimizerStateError(ValueError):
  """Internal: the state cannot be carried; the reason goes to the report."""


@dataclasses.dataclass(frozen=True)
class State:
  """The optimizers' spec entries and arrays, or why there are none."""

  entries: tuple[dict, ...]
  arrays: Mapping[str, np.ndarray]
  notes: tuple[str, ...]
  reason: str | None = None  # set when compile=True is not available
  # No Keras slots, but v1 ones (`<variable>/<Optimizer>`): read_v1_state.
  v1_slots: bool = False
  # Per entry: config key -> where its value came from (FROM_*).
  sources: tuple[Mapping[str, str], ...] = ()


def _keras2_slots(keras_class: str) -> set[str]:
  return {
      slot.keras
      for row in optimizers.OPTIMIZERS.values()
      if row.keras_class == keras_class
      for slot in row.slots
  }


def _python_config(
    keras_class: str, optimizer_arg, recorded: Mapping[str, object]
) -> tuple[dict, dict]:
  """The Python-only config and where each value came from.

  `recorded` (read from the graph) wins; then the optimizer object passed
  in the kwargs (`FROM_KWARGS`); then TF 2.15's default.
  """
  config = dict(_PYTHON_CONFIG[keras_class])
  sources = dict.fromkeys(config, FROM_DEFAULT)
  if callable(optimizer_arg) and not hasattr(optimizer_arg, 'get_config'):
    optimizer_arg = optimizer_arg()  # the estimator accepts a factory
  get_config = getattr(optimizer_arg, 'get_config', None)
  if get_config is not None:
    given = get_config()
    for key in config:
      if key in given:
        config[key], sources[key] = given[key], FROM_KWARGS
  for key in config:
    if key in recorded:
      config[key], sources[key] = recorded[key], FROM_GRAPH
  return config, sources


def _constant(nodes: Mapping, name: str):
  """The value of the constant `name` leads to (through Identity/Cast)."""
  for _ in range(8):
    node = nodes.get(name.lstrip('^').split(':')[0])
    if node is None:
      return None
    if node.op == 'Const':
      return tf.make_ndarray(node.attr['value'].tensor).item()
    if node.op not in ('Identity', 'Cast') or not node.input:
      return None
    name = node.input[0]
  return None


def graph_config(graph, optimizer: str, keras_class: str) -> dict:
  """The Python-only config of Keras 2 optimizer `training/<optimizer>`.

  Read from its update ops in `graph` as `GRAPH_CONFIG` says; an entry
  whose ops are absent (or not constants) is left out.
  """
  reads = GRAPH_CONFIG.get(keras_class, {})
  if graph is None or not reads:
    return {}
  nodes = {n.name: n for n in graph.node}
  scope = f'training/{optimizer}/'
  by_op = {}
  for node in graph.node:
    if node.name.startswith(scope) and '/update_' in node.name:
      by_op.setdefault(node.op, node)
  recorded = {}
  for key, candidates in reads.items():
    for read in candidates:
      node = by_op.get(read.op)
      if node is None:
        continue
      if read.input is not None:
        value = (
            _constant(nodes, node.input[read.input])
            if len(node.input) > read.input
            else None
        )
      elif read.attr is not None:
        value = bool(node.attr[read.attr].b) if read.attr in node.attr else None
      else:
        value = read.value
      if value is not None:
        # Shortest decimal of the float32 the kernel runs with (1e-30).
        recorded[key] = (
            float(str(np.float32(value))) if isinstance(value, float) else value
        )
        break
  return recorded


def _scope_of(name: str) -> str:
  return name.split('/', 1)[0]


def read_state(
    reader,
    variables: Mapping,
    model_names: list[str],
    optimizer_args: Mapping[str, object],
    global_step: int | None,
    graph=None,
    *,
    hypers_from: str = FROM_CHECKPOINT,
    rows: Mapping[str, Keras3Row] = KERAS3,
) -> State:
  """Reads the optimizer state of the model variables `model_names`.

  Args:
    reader: A checkpoint reader (`get_tensor`).
    variables: The checkpoint's variables by name.
    model_names: The model variables the Keras model holds.
    optimizer_args: Part scope (`'dnn'`, `'linear'`) -> the optimizer
      argument the estimator was built with; a single entry serves the
      whole model whatever its key.
    global_step: The checkpoint's step.
    graph: The GraphDef saved beside the checkpoint, if any: the
      Python-only config (epsilon, amsgrad, nesterov, l2 shrinkage) is read
      from its update ops (`GRAPH_CONFIG`) over the kwargs.
    hypers_from: The source `State.sources` names for hyperparameters read
      from `reader`.
    rows: The optimizers carried (`KERAS3`; `KERAS3_V1` for v1 state).

  Returns:
    The state, or a State with `reason` when compile=True cannot be offered.
  """
  model = set(model_names)
  found: dict[str, dict] = {}
  for name in variables:
    match = _TRAINING.fullmatch(name)
    if not match:
      continue
    opt, rest = match['opt'], match['rest']
    entry = found.setdefault(opt, {'slots': {}, 'hypers': {}})
    var, _, slot = rest.rpartition('/')
    if var in model:
      entry['slots'].setdefault(slot, {})[var] = name
    elif '/' not in rest:
      entry['hypers'][rest] = name
  if not found:
    v1 = _has_v1_slots(variables, model)
    reason = V1_REASON if v1 else 'the checkpoint holds no optimizer state'
    return State((), {}, (), reason=reason, v1_slots=v1)
  entries, arrays, notes, sources = [], {}, [], []
  unclaimed = [n for n in model_names]
  for opt, entry in sorted(found.items()):
    keras_class = re.sub(r'_\d+$', '', opt)
    row = rows.get(keras_class)
    if row is None:
      return State(
          (),
          {},
          (),
          reason=(
              f'optimizer {keras_class} has no Keras 3 mapping here'
              f' (supported: {sorted(rows)})'
          ),
      )
    unknown = set(entry['slots']) - _keras2_slots(keras_class)
    if unknown:
      return State((), {}, (), reason=f'{opt}: unknown slots {sorted(unknown)}')
    hypers = {
        h: float(reader.get_tensor(entry['hypers'][h]))
        for h in row.hypers
        if h in entry['hypers']
    }
    if 'decay' in entry['hypers'] and float(
        reader.get_tensor(entry['hypers']['decay'])
    ):
      return State(
          (), {}, (), reason=f'{opt}: a learning-rate decay is not carried'
      )
    trained = sorted({v for slot in entry['slots'].values() for v in slot})
    if not trained:  # slotless (plain SGD): the scope nobody else claims
      trained = _unclaimed_scope(unclaimed, found)
    unclaimed = [n for n in unclaimed if n not in trained]
    scope = _scope_of(trained[0]) if len(found) > 1 else ''
    argument = (
        next(iter(optimizer_args.values()))
        if len(optimizer_args) == 1
        else optimizer_args.get(_scope_of(trained[0]))
    )
    python, python_sources = _python_config(
        keras_class, argument, graph_config(graph, opt, keras_class)
    )
    config = {**hypers, **python}
    sources.append(
        {'class': hypers_from, **dict.fromkeys(hypers, hypers_from)}
        | python_sources
    )
    iterations = global_step or 0
    if 'iter' in entry['hypers']:
      iterations = int(reader.get_tensor(entry['hypers']['iter']))
    slots = {}
    for slot, by_var in sorted(entry['slots'].items()):
      keys = []
      for var in trained:
        key = f'optimizer/{opt}/{var}/{slot}'
        arrays[key] = reader.get_array(by_var[var])
        keys.append(key)
      slots[row.slots[slot]] = keys
    entries.append(
        {
            'name': opt,
            'class': keras_class,
            'config': config,
            'iterations': iterations,
            'variables': trained,
            'slots': slots,
        }
    )
    notes.append(f'{opt} ({scope or "whole model"}): {row.note}')
  if unclaimed:
    return State(
        (), {}, (), reason=f'no optimizer state for {sorted(unclaimed)}'
    )
  return State(tuple(entries), arrays, tuple(notes), sources=tuple(sources))


def _unclaimed_scope(unclaimed: list[str], found: dict) -> list[str]:
  if len(found) == 1:
    return list(unclaimed)
  claimed_scopes = {
      _scope_of(v)
      for entry in found.values()
      for slot in entry['slots'].values()
      for v in slot
  }
  return [n for n in unclaimed if _scope_of(n) not in claimed_scopes]


V1_REASON = (
    'a v1 checkpoint (slots named <variable>/<Optimizer>, no'
    ' hyperparameters): convert it with estimator-migrate-convert, then'
    ' export the converted model_dir'
)


def _has_v1_slots(variables: Mapping, model: set[str]) -> bool:
  # v1 slots sit under their variable: `<variable>/Adagrad`, or
  # `<variable>/t_0/Adagrad` for a v1 DNN's.
  def under_model(name):
    parts = name.split('/')
    return any('/'.join(parts[:i]) in model for i in range(1, len(parts)))

  return any(under_model(n) for n in variables if n not in model)


class _ConvertedReader:
  """The tensors a conversion of the source would write, computed in memory.

  Each is made from the source as the converter's writer makes it
  (`blocks.read`: read through the source's checked reader, then
  transformed), so every byte read is checked against its CRC-32C.
  """

  def __init__(self, source: source_lib.Source, plan: mapping.Plan):
    self._source = source
    self.targets = {t.name: t for t in plan.targets}

  def get_tensor(self, name: str) -> np.ndarray:
    target = self.targets[name]
    values = [
        blocks.read(self._source.reader, block)
        for block in blocks.split(target, writer.DEFAULT_CHUNK_BYTES)
    ]
    return values[0] if len(values) == 1 else np.concatenate(values)

  # v1 state is computed whole (a transformed slot), not read as it is.
  get_array = get_tensor


def read_v1_state(
    source: source_lib.Source, model_names: list[str], global_step: int | None
) -> State:
  """A v1 checkpoint's optimizer state, as the converter translates it.

  Plans the conversion as `checkpoints.convert` does (optimizers read from
  the v1 graph beside the checkpoint) and makes the converted tensors in
  memory from the source, every byte checked against its CRC-32C; the
  Python-only config (Adagrad's `epsilon=1e-30`, Adam's `1e-8`) comes from
  the same translation. Returns a State with `reason` when the converter
  would refuse the checkpoint for what its names and graph say (no graph
  beside it, a schedule, an unknown optimizer, slots it does not map).

  Raises:
    CheckpointError: Corrupt or truncated data, or an unreadable graph: the
      export must not carry what the converter would refuse.
  """
  path = graph_lib.graph_path(source.prefix, None)
  if path is None:
    return State(
        (),
        {},
        (),
        reason=f'{V1_REASON} (no .meta or graph.pbtxt beside'
        f' {source.prefix} to read its optimizers from)',
    )
  try:
    graph_lib.load_graph_def(path)
  except errors.CheckpointError as e:  # corrupt: an error, not a reason
    raise errors.CheckpointError(
        f'cannot parse graph {path} ({files.error_line(e.__cause__ or e)}):'
        ' the v1 graph the optimizers are read from is corrupt. Restore it'
        ' from a backup, or remove it to export without the optimizer state.'
    ) from e
  # What the converter decides from names and the graph alone is a reason;
  # what reading the bytes finds (below, in read_state) is an error.
  try:
    layout, estimator_type, plans = convert.optimizer_plans(source)
    plan = mapping.plan_targets(source, layout, estimator_type, plans)
  except errors.MigrationError as e:
    return State((), {}, (), reason=f'{V1_REASON} ({e})')
  converted = _ConvertedReader(source, plan)
  state = read_state(
      converted,
      converted.targets,
      model_names,
      plans,
      global_step,
      hypers_from=FROM_V1_GRAPH,
  )
  state = dataclasses.replace(
      state,
      sources=tuple(dict.fromkeys(s, FROM_V1_GRAPH) for s in state.sources),
  )
  described = sorted(
      f'training/{plan.keras_names[part]}: {p.describe()}'
      for part, p in plans.items()
  )
  notes = (
      'v1 optimizers read from the graph and translated as the converter'
      f' does: {"; ".join(described)}',
      *(
          f'{part}: the translation is not exact'
          for part, p in sorted(plans.items())
          if not p.exact
      ),
  )
  return dataclasses.replace(state, notes=state.notes + notes)
