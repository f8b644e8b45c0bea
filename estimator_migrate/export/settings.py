"""The training settings an export carries, and where each was read.

The checkpoint and the graph saved beside it (`<prefix>.meta`, else the
model_dir's `graph.pbtxt`) record how the estimator was trained: each
optimizer's class and hyperparameters (`optimizer_state`), the logits shape
(the head, checked by `weights.read_weights`), and the loss reduction and
weighting, which this module reads from the loss ops the head builds. Both
v1 (`tf.compat.v1.losses.compute_weighted_loss`) and v2 heads (Keras'
`compute_weighted_loss`) reduce under a `weighted_loss` name scope:

- SUM: `weighted_loss/Sum` of `weighted_loss/Mul` (losses * weights), and
  nothing after it;
- SUM_OVER_BATCH_SIZE: then `weighted_loss/value`, a `DivNoNan` by
  `weighted_loss/num_elements` (a `Size` op);
- MEAN / SUM_BY_NONZERO_WEIGHTS: `value` divides by a sum or count of the
  weights; not read here (the kwargs decide, and the report says so).

`Mul`'s second input is the scalar constant 1 without a weight column, a
feature with one. What they record is the truth: kwargs that contradict it are refused
(`check_*`), kwargs that omit it get it (`Setting.source` says which).
"""

from collections.abc import Callable, Mapping
import dataclasses
import re
from typing import NoReturn

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import graph as graph_lib
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.tables import optimizers

FROM_GRAPH = optimizer_state.FROM_GRAPH
FROM_KWARGS = optimizer_state.FROM_KWARGS
FROM_CHECKPOINT = optimizer_state.FROM_CHECKPOINT

_WEIGHTED_LOSS = re.compile(r'(?P<scope>(?:.*/)?weighted_loss(?:_\d+)?)/Sum')


@dataclasses.dataclass(frozen=True)
class Setting:
  """One training setting carried, its value and where it was read."""

  name: str
  value: str
  source: str


@dataclasses.dataclass(frozen=True)
class GraphRecord:
  """What the graph beside a checkpoint says about the loss."""

  path: str | None  # None: no graph beside the checkpoint
  graph: object = None  # the GraphDef
  reduction: str | None = None  # Keras 3 name; None: not read
  reduction_op: str | None = None  # the op it was read from
  weighted: bool | None = None  # the loss weighted by a feature


def read_graph(prefix: str) -> GraphRecord:
  """Reads the graph beside checkpoint `prefix`, if there is one.

  Raises:
    CheckpointError: The graph is there but cannot be parsed.
  """
  path = graph_lib.graph_path(prefix, None)
  if path is None:
    return GraphRecord(None)
  try:
    graph = graph_lib.load_graph_def(path)
  except errors.CheckpointError as e:
    raise errors.CheckpointError(
        f'cannot parse graph {path} ({files.error_line(e.__cause__ or e)}):'
        ' the graph the training settings are read from is corrupt. Restore'
        ' it from a backup, or remove it to export with the settings the'
        ' kwargs give.'
    ) from e
  nodes = {n.name: n for n in graph.node}
  found = set()
  for node in graph.node:
    match = _WEIGHTED_LOSS.fullmatch(node.name)
    if match and 'gradients' not in node.name:
      found.add(match['scope'])
  if len(found) != 1:  # no head loss, or several: not read
    return GraphRecord(path, graph)
  (scope,) = found
  value = nodes.get(f'{scope}/value')
  if value is None:
    reduction, op = 'sum', f'{scope}/Sum'
  elif value.op == 'DivNoNan' and _leads_to(nodes, value.input[1], ('Size',)):
    reduction, op = 'sum_over_batch_size', f'{scope}/value'
  else:
    reduction, op = None, None
  weighted = None
  mul = nodes.get(f'{scope}/Mul')
  if mul is not None and len(mul.input) == 2:
    weighted = not _is_unit_constant(nodes, mul.input[1])
  return GraphRecord(path, graph, reduction, op, weighted)


def _is_unit_constant(nodes: Mapping, name: str) -> bool:
  """Whether `name` is (through Identity/Cast) the scalar constant 1.

  The head's weights without a weight column; a weight feature given as a
  constant tensor (an input_fn returning tensors) is not a scalar 1.
  """
  for _ in range(8):
    node = nodes.get(name.lstrip('^').split(':')[0])
    if node is None:
      return False
    if node.op == 'Const':
      value = tf.make_ndarray(node.attr['value'].tensor)
      return value.shape == () and float(value) == 1.0
    if node.op not in ('Identity', 'Cast') or not node.input:
      return False
    name = node.input[0]
  return False


def _leads_to(nodes: Mapping, name: str, ops: tuple[str, ...]) -> bool:
  """Whether `name` is (through Identity/Cast) an op of type `ops`."""
  for _ in range(8):
    node = nodes.get(name.lstrip('^').split(':')[0])
    if node is None:
      return False
    if node.op in ops:
      return True
    if node.op not in ('Identity', 'Cast') or not node.input:
      return False
    name = node.input[0]
  return False


def show(value) -> str:
  """A value as report.md and error messages print it (float32 shortest)."""
  if isinstance(value, bool) or not isinstance(value, (float, np.floating)):
    return repr(value)
  return str(np.float32(value))


def _same(given, recorded) -> bool:
  if isinstance(recorded, bool) or isinstance(given, bool):
    return bool(given) == bool(recorded)
  try:
    return np.float32(given) == np.float32(recorded)
  except (TypeError, ValueError):
    return given == recorded


def _refuse(
    kwarg: str, given: str, recorded: str, where: str, fix: str
) -> NoReturn:
  raise errors.MigrationError(
      f'config kwarg {kwarg}={given} contradicts the checkpoint: {where}'
      f' records {recorded}. {fix}',
      argument='config',
  )


def check_reduction(
    record: GraphRecord, given: str | None, given_raw
) -> Setting | None:
  """The reduction the graph records, after refusing kwargs that differ.

  Args:
    record: The graph beside the checkpoint.
    given: The kwargs' loss_reduction as Keras 3 names it, or None.
    given_raw: The kwargs' value as given (for the message).

  Returns:
    The setting read from the graph, or None when the graph does not tell.

  Raises:
    MigrationError: `given` differs from what the graph records.
  """
  if record.reduction is None:
    return None
  if given is not None and given != record.reduction:
    _refuse(
        'loss_reduction',
        repr(getattr(given_raw, 'value', given_raw)),
        f'loss_reduction={record.reduction!r}',
        f'its graph {record.path} (op {record.reduction_op})',
        'Remove loss_reduction from the config (the checkpoint decides) or'
        f' give {record.reduction!r}.',
    )
  return Setting(
      'loss_reduction',
      record.reduction,
      f'{FROM_GRAPH} (`{record.reduction_op}`)',
  )


def check_weight_column(record: GraphRecord, given) -> Setting:
  """The weight column setting; refuses one the graph does not weight by.

  Raises:
    MigrationError: `given` names a weight column, but the graph weights
      the loss by a constant.
  """
  if record.weighted is None:
    if given is None:
      return Setting('weight_column', 'none', 'v1/v2 default')
    return Setting(
        'weight_column', repr(getattr(given, 'key', given)), FROM_KWARGS
    )
  if given is not None and not record.weighted:
    _refuse(
        'weight_column',
        repr(getattr(given, 'key', given)),
        'no weight column (the loss is weighted by the scalar 1)',
        f'its graph {record.path}',
        'Remove weight_column from the config, or export the model_dir'
        ' trained with it.',
    )
  if record.weighted and given is None:
    return Setting(
        'weight_column',
        'a feature (the config names none: pass sample_weight to fit)',
        FROM_GRAPH,
    )
  if given is None:
    return Setting('weight_column', 'none', FROM_GRAPH)
  return Setting(
      'weight_column',
      repr(getattr(given, 'key', given)),
      f'{FROM_KWARGS}; the checkpoint graph weights the loss by a feature',
  )


def _claim(argument, estimator: str, part, kwargs: Mapping):
  """What an optimizer kwarg says: (Keras class, config, shown) or None.

  A string says only the class (its learning rate depends on the
  estimator's version); a v1 optimizer says what its translation would
  train with (`optimizers.plan_optimizer`, as the converter translates it);
  a Keras optimizer (or a factory of one) says its class and config.
  """
  if argument is None:
    return None
  if isinstance(argument, str):
    row = optimizers.OPTIMIZERS.get(optimizers.CANNED_STRINGS.get(argument))
    keras_class = row.keras_class if row is not None else argument
    return keras_class, {}, repr(argument)
  if isinstance(argument, tf.compat.v1.train.Optimizer):
    plan = optimizers.plan_optimizer(
        argument,
        estimator=estimator,
        argument=part.optimizer.name,
        feature_columns=kwargs.get(part.columns_arg or ''),
    )
    return plan.keras_class, dict(plan.config), type(argument).__name__
  if callable(argument) and not hasattr(argument, 'get_config'):
    argument = argument()  # the estimator accepts a factory
  get_config = getattr(argument, 'get_config', None)
  if get_config is None:
    return None
  config = {
      k: v for k, v in get_config().items() if isinstance(v, (bool, int, float))
  }
  return type(argument).__name__, config, type(argument).__name__


def check_optimizers(
    family, estimator: str, kwargs: Mapping, state, record: GraphRecord
) -> None:
  """Refuses an optimizer kwarg the checkpoint's optimizers contradict.

  Args:
    family: The estimator's `estimators.FamilyRow`.
    estimator: The estimator's name.
    kwargs: The constructor kwargs.
    state: The `optimizer_state.State` read (entries and their sources).
    record: The graph beside the checkpoint (for the message).

  Raises:
    MigrationError: A part's optimizer kwarg names another class, or a
      hyperparameter the checkpoint (or its graph) records otherwise.
  """
  if state.reason:
    return
  for part in family.parts:
    claim = _claim(kwargs.get(part.optimizer.name), estimator, part, kwargs)
    if claim is None:
      continue
    entry, sources = _entry_of(part.scope, state)
    if entry is None:
      continue
    keras_class, config, shown = claim
    where = f'the {part.scope} part\'s optimizer training/{entry["name"]}'
    name = part.optimizer.name
    if keras_class != entry['class']:
      _refuse(
          name,
          shown,
          f'class {entry["class"]}',
          where,
          f'Remove {name} from the config (the checkpoint decides) or give'
          f' {entry["class"]}.',
      )
    for key, value in sorted(config.items()):
      if key not in entry['config'] or sources.get(key) == FROM_KWARGS:
        continue
      if not _same(value, entry['config'][key]):
        source = sources.get(key, FROM_CHECKPOINT)
        origin = (
            f' (graph {record.path})'
            if source == FROM_GRAPH
            else f' ({source})'
        )
        _refuse(
            f'{name}.{key}',
            show(value),
            f'{key}={show(entry["config"][key])}{origin}',
            where,
            f'Remove {name} from the config (the checkpoint decides) or give'
            f' {key}={show(entry["config"][key])}.',
        )


def _entry_of(scope: str, state):
  if len(state.entries) == 1:
    return state.entries[0], state.sources[0] if state.sources else {}
  for entry, sources in zip(state.entries, state.sources, strict=False):
    if entry['variables'] and entry['variables'][0].startswith(scope + '/'):
      return entry, sources
  return None, {}


def optimizer_settings(family, state) -> list[Setting]:
  """One row per optimizer: its class, every config value, iterations."""
  if state.reason:
    return [Setting('optimizers', f'not carried: {state.reason}', '-')]
  rows = []
  for part in family.parts:
    entry, sources = _entry_of(part.scope, state)
    if entry is None:
      continue
    label = f'{part.scope} optimizer'
    rows.append(
        Setting(
            label,
            entry['class'],
            f'{sources.get("class", FROM_CHECKPOINT)}'
            f' (`training/{entry["name"]}`)',
        )
    )
    for key, value in entry['config'].items():
      rows.append(
          Setting(
              f'{label}: {key}',
              show(value),
              sources.get(key, FROM_CHECKPOINT),
          )
      )
    rows.append(
        Setting(f'{label}: iterations', str(entry['iterations']), 'checkpoint')
    )
  return rows


def _logits_bias(spec: spec_lib.CannedModel) -> str:
  """The variable whose width is the head's logits dimension."""
  if spec.dnn:
    return spec_lib.logits_scope(spec.dnn.scope) + '/bias'
  return (spec.linear or spec.baseline).bias


def _head_argument(head: spec_lib.Head) -> str:
  return 'label_dimension' if head.type == 'regression' else 'n_classes'


def _head_value(head: spec_lib.Head) -> int:
  """The head's `n_classes` or `label_dimension`."""
  return head.n_classes or head.logits_dimension


def head_check(
    spec: spec_lib.CannedModel, kwargs: Mapping
) -> Callable[[Mapping], None]:
  """A `weights.read_weights` check: the kwargs' head is the checkpoint's.

  Raises (when called):
    MigrationError: `n_classes` / `label_dimension` gives another logits
      width than the checkpoint's; names both.
  """

  def check(variables: Mapping) -> None:
    head, name = spec.head, _logits_bias(spec)
    variable = variables.get(name)
    if variable is None or len(variable.shape) != 1:
      return  # the missing-variable check names it
    width = int(variable.shape[0])
    if width == head.logits_dimension:
      return
    key = _head_argument(head)
    recorded = width if key == 'label_dimension' or width > 1 else 2
    given = _head_value(head)
    shown = f'{given}' if key in kwargs else f'{given} (the default)'
    _refuse(
        key,
        shown,
        f'{key}={recorded}',
        f'its head ({name} is [{width}], expected'
        f' [{head.logits_dimension}])',
        f'Give {key}={recorded}, the value the estimator was trained with.',
    )

  return check


def head_settings(spec: spec_lib.CannedModel, kwargs: Mapping) -> list[Setting]:
  """The head: its type and width, from kwargs, checked against the shape."""
  head = spec.head
  key = _head_argument(head)
  value = _head_value(head)
  source = FROM_KWARGS if key in kwargs else 'v1/v2 default'
  agrees = (
      f'{source}; the checkpoint agrees (`{_logits_bias(spec)}`:'
      f' {head.logits_dimension} logits)'
  )
  return [
      Setting('head', head.type, agrees),
      Setting(key, str(value), agrees),
  ]
