"""A custom estimator's checkpoint matched to the user's Keras 2 model.

`make_model_fn` (and `to_estimator(checkpoint_format='saver')`) write
name-based checkpoints: the graph names of the model's weights
(`dense/kernel`) and of the Keras optimizer's state
(`<scope>/<Optimizer>/<weight>/<slot>`, `<scope>/<Optimizer>/<hyper>`).
`to_estimator`'s default `checkpoint_format='checkpoint'` is object-based:
keys follow the model's structure (`layer_with_weights-0/kernel/...`) and
the object graph records which slot belongs to which weight.

Either way the match is by structure: the user's builder builds the Keras 2
model (in a fresh graph, as the model_fn does, for name-based checkpoints;
matched by TensorFlow's own object matching, `CheckpointView.match`, for
object-based ones), and each of its weights, in `trainable_weights` then
`non_trainable_weights` order, gets its checkpoint tensor. A weight the
checkpoint lacks, a shape that differs, or a model tensor of the checkpoint
that no weight claims is an error naming the position.

The optimizer's state is presented to `optimizer_state.read_state` under the
canned estimators' names (`training/<Optimizer>/<weight>/<slot>`), so one
reader serves both.
"""

from collections.abc import Callable, Mapping
import dataclasses
import inspect

from absl import logging
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_view

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.export import weights as weights_lib

_VALUE = '/.ATTRIBUTES/VARIABLE_VALUE'
_OBJECT_GRAPH = '_CHECKPOINTABLE_OBJECT_GRAPH'
_STEPS = ('global_step', 'estimator_global_step' + _VALUE)


@dataclasses.dataclass(frozen=True)
class Matched:
  """The model's weights in order, each with its checkpoint tensor.

  `trainable` / `non_trainable`: readable names (the checkpoint key without
  the object-graph suffix), in the Keras model's order. `keys`: name ->
  checkpoint key. `optimizer_view`: `training/<Optimizer>/...` -> key.
  `paths`: each weight's path in the Keras 2 model (`zeta/kernel`), in the
  same order.
  """

  prefix: str
  object_based: bool
  trainable: tuple[str, ...]
  non_trainable: tuple[str, ...]
  shapes: Mapping[str, tuple[int, ...]]
  keys: Mapping[str, str]
  global_step: int | None
  optimizer_view: Mapping[str, str]
  keras2_model: tf.keras.Model
  reader: weights_lib.CheckedReader  # of the checkpoint, CRC-32C checked
  paths: tuple[str, ...]


def call_builder(builder: Callable, params: Mapping | None):
  """`builder(params)` if it takes an argument (as make_model_fn calls it)."""
  positional = [
      p
      for p in inspect.signature(builder).parameters.values()
      if p.kind
      in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
  ]
  return builder(dict(params or {})) if positional else builder()


def _build(builder, params, graph: bool) -> tf.keras.Model:
  if graph:
    with tf.Graph().as_default():
      model = call_builder(builder, params)
  else:
    model = call_builder(builder, params)
  if not isinstance(model, tf.keras.Model):
    raise errors.ModelError(
        f'build_model returned {type(model).__name__}, not a Keras model.',
        argument='build_model',
    )
  try:
    weights = model.weights
  except ValueError:  # Keras 2 refuses to list an unbuilt model's weights
    weights = []
  if not weights:
    raise errors.ModelError(
        'build_model returned a model without weights: build it (give it an'
        ' Input) so its weights exist, as the estimator did.',
        argument='build_model',
    )
  return model


def match(model_dir: str, builder: Callable, params, optimizer=None) -> Matched:
  """Matches the checkpoint in `model_dir` to the model `builder` builds.

  `optimizer` (a name, a Keras 2 optimizer or a factory) names the class of
  an object-based checkpoint's optimizer when the built model is not
  compiled with it.

  Raises:
    CheckpointError: No checkpoint; or the model does not match it (the
      message names each position that differs).
    ModelError: The builder returns no built Keras model.
  """
  source = source_lib.open_source(model_dir)
  with source.closed_on_error():
    return _match(source, builder, params, optimizer)


def _match(
    source: source_lib.Source, builder: Callable, params, optimizer
) -> Matched:
  reader = weights_lib.CheckedReader(source)
  found_eagerly = _OBJECT_GRAPH in source.variables
  if found_eagerly:
    model = _build(builder, params, graph=False)
    found = _object_based(source.prefix, model, optimizer)
  else:
    model = _build(builder, params, graph=True)
    found = _name_based(source.variables, model)
  trainable, non_trainable, keys, optimizer_view = found
  shapes = {
      name: tuple(int(d) for d in w.shape)
      for name, w in zip(
          trainable + non_trainable,
          model.trainable_weights + model.non_trainable_weights,
          strict=True,
      )
  }
  _check(source, trainable + non_trainable, shapes, keys, optimizer_view)
  step = next((s for s in _STEPS if s in source.variables), None)
  return Matched(
      prefix=source.prefix,
      object_based=_OBJECT_GRAPH in source.variables,
      trainable=tuple(trainable),
      non_trainable=tuple(non_trainable),
      shapes=shapes,
      keys=keys,
      global_step=int(reader.get_tensor(step)) if step else None,
      optimizer_view=optimizer_view,
      keras2_model=model,
      reader=reader,
      paths=_fresh_paths(model, builder, params, object_based=found_eagerly),
  )


def _weight_names(weights) -> list[str]:
  """Keras 2 weights' names without the `:0` (`dense/kernel`)."""
  return [w.name.rpartition(':')[0] or w.name for w in weights]


def _paths(model: tf.keras.Model) -> tuple[str, ...]:
  return tuple(
      _weight_names(model.trainable_weights + model.non_trainable_weights)
  )


def _fresh_paths(model, builder, params, *, object_based: bool):
  """The weights' paths as a fresh process names them (`dense`, `dense_1`).

  Keras numbers unnamed layers by how many the graph built before: a
  name-based checkpoint's model is built in a fresh graph already; an
  object-based one's eagerly, after whatever this process built, so it is
  built once more in a fresh graph for its names (same builder, same
  order). model.py builds with Keras 3's counters at zero, to the same
  names.
  """
  built = _paths(model)
  if not object_based:
    return built
  try:
    fresh = _paths(_build(builder, params, graph=True))
  except Exception as e:  # noqa: BLE001 (a builder that needs eager mode)
    logging.warning(
        'The builder does not build in a graph (%s): the eager names are'
        ' recorded; model.py warns and matches by position if they are not'
        " Keras 3's.",
        e,
    )
    return built
  if len(fresh) != len(built):
    raise errors.ModelError(
        f'build_model builds {len(fresh)} weights in a fresh graph and'
        f' {len(built)} eagerly: it must build one model each time.',
        argument='build_model',
    )
  return fresh


def _name_based(variables: Mapping, model: tf.keras.Model):
  trainable = _weight_names(model.trainable_weights)
  non_trainable = _weight_names(model.non_trainable_weights)
  weights = set(trainable + non_trainable)
  # A model built by its first call (a Sequential without an Input, as the
  # migration guide's model_fn makes it) names its weights under its own
  # name: `sequential/dense/kernel` where the built model has
  # `dense/kernel`.
  prefix = ''
  if not weights & set(variables) and all(
      f'{model.name}/{n}' in variables for n in weights
  ):
    prefix = f'{model.name}/'
  keys = {n: prefix + n for n in weights}
  # `<scope>/<weight>/<slot>`: a Keras optimizer's slot of a model weight.
  view, scopes = {}, set()
  for name in variables:
    for weight in weights:
      scope, _, slot = name.rpartition(f'/{prefix}{weight}/')
      if scope and slot and '/' not in slot and name != weight:
        optimizer = scope.rpartition('/')[2]
        view[f'training/{optimizer}/{weight}/{slot}'] = name
        scopes.add(scope)
  # `<scope>/<hyper>`: its hyperparameters (a slotless SGD is found by its
  # learning rate).
  scopes |= {
      n.removesuffix('/learning_rate')
      for n in variables
      if n.endswith('/learning_rate')
  }
  for name in variables:
    scope, _, hyper = name.rpartition('/')
    if scope in scopes:
      view[f'training/{scope.rpartition("/")[2]}/{hyper}'] = name
  return trainable, non_trainable, keys, view


def _object_based(prefix: str, model: tf.keras.Model, optimizer_arg):
  try:
    view = checkpoint_view.CheckpointView(prefix)
  except tf.errors.OpError as e:
    raise errors.CheckpointError(
        f'cannot read the object graph of {prefix}:'
        f' {files.error_line(e)}. The checkpoint is corrupt, or its path'
        ' holds a character TF globs ([ ] * ?): copy it to a plain path.'
    ) from e
  proto = view._object_graph_proto  # noqa: SLF001 (TF's parsed graph)
  node_of = {id(obj): node for node, obj in view.match(model).items()}

  def key(node: int) -> str | None:
    for attribute in proto.nodes[node].attributes:
      if attribute.name == 'VARIABLE_VALUE':
        return attribute.checkpoint_key
    return None

  def names(weights, missing):
    out = []
    for position, weight in enumerate(weights):
      node = node_of.get(id(weight))
      if node is None or key(node) is None:
        missing.append(f'{weight.name} (position {position})')
        out.append(weight.name)
      else:
        out.append(key(node).removesuffix(_VALUE))
    return out

  missing = []
  trainable = names(model.trainable_weights, missing)
  non_trainable = names(model.non_trainable_weights, missing)
  if missing:
    raise errors.CheckpointError(
        f'{prefix} has no tensor for the weights {missing} of the model'
        ' build_model builds: it is not the model the estimator trained.'
        ' Pass the builder (and params) the estimator was built with.'
    )
  keys = {n: n + _VALUE for n in trainable + non_trainable}
  by_node = {node: key(node) for node in node_of.values()}
  optimizer_view = {}
  root = proto.nodes[0]
  for child in root.children:
    if child.local_name != 'optimizer':
      continue
    optimizer = proto.nodes[child.node_id]
    opt_name = _optimizer_class(model, optimizer_arg)
    for hyper in optimizer.children:
      hyper_key = key(hyper.node_id)
      if hyper_key:
        optimizer_view[f'training/{opt_name}/{hyper.local_name}'] = hyper_key
    for slot in optimizer.slot_variables:
      weight = by_node.get(slot.original_variable_node_id)
      slot_key = key(slot.slot_variable_node_id)
      if weight and slot_key:
        weight = weight.removesuffix(_VALUE)
        optimizer_view[f'training/{opt_name}/{weight}/{slot.slot_name}'] = (
            slot_key
        )
  return trainable, non_trainable, keys, optimizer_view


def _optimizer_class(model: tf.keras.Model, optimizer) -> str:
  """The optimizer's class name: `optimizer` given, else the compiled one."""
  if optimizer is None:
    optimizer = getattr(model, 'optimizer', None)
  if isinstance(optimizer, str):
    # As compile() takes it: 'adam' is Adam.
    try:
      return type(tf.keras.optimizers.get(optimizer)).__name__
    except ValueError:
      return optimizer
  if callable(optimizer) and not hasattr(optimizer, 'get_config'):
    optimizer = optimizer()
  return type(optimizer).__name__ if optimizer is not None else 'Unknown'


def _check(source, names, shapes, keys, optimizer_view) -> None:
  problems = []
  for position, name in enumerate(names):
    key = keys[name]
    if key not in source.variables:
      problems.append(
          f'position {position}: the model has {name} {list(shapes[name])},'
          ' the checkpoint has no such tensor'
      )
    elif tuple(source.variables[key].shape) != shapes[name]:
      problems.append(
          f'position {position}: {name} is {list(shapes[name])} in the'
          f' model, {list(source.variables[key].shape)} in the checkpoint'
      )
  claimed = set(keys.values()) | set(optimizer_view.values()) | set(_STEPS)
  extra = sorted(
      n
      for n in source.variables
      if n not in claimed
      and n != _OBJECT_GRAPH
      and _is_variable(n, [keys[m] for m in names])
  )
  if extra:
    problems.append(f'the checkpoint also holds {extra[:10]}, which no weight')
    problems[-1] += ' of the model claims'
  if problems:
    raise errors.CheckpointError(
        f'build_model does not build the model of {source.prefix}: '
        + '; '.join(problems)
        + '. Weights are matched by position (trainable, then'
        ' non-trainable): pass the builder and params the estimator was'
        ' trained with.',
        argument='build_model',
    )


def _is_variable(name: str, weights) -> bool:
  """A model tensor, not bookkeeping or a v1 optimizer's state.

  v1 optimizers keep slots as `<weight>/<Optimizer>` and Adam's
  `beta1_power`: not carried (the report says so), not a mismatch.
  """
  if '/.ATTRIBUTES/' in name:
    return name.endswith(_VALUE) and '.OPTIMIZER_SLOT' not in name
  if name.endswith('_power') and '/' not in name:
    return False
  return not any(name.startswith(w + '/') for w in weights)
