"""A model_fn's TRAIN loss and optimizers, for `load(compile=True)`.

The model_fn is traced in TRAIN mode (`model_fn_trace`) on one batch of
features and labels. Its `loss` must be one `tf.compat.v1.losses` call or a
sum of them (what Keras 3 computes from one loss per output); each becomes
a Keras 3 loss on the model output holding the tensor it reads (a
prediction key, or an extra output named after the tensor). Its optimizers
(`minimize` / `apply_gradients` of `tf.compat.v1.train` optimizers) are
translated as the converter translates them (`tables.optimizers`), their
v1 slots read from the checkpoint and handed to `optimizer_state`, which
carries Keras 2 state into Keras 3 for every exit.

Anything else (a regularization loss, weights, a schedule, an optimizer
without a Keras 3 row) leaves the model exported without its training
state: `compile_unavailable` says why.
"""

from collections.abc import Mapping
import dataclasses
import re

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.export import model_fn_trace
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.tables import optimizers as optimizers_lib

# tf.compat.v1.losses function -> (Keras 3 class, its label argument, its
# prediction argument, extra config read from the call's arguments).
KERAS_LOSSES: Mapping[str, tuple[str, str, str, dict]] = {
    'sparse_softmax_cross_entropy': (
        'SparseCategoricalCrossentropy',
        'labels',
        'logits',
        {'from_logits': True},
    ),
    'softmax_cross_entropy': (
        'CategoricalCrossentropy',
        'onehot_labels',
        'logits',
        {'from_logits': True},
    ),
    'sigmoid_cross_entropy': (
        'BinaryCrossentropy',
        'multi_class_labels',
        'logits',
        {'from_logits': True},
    ),
    'mean_squared_error': ('MeanSquaredError', 'labels', 'predictions', {}),
    'huber_loss': ('Huber', 'labels', 'predictions', {}),
}
# v1 reductions Keras 3's `sum_over_batch_size` computes for unit weights
# (each loss is a mean over the examples and, for [batch, d], over d).
_MEAN_REDUCTIONS = (
    tf.compat.v1.losses.Reduction.SUM_BY_NONZERO_WEIGHTS,
    tf.compat.v1.losses.Reduction.MEAN,
    tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE,
    tf.compat.v1.losses.Reduction.SUM_OVER_NONZERO_WEIGHTS,
)

# The generated model.py's `_loss`: replaces the canned one.
LOSS_CODE = '''def _loss(spec):  # noqa: F811
  """The model_fn's TRAIN loss: one Keras 3 loss per output it reads."""
  return {
      loss['output']: keras.losses.get(
          {'class_name': loss['class'], 'config': loss['config']}
      )
      for loss in spec['losses']
  }
'''


@dataclasses.dataclass(frozen=True)
class Training:
  """What the TRAIN trace gives the export.

  `extra_outputs`: output name -> PREDICT tensor a loss reads that is not
  a prediction. `optimizers`: (v1 optimizer, its variables' names).
  `regularized`: the loss adds every penalty of REGULARIZATION_LOSSES
  (the layers then carry their regularizers). `reason`: why the training
  state is not carried (then the rest is empty).
  """

  losses: tuple = ()
  regularized: bool = False
  extra_outputs: Mapping[str, tf.Tensor] = dataclasses.field(
      default_factory=dict
  )
  optimizers: tuple = ()
  trainable: tuple[str, ...] = ()
  reason: str | None = None


def _unavailable(reason: str) -> Training:
  return Training(reason=reason)


def _pass_through(tensor, reshaped: bool = False):
  """`tensor` before identities and casts (and reshapes, if `reshaped`)."""
  kinds = ('Identity', 'Cast', 'StopGradient')
  if reshaped:
    kinds += ('Reshape', 'Squeeze', 'ExpandDims')
  while tensor.op.type in kinds:
    tensor = tensor.op.inputs[0]
  return tensor


def _label_key(tensor, labels, reshaped: bool) -> str | None:
  """The labels dict key `tensor` is (or None: the labels tensor).

  `reshaped`: the loss takes its labels in any shape of the same values
  (sparse class ids), so a reshape of them is the labels too.
  """
  tensor = _pass_through(tensor, reshaped)
  if isinstance(labels, Mapping):
    for key, placeholder in labels.items():
      if placeholder is tensor:
        return key
  elif labels is tensor:
    return None
  raise ValueError(f'its labels {tensor.name} are not a labels tensor')


def _summands(loss, recorded, penalties) -> list:
  """The recorded loss outputs and penalties whose sum `loss` is.

  Raises:
    ValueError: `loss` is something else.
  """
  loss = _pass_through(loss)
  if any(loss is r for r in (*recorded, *penalties)):
    return [loss]
  if loss.op.type in ('AddV2', 'Add', 'AddN'):
    out = []
    for t in loss.op.inputs:
      out += _summands(t, recorded, penalties)
    return out
  raise ValueError(
      f'the loss {loss.name} ({loss.op.type}) is not a sum of'
      ' tf.compat.v1.losses terms'
  )


def _keras_loss(call, trace, predict, predictions, extra) -> tuple:
  """(spec Loss fields, extra output) of one recorded loss call."""
  function = call.function
  keras_class, label_arg, prediction_arg, config = KERAS_LOSSES[function]
  arguments = call.arguments
  weights = arguments.get('weights', 1.0)
  if not (isinstance(weights, (int, float)) and weights == 1.0):
    raise ValueError(f'{function} has weights')
  reduction = arguments.get(
      'reduction', tf.compat.v1.losses.Reduction.SUM_BY_NONZERO_WEIGHTS
  )
  config = dict(config)
  if reduction == tf.compat.v1.losses.Reduction.SUM:
    config['reduction'] = 'sum'
  elif reduction not in _MEAN_REDUCTIONS:
    raise ValueError(f'{function} has reduction {reduction!r}')
  if 'label_smoothing' in arguments and arguments['label_smoothing']:
    config['label_smoothing'] = float(arguments['label_smoothing'])
  if function == 'huber_loss':
    config['delta'] = float(arguments.get('delta', 1.0))
  label = _label_key(
      arguments[label_arg],
      trace.labels,
      reshaped=keras_class == 'SparseCategoricalCrossentropy',
  )
  tensor = arguments[prediction_arg]
  if (
      reduction == tf.compat.v1.losses.Reduction.SUM
      and keras_class not in ('SparseCategoricalCrossentropy',)
      and (tensor.shape.rank or 0) > 1
      and tensor.shape[-1] != 1
  ):
    raise ValueError(f'{function} sums over {tensor.shape[-1]} columns')
  try:
    target = predict.graph.get_tensor_by_name(tensor.name)
  except (KeyError, ValueError) as e:
    raise ValueError(
        f'{function} reads {tensor.name}, which PREDICT mode does not build'
    ) from e
  for key, value in predictions.items():
    if value is target:
      return (key, label, keras_class, config), None
  for key, value in extra.items():
    if value is target:
      return (key, label, keras_class, config), None
  # Named after the loss's argument (`logits`), then after its scope.
  key = prediction_arg
  if key in predictions or key in extra:
    key = f'{prediction_arg}_' + re.sub(
        r'\W', '_', tensor.op.name.split('/')[0]
    )
  while key in predictions or key in extra:
    key += '_'
  return (key, label, keras_class, config), (key, target)


def read_training(
    model_fn, features, params, labels, predictions, predict
) -> Training:
  """The TRAIN loss and optimizers of `model_fn`, or why not carried.

  Raises:
    ModelFnError: The model_fn fails in TRAIN mode.
  """
  if labels is None:
    return _unavailable(
        'no labels were given: pass one batch of labels (labels=, or'
        " 'labels' in --config) to read the TRAIN loss and optimizers"
    )
  trace = model_fn_trace.trace(
      model_fn,
      features,
      mode=model_fn_trace.TRAIN,
      params=params,
      labels=labels,
  )
  spec = trace.spec
  loss_calls = [c for c in trace.calls if c.kind == 'loss']
  penalties = trace.graph.get_collection(
      tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES
  )
  try:
    terms = _summands(spec.loss, [c.outputs[0] for c in loss_calls], penalties)
  except ValueError as e:
    return _unavailable(str(e))
  added = [t for t in terms if any(t is p for p in penalties)]
  if added and len(added) != len(penalties):
    return _unavailable(
        f'the loss adds {len(added)} of the {len(penalties)} regularization'
        ' losses'
    )
  losses, extra = [], {}
  for term in terms:
    if any(term is p for p in penalties):
      continue
    call = next(c for c in loss_calls if c.outputs[0] is term)
    try:
      fields, output = _keras_loss(call, trace, predict, predictions, extra)
    except ValueError as e:
      return _unavailable(f'loss line {call.line}: {e}')
    if output is not None:
      extra[output[0]] = output[1]
    losses.append(fields)
  outputs = [f[0] for f in losses]
  if len(set(outputs)) != len(outputs):
    return _unavailable('two loss terms read one output')
  found = []
  for call in trace.calls:
    if call.kind != 'optimizer':
      continue
    var_list = call.arguments.get('var_list')
    if call.arguments.get('grads_and_vars') is not None:
      var_list = [v for _, v in call.arguments['grads_and_vars']]
    if var_list is None:
      var_list = trace.graph.get_collection(
          tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES
      )
    found.append((call.target, tuple(v.op.name for v in var_list)))
  if not found:
    return _unavailable('the model_fn applies no tf.compat.v1.train optimizer')
  trainable = tuple(
      v.op.name
      for v in trace.graph.get_collection(
          tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES
      )
  )
  return Training(
      losses=tuple(spec_lib.Loss(*f) for f in losses),
      regularized=bool(added),
      extra_outputs=extra,
      optimizers=tuple(found),
      trainable=trainable,
  )


@dataclasses.dataclass(frozen=True)
class _Key:
  name: str


class _View:
  """The v1 state as a Keras 2 estimator would hold it (`training/...`)."""

  def __init__(self, reader):
    self._reader = reader
    self.arrays: dict[str, object] = {}
    self.scaled: dict[str, tuple[str, float | None]] = {}

  def get_tensor(self, name: str):
    if name in self.arrays:
      return np.asarray(self.arrays[name])
    key, scale = self.scaled[name]
    value = self._reader.get_tensor(key)
    return value if scale is None else value * np.float32(scale)

  get_array = get_tensor

  @property
  def variables(self):
    return {**dict.fromkeys(self.arrays), **dict.fromkeys(self.scaled)}


def read_state(
    weights, training: Training, model_names
) -> optimizer_state.State:
  """The optimizers' Keras 3 state from the checkpoint's v1 slots."""
  variables = weights.source.variables
  trained = [n for n in model_names if n in training.trainable]
  view = _View(weights.reader)
  arguments = {}
  names_used: dict[str, int] = {}
  for optimizer, var_list in training.optimizers:
    try:
      plan = optimizers_lib.plan_optimizer(optimizer)
    except errors.MigrationError as e:
      return optimizer_state.State((), {}, (), reason=str(e))
    keras_class = plan.keras_class
    if keras_class not in optimizer_state.KERAS3_V1:
      return optimizer_state.State(
          (),
          {},
          (),
          reason=(
              f'{type(optimizer).__name__} becomes {keras_class}, which has'
              ' no Keras 3 mapping here (supported:'
              f' {sorted(optimizer_state.KERAS3_V1)})'
          ),
      )
    count = names_used.get(keras_class, 0)
    names_used[keras_class] = count + 1
    opt = keras_class if not count else f'{keras_class}_{count}'
    prefix = f'training/{opt}'
    v1_name = optimizer.get_name()
    for var in var_list:
      if var not in trained:
        continue
      found = []
      for index, _ in enumerate(plan.v1_slots):
        key = f'{var}/{v1_name}' + (f'_{index}' if index else '')
        if key not in variables:
          return optimizer_state.State(
              (), {}, (), reason=f'no v1 slot {key} in the checkpoint'
          )
        found.append((_Key(key),))
      for pair in plan.pair_slots(var, found):
        if pair.keras is None:
          continue
        view.scaled[f'{prefix}/{var}/{pair.keras}'] = (
            pair.keys[0].name,
            pair.scale,
        )
    row = optimizer_state.KERAS3_V1[keras_class]
    for hyper in row.hypers:
      if hyper in plan.config:
        value = plan.config[hyper]
        if not isinstance(value, (int, float)):
          return optimizer_state.State(
              (), {}, (), reason=f'{opt} {hyper} is a schedule'
          )
        view.arrays[f'{prefix}/{hyper}'] = np.float32(value)
    view.arrays[f'{prefix}/iter'] = np.int64(weights.global_step or 0)
    scope = sorted(v for v in var_list if v in trained)
    arguments[scope[0].split('/', 1)[0] if scope else opt] = plan.build()
  return optimizer_state.read_state(
      view,
      view.variables,
      trained,
      arguments,
      weights.global_step,
      hypers_from=optimizer_state.FROM_V1_GRAPH,
      rows=optimizer_state.KERAS3_V1,
  )


def check_penalties(training: Training, program, predict) -> Training:
  """`training`, or why not carried if a penalty the loss adds is not.

  Every REGULARIZATION_LOSSES penalty the TRAIN loss adds must be one a
  Keras 3 layer's regularizer computes (`model_fn_graph.regularizers`).
  """
  if training.reason or not training.regularized:
    return training
  penalties = predict.graph.get_collection(
      tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES
  )
  if len(program.regularized) != len(penalties):
    return _unavailable(
        f'{len(penalties) - len(program.regularized)} of the'
        f' {len(penalties)} regularization losses are not an L1 or L2'
        " penalty of a mapped layer's kernel or bias"
    )
  return training
