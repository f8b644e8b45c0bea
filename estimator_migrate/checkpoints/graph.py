"""Reads each part's v1 optimizer back from the graph saved beside a checkpoint.

v1 optimizers turn their hyperparameters into named constants under their
name scope (`head/Adam/learning_rate`, `head/Ftrl/l1_regularization_strength`)
and name their update ops `<scope>/update_<variable>/...`, which tells which
part (`dnn/`, `linear/`) each optimizer trains. The checkpoint's `.meta` file
holds that graph; Estimators also write `graph.pbtxt` in the model_dir.
"""

from collections.abc import Mapping
import dataclasses
import os
import re
import types

from google.protobuf import text_format
import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from estimator_migrate import errors
from estimator_migrate.tables import optimizers


@dataclasses.dataclass(frozen=True)
class GraphOptimizer:
  """One v1 optimizer found in a graph."""

  scope: str
  row: optimizers.OptimizerRow
  parts: frozenset[str]
  constants: Mapping[str, float]
  # The row's kernel-read hyperparameters (`Hyper.kernel`) by v1 argument.
  flags: Mapping[str, bool]


def graph_path(prefix: str, source_graph: str | None) -> str | None:
  """The graph to read: the given one, `<prefix>.meta`, or `graph.pbtxt`."""
  if source_graph:
    if not tf.io.gfile.exists(source_graph):
      raise errors.CheckpointError(
          f'source_graph={source_graph} does not exist.',
          argument='source_graph',
      )
    return source_graph
  for candidate in (
      prefix + '.meta',
      os.path.join(os.path.dirname(prefix), 'graph.pbtxt'),
  ):
    if tf.io.gfile.exists(candidate):
      return candidate
  return None


def load_graph_def(path: str) -> graph_pb2.GraphDef:
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      content = f.read()
    if path.endswith('.meta'):
      meta = meta_graph_pb2.MetaGraphDef()
      meta.ParseFromString(content)
      return meta.graph_def
    graph = graph_pb2.GraphDef()
    if path.endswith('.pbtxt'):
      text_format.Parse(content.decode('utf-8'), graph)
    else:
      graph.ParseFromString(content)
    return graph
  except Exception as e:  # protobuf raises several unrelated types
    raise errors.CheckpointError(
        f'cannot parse graph {path}: {e}. Pass source_graph= a readable'
        ' .meta, .pbtxt or .pb, or give the optimizers explicitly.',
        argument='source_graph',
    ) from e


def read_optimizers(graph: graph_pb2.GraphDef) -> list[GraphOptimizer]:
  """Every v1 optimizer scope in `graph` with its constants and parts."""
  by_name = {row.v1_name: row for row in optimizers.OPTIMIZERS.values()}
  scope_re = re.compile(
      r'(?P<scope>(?:.*/)?(?P<opt>' + '|'.join(by_name) + r')(?:_\d+)?)'
      r'/update_(?P<part>[^/]+)/'
  )
  scopes: dict[str, dict] = {}
  for node in graph.node:
    match = scope_re.match(node.name)
    if not match:
      continue
    row = by_name[match['opt']]
    found = scopes.setdefault(
        match['scope'],
        {
            'row': row,
            'parts': set(),
            'flags': {h.v1_argument: False for h in row.hypers if h.kernel},
        },
    )
    found['parts'].add(match['part'])
    for hyper in row.hypers:
      if hyper.kernel and _runs(node, hyper.kernel, hyper.kernel_attr):
        found['flags'][hyper.v1_argument] = True
  constants = {node.name: node for node in graph.node if node.op == 'Const'}
  result = []
  for scope, found in sorted(scopes.items()):
    values = {}
    for hyper in found['row'].hypers:
      node = constants.get(f'{scope}/{hyper.graph}') if hyper.graph else None
      if node is not None:
        values[hyper.graph] = float(
            tf.make_ndarray(node.attr['value'].tensor).item()
        )
    result.append(
        GraphOptimizer(
            scope,
            found['row'],
            frozenset(found['parts']),
            types.MappingProxyType(values),
            types.MappingProxyType(found['flags']),
        )
    )
  return result


def _runs(node, kernel: str, attr: str | None) -> bool:
  """Whether `node` runs v1 kernel `kernel` (with `attr` set, if given)."""
  op = node.op.removeprefix('Resource').removeprefix('Sparse')
  if op != kernel:
    return False
  return attr is None or (attr in node.attr and node.attr[attr].b)


def v1_optimizer(found: GraphOptimizer):
  """Rebuilds the v1 optimizer object; `plan_optimizer` translates it.

  Hyperparameters v1 keeps as graph constants, and the bools its update ops
  show (centered RMSProp, Nesterov momentum), are read; the rest (a slot
  initializer such as `initial_accumulator_value`) keep v1's default.

  Raises:
    CheckpointError: A hyperparameter is not a constant in the graph (a
      learning-rate schedule, for instance).
  """
  kwargs = dict(found.flags)
  for hyper in found.row.hypers:
    if hyper.graph is None:
      continue
    if hyper.graph not in found.constants:
      raise errors.CheckpointError(
          f'{found.scope}: {hyper.v1_argument} is not a constant in the graph'
          ' (a schedule or a tensor). Give the optimizer explicitly, e.g.'
          f' optimizers={{"{sorted(found.parts)[0]}": ...}}.',
          argument='optimizers',
      )
    kwargs[hyper.v1_argument] = found.constants[hyper.graph]
  return getattr(tf.compat.v1.train, found.row.v1_class)(**kwargs)
