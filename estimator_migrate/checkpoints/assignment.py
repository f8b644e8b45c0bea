"""Proposes an assignment map from a name-based checkpoint to a Keras model.

TF1 checkpoints name variables by scope (`model/dense_1/kernel`); a Keras
model names its weights by layer (`dense_1/kernel:0`, or `dense_7/kernel:0`
when other models were built first). `assignment_map` pairs them: first by
name (the longest common suffix of path segments), then what is left by
kind (`kernel`, `bias`, `moving_mean`, ...) and shape, in creation order, and
reports every variable it could not pair. Optimizer slots, Adam's powers and
the global step are not model weights and are left out.

Example:
  mapping = assignment.assignment_map('/models/v1/model.ckpt-100', model)
  print(mapping.table())
  tf.compat.v1.train.init_from_checkpoint(
      '/models/v1/model.ckpt-100', mapping.init_from_checkpoint_map(model))
"""

from collections.abc import Callable, Mapping
import dataclasses
import re
import types

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import report
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.tables import optimizers


def _strip(name: str) -> str:
  return name[:-2] if name.endswith(':0') else name


def _natural(name: str):
  """Sort key that puts dense, dense_1, dense_2, dense_10 in creation order."""
  return [(int(p) if p.isdigit() else p) for p in re.split(r'(\d+)', name)]


def _common_suffix(a: str, b: str) -> int:
  left, right = a.split('/')[::-1], b.split('/')[::-1]
  count = 0
  for x, y in zip(left, right, strict=False):  # the shorter path ends it
    if x != y:
      break
    count += 1
  return count


@dataclasses.dataclass(frozen=True)
class AssignmentMap:
  """Checkpoint name -> model weight name, and what stayed unpaired."""

  mapping: Mapping[str, str]
  how: Mapping[str, str]  # checkpoint name -> 'name' or 'shape and order'
  unmatched_checkpoint: tuple[str, ...]
  unmatched_model: tuple[str, ...]

  @property
  def complete(self) -> bool:
    return not self.unmatched_checkpoint and not self.unmatched_model

  def init_from_checkpoint_map(self, model: tf.keras.Model) -> dict:
    """The map `tf.compat.v1.train.init_from_checkpoint` takes."""
    weights = {_strip(w.name): w for w in model.weights}
    return {ckpt: weights[name] for ckpt, name in self.mapping.items()}

  def table(self) -> str:
    rows = [(c, m, self.how[c]) for c, m in self.mapping.items()]
    rows += [(c, '(none)', 'unmatched') for c in self.unmatched_checkpoint]
    rows += [('(none)', m, 'unmatched') for m in self.unmatched_model]
    return report.markdown_table(('checkpoint', 'model', 'matched by'), rows)


def assignment_map(checkpoint: str, model: tf.keras.Model) -> AssignmentMap:
  """Pairs a checkpoint's model variables with a Keras model's weights.

  Args:
    checkpoint: A checkpoint prefix or directory (name-based, TF1 style).
    model: A built Keras model.

  Returns:
    The pairs and the unpaired names on both sides.

  Raises:
    CheckpointError: The checkpoint cannot be read.
  """
  if not model.built:
    raise errors.ModelError(
        'build the model first (call it on a batch or'
        ' model.build(input_shape)).'
    )
  src = source_lib.open_source(checkpoint)
  layout = roles.classify(src.variables)
  ckpt = {n: src.variables[n].shape for n in layout.model}
  weights = {_strip(w.name): tuple(w.shape.as_list()) for w in model.weights}
  mapping, how = {}, {}
  # By name: pair when the last two path segments agree and shapes match.
  for model_name, shape in weights.items():
    best = max(
        (c for c in ckpt if c not in mapping and ckpt[c] == shape),
        key=lambda c: _common_suffix(c, model_name),
        default=None,
    )
    if best is not None and _common_suffix(best, model_name) >= 2:
      mapping[best], how[best] = model_name, 'name'
  # The rest by kind and shape, in creation order on both sides.
  left_ckpt = sorted((c for c in ckpt if c not in mapping), key=_natural)
  taken = set(mapping.values())
  left_model = [m for m in weights if m not in taken]
  for model_name in list(left_model):
    kind = model_name.rsplit('/', 1)[-1]
    for c in left_ckpt:
      if c.rsplit('/', 1)[-1] == kind and ckpt[c] == weights[model_name]:
        mapping[c], how[c] = model_name, 'shape and order'
        left_ckpt.remove(c)
        left_model.remove(model_name)
        break
  return AssignmentMap(
      types.MappingProxyType(mapping),
      types.MappingProxyType(how),
      tuple(left_ckpt),
      tuple(left_model),
  )


def restore(
    checkpoint: str, model: tf.keras.Model, mapping: AssignmentMap
) -> int:
  """Assigns every mapped checkpoint value to its model weight; the count."""
  reader = tf.train.load_checkpoint(source_lib.resolve_prefix(checkpoint))
  weights = {_strip(w.name): w for w in model.weights}
  for ckpt, name in mapping.mapping.items():
    weights[name].assign(reader.get_tensor(ckpt))
  return len(mapping.mapping)


def optimizer_slot_map(
    checkpoint: str,
    mapping: AssignmentMap,
    plan: optimizers.OptimizerPlan,
    scope: str,
) -> dict[str, str]:
  """Extends a weight map with the optimizer's slots and the global step.

  With it, a warm start carries the optimizer's state too (Adam's moments,
  Adagrad's accumulators, ...), and a Keras optimizer whose `iterations` is
  the global step continues its step count.

  Args:
    checkpoint: The v1 checkpoint the weights come from.
    mapping: The weight map (`assignment_map`).
    plan: The Keras optimizer the model trains with (`plan_optimizer` of the
      v1 optimizer).
    scope: The Keras optimizer's variable scope: `plan.keras_name` in a
      `make_model_fn` graph, `'training/' + plan.keras_name` in a canned v2
      estimator.

  Returns:
    Model-side variable name -> checkpoint name, as
    `tf.estimator.WarmStartSettings(var_name_to_prev_var_name=...)` takes it.

  Raises:
    CheckpointError: A slot that needs a transform (Keras SGD's -lr scaled
      momentum: use `exact=True`), or slots that do not match the optimizer.
  """
  src = source_lib.open_source(checkpoint)
  layout = roles.classify(src.variables)
  out = {}
  for ckpt, model_name in mapping.mapping.items():
    groups = layout.slot_groups(ckpt)
    if not groups:
      continue  # not trained (BatchNorm statistics)
    if any(len(g) != 1 for g in groups):
      raise errors.CheckpointError(
          f'{ckpt} has partitioned slots {[k.name for g in groups for k in g]};'
          ' a warm start copies whole variables: convert the checkpoint'
          ' (checkpoints.convert_optimizer_checkpoint) to join them.'
      )
    for pair in plan.pair_slots(ckpt, groups):
      if pair.scale is not None:
        raise errors.CheckpointError(
            f'{plan.keras_class} keeps -lr * the v1 {pair.slot.v1} slot; a'
            ' warm start copies values: plan the optimizer with exact=True.'
        )
      if pair.keras is not None:
        out[f'{scope}/{model_name}/{pair.keras}'] = pair.keys[0].name
  if layout.step:
    out[layout.step] = layout.step
  return out


@dataclasses.dataclass(frozen=True)
class WarmStart:
  """A v1 checkpoint's weights, optimizer slots and step, for an estimator."""

  mapping: AssignmentMap  # checkpoint weight -> model weight
  variables: Mapping[str, str]  # estimator variable -> checkpoint name
  settings: tf.estimator.WarmStartSettings

  def table(self) -> str:
    """Every carried variable: estimator name, checkpoint name."""
    return report.markdown_table(
        ('estimator variable', 'checkpoint'), sorted(self.variables.items())
    )


def warm_start_model_fn(
    checkpoint: str,
    build_model: Callable[[], tf.keras.Model],
    plan: optimizers.OptimizerPlan,
) -> WarmStart:
  """Carries a TF1 checkpoint into a `make_model_fn` estimator's warm start.

  The Keras model is built once in a throwaway graph (seeded, nothing run)
  so that its weights have the names an Estimator's graph gives them;
  `assignment_map` pairs them with the checkpoint's variables, and
  `optimizer_slot_map` adds the optimizer's slots and the global step. Pass
  `settings` as `warm_start_from` of a `tf.estimator.Estimator` whose
  model_fn is `model_fn.make_model_fn(..., optimizer=plan)`: it then starts
  where the TF1 model stopped, weights, optimizer state and step.

  Example:
    plan = optimizers.plan_optimizer(tf.compat.v1.train.AdamOptimizer(1e-3))
    start = assignment.warm_start_model_fn('/models/v1', build_cnn, plan)
    estimator = tf.estimator.Estimator(
        model_fn.make_model_fn(lambda params: build_cnn(), loss=...,
                               optimizer=plan),
        model_dir='/models/keras', warm_start_from=start.settings)

  Args:
    checkpoint: The TF1 checkpoint prefix or model_dir.
    build_model: Builds the Keras model the estimator trains (no argument).
    plan: The Keras optimizer the model_fn trains with (`plan_optimizer` of
      the v1 optimizer).

  Returns:
    The weight map, every carried variable and the `WarmStartSettings`.

  Raises:
    CheckpointError: The checkpoint cannot be read, a model weight or
      checkpoint variable has no partner (the table lists them), or its
      slots do not match `plan`.
  """
  prefix = source_lib.resolve_prefix(checkpoint)
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(0)  # op determinism wants seeded layers
    model = build_model()
  mapping = assignment_map(prefix, model)
  if not mapping.complete:
    raise errors.CheckpointError(
        f'checkpoint={checkpoint} and build_model do not pair: checkpoint'
        f' variables {list(mapping.unmatched_checkpoint)} and model weights'
        f' {list(mapping.unmatched_model)} have no partner; build the'
        " checkpoint's model.",
        argument='checkpoint',
    )
  variables = {model_name: ckpt for ckpt, model_name in mapping.mapping.items()}
  variables.update(
      optimizer_slot_map(prefix, mapping, plan, scope=plan.keras_name)
  )
  return WarmStart(
      mapping,
      types.MappingProxyType(variables),
      tf.estimator.WarmStartSettings(
          prefix,
          vars_to_warm_start=[re.escape(n) + '(:0)?$' for n in variables],
          var_name_to_prev_var_name=variables,
      ),
  )
