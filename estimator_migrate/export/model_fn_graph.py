"""A traced `model_fn`'s PREDICT graph as Keras 3 code, or a refusal.

Walks back from every tensor of the model_fn's `predictions` to the feature
placeholders (`model_fn_trace`). Each step is one of:

  a feature                the Keras input of that name
  a recorded layer call    one Keras 3 layer (`LAYERS`), named after the
                           variable scope of its weights
  input_layer /            the canned exit's column machinery (`columns`):
  linear_model             the same specs, the same Keras layers
  safe_embedding_lookup_   the canned exit's `SparseCombiner` over the ids
  sparse                   the SparseTensor was built from
  a table lookup           `tf.nn.embedding_lookup` of a `get_variable`
                           table: a Keras `Embedding` named after it
  an op of `OPS`           one `keras.ops` call (constants inlined)
  a Keras model's call     with `models=True` (a Keras-built custom
                           estimator's export): the Keras 3 model the
                           builder makes, called on the same inputs

and anything else is refused (`ModelFnError`) before anything is written,
naming the op, its name (scope) and the line of the user's model_fn. The
result (`Program`) is the body of the generated `build_model` and the data
spec.json carries: inputs, categorical ids, feature column specs, and the
checkpoint names of each Keras layer's weights.
"""

from collections.abc import Mapping
import dataclasses
import re

import numpy as np
import tensorflow as tf

from estimator_migrate.export import columns as columns_lib
from estimator_migrate.export import model_fn_trace
from estimator_migrate.export import spec as spec_lib

ModelFnError = model_fn_trace.ModelFnError

# A convolution's config keys (Conv1D and Conv2D alike).
_CONV = (
    'filters',
    'kernel_size',
    'strides',
    'padding',
    'data_format',
    'dilation_rate',
    'activation',
    'use_bias',
)
# Keras layer class -> the config keys Keras 3's class of the same name
# takes, as they are in the TF 2.15 layer's get_config().
LAYERS: Mapping[str, tuple[str, ...]] = {
    'Dense': ('units', 'activation', 'use_bias'),
    'Conv1D': _CONV,
    'Conv2D': _CONV,
    'MaxPooling1D': ('pool_size', 'strides', 'padding', 'data_format'),
    'MaxPooling2D': ('pool_size', 'strides', 'padding', 'data_format'),
    'AveragePooling1D': ('pool_size', 'strides', 'padding', 'data_format'),
    'AveragePooling2D': ('pool_size', 'strides', 'padding', 'data_format'),
    'Flatten': ('data_format',),
    'Dropout': ('rate',),
    'BatchNormalization': ('axis', 'momentum', 'epsilon', 'center', 'scale'),
    'Embedding': ('input_dim', 'output_dim'),
    'Activation': ('activation',),
}
# Activations by the name TF 2.15 serializes them as (Keras 3 has each).
ACTIVATIONS = (
    'linear',
    'relu',
    'relu6',
    'elu',
    'selu',
    'sigmoid',
    'tanh',
    'softmax',
    'softplus',
    'softsign',
    'swish',
    'gelu',
    'exponential',
)
# Config that changes what a layer computes and that Keras 3 spells
# otherwise or lacks: refused when not the default shown.
_LAYER_DEFAULTS: Mapping[str, Mapping[str, object]] = {
    'BatchNormalization': {
        'renorm': False,
        'virtual_batch_size': None,
        'adjustment': None,
    },
    'Conv1D': {'groups': 1},
    'Conv2D': {'groups': 1},
    'Embedding': {'mask_zero': False, 'input_length': None},
}

# TF op type -> how its Keras 3 call is written: `(format, arity)` where the
# format gets the (non-constant) inputs' names as {0}, {1}, ... and the
# op's constants through `_OP_ARGUMENTS`.
_UNARY = {
    'Relu': 'keras.ops.relu({0})',
    'Relu6': 'keras.ops.relu6({0})',
    'Elu': 'keras.ops.elu({0})',
    'Selu': 'keras.ops.selu({0})',
    'Sigmoid': 'keras.ops.sigmoid({0})',
    'Tanh': 'keras.ops.tanh({0})',
    'Softplus': 'keras.ops.softplus({0})',
    'Softsign': 'keras.ops.softsign({0})',
    'Softmax': 'keras.ops.softmax({0}, axis=-1)',
    'LogSoftmax': 'keras.ops.log_softmax({0}, axis=-1)',
    'Exp': 'keras.ops.exp({0})',
    'Log': 'keras.ops.log({0})',
    'Sqrt': 'keras.ops.sqrt({0})',
    'Rsqrt': 'keras.ops.rsqrt({0})',
    'Square': 'keras.ops.square({0})',
    'Neg': 'keras.ops.negative({0})',
    'Abs': 'keras.ops.abs({0})',
}
_BINARY = {
    'AddV2': 'keras.ops.add',
    'Add': 'keras.ops.add',
    'Sub': 'keras.ops.subtract',
    'Mul': 'keras.ops.multiply',
    'RealDiv': 'keras.ops.divide',
    'Maximum': 'keras.ops.maximum',
    'Minimum': 'keras.ops.minimum',
}
_REDUCE = {
    'Mean': 'keras.ops.mean',
    'Sum': 'keras.ops.sum',
    'Max': 'keras.ops.max',
    'Min': 'keras.ops.min',
}
# Ops that pass their first input on unchanged at inference.
_PASS = ('Identity', 'StopGradient')
# Constants larger than this are refused rather than inlined in model.py.
_MAX_CONSTANT = 64


def supported_ops() -> tuple[str, ...]:
  """Every TF op type the reader maps (docs/export.md's table)."""
  return tuple(
      sorted(
          {
              *_UNARY,
              *_BINARY,
              *_REDUCE,
              *_PASS,
              'ArgMax',
              'Cast',
              'ConcatV2',
              'ExpandDims',
              'MatMul',
              'Pack',
              'Reshape',
              'ResourceGather',
              'Squeeze',
              'StridedSlice',
          }
      )
  )


@dataclasses.dataclass(frozen=True)
class LayerMapping:
  """One step of the model for report.md: TF 1.x source and Keras 3 code."""

  what: str
  keras: str
  line: str | None


@dataclasses.dataclass
class Program:
  """The generated `build_model`'s body and spec.json's model data.

  `lines`: Python statements, in order, each assigning one name.
  `regularized`: the weights whose regularizer the layers carry.
  `outputs`: prediction key -> the name holding it. `weights`: Keras layer
  name -> checkpoint names of its weights, in the layer's order; `shapes`:
  each one's shape. `feature_columns`: call name -> its columns' specs.
  """

  lines: list[str] = dataclasses.field(default_factory=list)
  outputs: dict[str, str] = dataclasses.field(default_factory=dict)
  weights: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
  shapes: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
  feature_columns: dict[str, spec_lib.FeatureColumns] = dataclasses.field(
      default_factory=dict
  )
  columns: columns_lib.Columns = dataclasses.field(
      default_factory=columns_lib.Columns
  )
  mappings: list[LayerMapping] = dataclasses.field(default_factory=list)
  tensors: dict[str, str] = dataclasses.field(default_factory=dict)
  regularized: list[str] = dataclasses.field(default_factory=list)
  calls_model: bool = False  # a Keras model's call read (`models=True`)


# Names the generated functions use themselves.
_RESERVED = ('keras', 'np', 'tf', 'spec', 'inputs', 'model')


def _python_name(name: str, taken: Mapping) -> str:
  base = re.sub(r'\W', '_', name).strip('_').lower() or 'x'
  if base[0].isdigit() or base in _RESERVED:
    base = f'x_{base}'
  unique, count = base, 1
  while unique in taken:
    count += 1
    unique = f'{base}_{count}'
  return unique


def _literal(value) -> str:
  """A constant as Python source (small arrays as lists)."""
  array = np.asarray(value)
  if array.dtype.kind in 'OSU':
    raise ValueError('a string constant')
  if array.ndim == 0:
    item = array.item()
    return repr(float(item)) if array.dtype.kind == 'f' else repr(item)
  return f'np.array({array.tolist()!r}, {array.dtype.name!r})'


def _api(layer) -> str:
  """The API a TF 2.15 layer class is from, as users spell it."""
  if 'legacy_tf_layers' in type(layer).__module__:
    return 'tf.compat.v1.layers'
  return 'tf.keras.layers'


def _scope(names) -> str:
  """The variable scope holding `names` (their common directory)."""
  parts = [n.split('/')[:-1] for n in names]
  common = parts[0]
  for p in parts[1:]:
    while p[: len(common)] != common:
      common = common[:-1]
  return '/'.join(common)


def _variable_read(tensor) -> str | None:
  """The variable `tensor` reads (through reads and identities), or None."""
  op = tensor.op
  while op.type in ('ReadVariableOp', 'Identity'):
    if op.inputs[0].op.type == 'VarHandleOp':
      return op.inputs[0].op.name
    op = op.inputs[0].op
  return None


def _regularizer(tensor) -> tuple[str, str] | None:
  """(variable, Keras 3 code) of an L1 / L2 penalty's tensor, else None.

  Reads `c * reduce_sum(square(w))` (L2(c), as `tf.keras.regularizers.l2`
  and hand-written penalties build it), `c * reduce_sum(abs(w))` (L1(c))
  and `c * tf.nn.l2_loss(w)` (L2(c / 2)) over every axis of `w`.
  """
  op = tensor.op
  coefficient = 1.0
  if op.type == 'Mul':
    for i in (0, 1):
      value = _constant_value(op.inputs[i])
      if value is not None and np.size(value) == 1:
        coefficient = float(np.asarray(value).reshape(()))
        op = op.inputs[1 - i].op
        break
    else:
      return None
  if op.type == 'L2Loss':
    variable = _variable_read(op.inputs[0])
    kind, coefficient = 'L2', coefficient / 2
  elif op.type == 'Sum' and op.inputs[0].op.type in ('Square', 'Abs'):
    inner = op.inputs[0].op
    rank = inner.inputs[0].shape.rank
    axes = _constant_value(op.inputs[1])
    if axes is None or sorted(np.ravel(axes).tolist()) != list(range(rank)):
      return None
    variable = _variable_read(inner.inputs[0])
    kind = 'L2' if inner.type == 'Square' else 'L1'
  else:
    return None
  if variable is None:
    return None
  # The float32 value, as the penalty computes with it.
  value = float(str(np.float32(coefficient)))
  argument = kind.lower()
  return variable, f'keras.regularizers.{kind}({argument}={value!r})'


def _constant_value(tensor):
  op = tensor.op
  while op.type == 'Identity':
    op = op.inputs[0].op
  if op.type != 'Const':
    return None
  return tf.make_ndarray(op.get_attr('value'))


def regularizers(graph) -> dict[str, str]:
  """Variable -> the Keras 3 regularizer of its penalty, where one is read."""
  out = {}
  for tensor in graph.get_collection(
      tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES
  ):
    found = _regularizer(tensor)
    if found is not None:
      out[found[0]] = found[1]
  return out


class _Reader:
  """One pass over a PREDICT trace (`read`)."""

  def __init__(
      self, trace: model_fn_trace.Trace, regularize: bool, models: bool
  ):
    self.trace = trace
    self.models = models
    self.model_call = None  # the one Keras model call read (models=True)
    self.model_outputs = ''  # the name of its flattened outputs
    self.program = Program()
    self.names: dict[int, str] = {}  # id(tensor) -> python name
    self.taken: dict[str, None] = {}
    self.raw: dict[str, tf.Tensor] = {}
    feature_ids = {id(t): k for k, t in trace.features.items()}
    self.feature_of = feature_ids
    self.tables: dict[str, str] = {}  # variable name -> its layer's name
    self.unsupported: list = []  # ops without a mapping, in walk order
    self.layer_names: set[str] = set()
    self.regularizers = regularizers(trace.graph) if regularize else {}

  # Refusals.

  def refuse(self, op, why: str) -> ModelFnError:
    line = self.trace.line_of(op)
    where = f' (model_fn line {line})' if line else ''
    return ModelFnError(
        f'model_fn builds op {op.type} {op.name!r}{where}, which {why}; the'
        ' exporter maps'
        ' only what Keras 3 computes exactly (docs/export.md lists it), so'
        ' nothing was written. Export a model_fn without it, or keep this'
        ' model on its estimator.',
        argument='model_fn',
    )

  # Emitting.

  def emit(self, tensor, base: str, code: str, mapping=None) -> str:
    name = _python_name(base, self.taken)
    self.taken[name] = None
    self.program.lines.append(f'{name} = {code}')
    self.names[id(tensor)] = name
    self.program.tensors[tensor.name] = name
    if mapping is not None:
      self.program.mappings.append(mapping)
    return name

  def constant(self, tensor):
    """The value of a constant tensor (through Identity), else None."""
    op = tensor.op
    while op.type in _PASS:
      op = op.inputs[0].op
    if op.type != 'Const':
      return None
    return tf.make_ndarray(op.get_attr('value'))

  def inline(self, tensor, op) -> str:
    value = self.constant(tensor)
    if value is None:
      return self.visit(tensor)
    if np.size(value) > _MAX_CONSTANT:
      raise self.refuse(op, f'reads a constant of {np.size(value)} values')
    try:
      return _literal(value)
    except ValueError as e:
      raise self.refuse(op, f'reads {e}') from e

  def need_constant(self, tensor, op, what: str):
    value = self.constant(tensor)
    if value is None:
      raise self.refuse(op, f'has a {what} computed at run time')
    return value

  # The walk.

  def visit(self, tensor) -> str:
    known = self.names.get(id(tensor))
    if known is not None:
      return known
    key = self.feature_of.get(id(tensor))
    if key is not None:
      self.raw[key] = tensor
      return self.emit(tensor, key, f'inputs[{key!r}]')
    found = self.trace.call_of(tensor)
    if found is not None:
      call, index = found
      return self.visit_call(call, index, tensor)
    return self.visit_op(tensor)

  def visit_call(self, call, index: int, tensor) -> str:
    if (
        call.kind == 'layer'
        and self.models
        and isinstance(call.target, tf.keras.Model)
    ):
      return self.visit_model(call, index, tensor)
    if call.kind == 'layer':
      if len(call.outputs) != 1:
        raise self.refuse(tensor.op, 'is one of several outputs of a layer')
      return self.visit_layer(call, tensor)
    if call.kind == 'input_layer':
      return self.visit_input_layer(call, tensor)
    if call.kind == 'linear_model':
      return self.visit_linear_model(call, tensor)
    if call.kind == 'safe_embedding_lookup_sparse':
      return self.visit_sparse_lookup(call, tensor)
    raise self.refuse(tensor.op, f'comes from {call.kind}')

  def visit_layer(self, call, tensor) -> str:
    layer = call.target
    kind = type(layer).__name__
    if kind not in LAYERS:
      raise self.refuse(
          tensor.op,
          f'is the output of layer {layer.name!r} ({kind}), which has no'
          f' exact Keras 3 mapping here (mapped: {", ".join(sorted(LAYERS))})',
      )
    config = layer.get_config()
    for key, default in _LAYER_DEFAULTS.get(kind, {}).items():
      if config.get(key, default) != default:
        raise self.refuse(
            tensor.op,
            f'is layer {layer.name!r} ({kind}) with {key}={config[key]!r}',
        )
    kwargs = {k: repr(config[k]) for k in LAYERS[kind] if k in config}
    if config.get('activity_regularizer') is not None:
      raise self.refuse(
          tensor.op, f'is layer {layer.name!r} with an activity_regularizer'
      )
    weights = [v.name.split(':')[0] for v in layer.weights]
    for argument, suffix in (
        ('kernel_regularizer', '/kernel'),
        ('embeddings_regularizer', '/embeddings'),
        ('bias_regularizer', '/bias'),
    ):
      for weight in weights:
        code = self.regularizers.get(weight)
        if weight.endswith(suffix) and code is not None:
          kwargs[argument] = code
          self.program.regularized.append(weight)
    activation = config.get('activation')
    if activation is not None and activation not in ACTIVATIONS:
      raise self.refuse(
          tensor.op, f'uses activation {activation!r} in layer {layer.name!r}'
      )
    if kind == 'BatchNormalization' and isinstance(config['axis'], list):
      axis = config['axis']
      kwargs['axis'] = repr(axis[0] if len(axis) == 1 else axis)
    # A layer without weights is named after the scope of its output op
    # (Keras numbers its own names across every graph of the process).
    scope = _scope(weights) if weights else tensor.op.name.rpartition('/')[0]
    name = spec_lib.layer_name(scope or layer.name)
    if not weights:  # unique, as Keras 3 requires
      base, count = name, 1
      while name in self.layer_names:
        count += 1
        name = f'{base}_{count}'
    self.layer_names.add(name)
    if weights:
      self.program.weights[name] = tuple(weights)
      for w in weights:
        self.program.shapes[w] = self.trace.variables[w][0]
    inputs = [self.visit(t) for t in call.inputs]
    if not inputs:
      raise self.refuse(tensor.op, f'is layer {layer.name!r} without inputs')
    argument = inputs[0] if len(inputs) == 1 else '[' + ', '.join(inputs) + ']'
    arguments = ''.join(f'{k}={v}, ' for k, v in kwargs.items())
    code = f'keras.layers.{kind}({arguments}name={name!r})({argument})'
    return self.emit(
        tensor,
        name,
        code,
        LayerMapping(
            f'{_api(layer)}.{kind} {scope or layer.name!r}',
            f'keras.layers.{kind} {name!r}',
            call.line,
        ),
    )

  def _structure(self, value) -> str:
    """Python source of a call's (nested) inputs, each tensor visited."""
    if isinstance(value, Mapping):
      items = ', '.join(
          f'{k!r}: {self._structure(v)}' for k, v in sorted(value.items())
      )
      return '{' + items + '}'
    if isinstance(value, (list, tuple)):
      return '[' + ', '.join(self._structure(v) for v in value) + ']'
    if not isinstance(value, tf.Tensor):
      raise ModelFnError(
          f'model_fn calls a Keras model on {type(value).__name__}, not on'
          ' tensors of the features.',
          argument='model_fn',
      )
    return self.visit(value)

  def visit_model(self, call, index: int, tensor) -> str:
    """Output `index` of the Keras model's call: the builder's model.

    The model's weights are its own (matched to the checkpoint by
    position); the program reads only its inputs and its outputs.
    """
    if self.model_call is None:
      self.model_call = call
      given = call.arguments.get('args') or ()
      value = (
          given[0] if given else call.arguments.get('kwargs', {}).get('inputs')
      )
      code = f'_flatten(model({self._structure(value)}))'
      self.model_outputs = _python_name('model_outputs', self.taken)
      self.taken[self.model_outputs] = None
      # As Keras 2's outputs were flattened (tf.nest: mappings by key).
      self.program.lines.append(f'{self.model_outputs} = {code}')
      self.program.mappings.append(
          LayerMapping(
              f'Keras model {call.target.name!r}',
              "the builder's Keras 3 model",
              call.line,
          )
      )
      self.program.calls_model = True
    elif self.model_call is not call:
      what = (
          f'a second call of the Keras model {call.target.name!r}'
          if self.model_call.target is call.target
          else f'a second Keras model ({call.target.name!r})'
      )
      raise self.refuse(
          tensor.op,
          f'is the output of {what}; the export serves one call of the'
          ' one model the builder builds',
      )
    return self.emit(
        tensor, f'output_{index}', f'{self.model_outputs}[{index}]'
    )

  def visit_input_layer(self, call, tensor) -> str:
    arguments = call.arguments
    if arguments.get('weight_collections') or arguments.get('cols_to_vars'):
      raise self.refuse(tensor.op, 'is input_layer with collections')
    feature_columns = list(arguments['feature_columns'])
    specs = columns_lib.dnn_columns(
        self.program.columns, feature_columns, 'input_layer'
    )
    specs = self._named(specs, call, tensor)
    name = _python_name('input_layer', self.program.feature_columns)
    self.program.feature_columns[name] = spec_lib.FeatureColumns(
        kind='input_layer', columns=tuple(specs)
    )
    for column in specs:
      if isinstance(column, spec_lib.EmbeddingColumn):
        self.program.weights[spec_lib.layer_name(column.weight)] = (
            column.weight,
        )
        self.program.shapes[column.weight] = (
            column.num_buckets,
            column.dimension,
        )
    return self.emit(
        tensor,
        name,
        f"_input_layer(spec['feature_columns'][{name!r}]['columns'], inputs,"
        ' ids, initializer)',
        LayerMapping(
            'feature_column.input_layer'
            f' ({", ".join(sorted(c.name for c in feature_columns))})',
            "Keras 3 preprocessing layers (the canned exit's)",
            call.line,
        ),
    )

  def _named(self, specs, call, tensor):
    """Specs with their weight names as the call created them."""
    out = []
    for column in specs:
      weight = getattr(column, 'weight', None)
      if weight is None:
        out.append(column)
        continue
      leaf = '/'.join(weight.split('/')[-2:])
      created = [v for v in call.variables if v.endswith('/' + leaf)]
      if len(created) != 1:
        raise self.refuse(
            tensor.op,
            f'is a feature column call whose weight {leaf!r} was not created'
            ' by it (shared across calls?)',
        )
      out.append(dataclasses.replace(column, weight=created[0]))
    return out

  def visit_linear_model(self, call, tensor) -> str:
    arguments = call.arguments
    if arguments.get('weight_collections') or arguments.get('cols_to_vars'):
      raise self.refuse(tensor.op, 'is linear_model with collections')
    units = int(arguments.get('units', 1))
    combiner = arguments.get('sparse_combiner', 'sum')
    feature_columns = list(arguments['feature_columns'])
    specs = columns_lib.linear_columns(
        self.program.columns, feature_columns, 'linear'
    )
    specs = self._named(specs, call, tensor)
    bias = [v for v in call.variables if v.endswith('/bias_weights')]
    if len(bias) != 1:
      raise self.refuse(tensor.op, 'is linear_model without one bias_weights')
    name = _python_name('linear_model', self.program.feature_columns)
    self.program.feature_columns[name] = spec_lib.FeatureColumns(
        kind='linear_model',
        columns=tuple(specs),
        units=units,
        sparse_combiner=combiner,
        bias=bias[0],
    )
    inputs = self.program.columns.inputs
    for column in specs:
      if isinstance(column, spec_lib.NumericColumn):
        rows = int(np.prod(inputs[column.key].shape))
      else:
        rows = column.num_buckets
      self.program.weights[spec_lib.layer_name(column.weight)] = (
          column.weight,
      )
      self.program.shapes[column.weight] = (rows, units)
    self.program.weights[spec_lib.layer_name(bias[0])] = (bias[0],)
    self.program.shapes[bias[0]] = (units,)
    return self.emit(
        tensor,
        name,
        f"_linear_model(spec['feature_columns'][{name!r}], {units}, inputs,"
        ' ids, initializer)',
        LayerMapping(
            'feature_column.linear_model'
            f' ({", ".join(sorted(c.name for c in feature_columns))})',
            'Keras 3 preprocessing layers + SparseCombiner / Dense + BiasAdd',
            call.line,
        ),
    )

  def _variable_name(self, value, op) -> str:
    if isinstance(value, (list, tuple)):
      if len(value) != 1:
        raise self.refuse(op, 'looks up a partitioned table')
      value = value[0]
    name = getattr(value, 'op', None) and value.op.name
    if name not in self.trace.variables:
      raise self.refuse(op, 'looks up a table that is not a variable')
    return name

  def _dense_ids(self, sparse, op):
    """The dense ids a SparseTensor was built from as `ids >= 0`."""
    indices = sparse.indices.op
    values = sparse.values.op
    if (
        values.type == 'GatherNd'
        and indices.type == 'Where'
        and values.inputs[1] is indices.outputs[0]
    ):
      source = values.inputs[0]
      condition = indices.inputs[0].op
      if condition.type == 'GreaterEqual' and condition.inputs[0] is source:
        bound = self.constant(condition.inputs[1])
        if bound is not None and np.all(bound == 0):
          return source
      if condition.type == 'NotEqual' and condition.inputs[0] is source:
        bound = self.constant(condition.inputs[1])
        if bound is not None and np.all(bound == -1):
          return source
    raise self.refuse(
        op,
        'looks up sparse ids not built as tf.where(ids >= 0) /'
        ' tf.gather_nd(ids, ...) from a dense [batch, n] id tensor',
    )

  def visit_sparse_lookup(self, call, tensor) -> str:
    arguments = call.arguments
    op = tensor.op
    if arguments.get('sparse_weights') is not None:
      raise self.refuse(op, 'is safe_embedding_lookup_sparse with weights')
    if arguments.get('default_id') is not None:
      raise self.refuse(op, 'is safe_embedding_lookup_sparse with default_id')
    if arguments.get('max_norm') is not None:
      raise self.refuse(op, 'is safe_embedding_lookup_sparse with max_norm')
    table = self._variable_name(arguments['embedding_weights'], op)
    shape = self.trace.variables[table][0]
    ids = self.visit(self._dense_ids(arguments['sparse_ids'], op))
    combiner = arguments.get('combiner') or 'mean'
    name = spec_lib.layer_name(table)
    self.program.weights[name] = (table,)
    self.program.shapes[table] = shape
    return self.emit(
        tensor,
        name,
        f'SparseCombiner({shape[0]}, {shape[1]}, {combiner!r}, initializer,'
        f' name={name!r})({ids})',
        LayerMapping(
            f'safe_embedding_lookup_sparse {table!r} ({combiner})',
            f'SparseCombiner {name!r}',
            call.line,
        ),
    )

  def visit_op(self, tensor) -> str:
    op = tensor.op
    kind = op.type
    if kind in _PASS:
      name = self.visit(op.inputs[0])
      self.names[id(tensor)] = name
      return name
    if kind in _UNARY:
      return self.emit(
          tensor, op.name, _UNARY[kind].format(self.visit(op.inputs[0]))
      )
    if kind in _BINARY:
      a = self.inline(op.inputs[0], op)
      b = self.inline(op.inputs[1], op)
      return self.emit(tensor, op.name, f'{_BINARY[kind]}({a}, {b})')
    if kind in _REDUCE:
      axis = _literal(self.need_constant(op.inputs[1], op, 'reduction axis'))
      keep = op.get_attr('keep_dims')
      return self.emit(
          tensor,
          op.name,
          f'{_REDUCE[kind]}({self.visit(op.inputs[0])}, axis={axis},'
          f' keepdims={keep})',
      )
    if kind == 'ConcatV2':
      axis = _literal(self.need_constant(op.inputs[-1], op, 'concat axis'))
      parts = ', '.join(self.visit(t) for t in op.inputs[:-1])
      return self.emit(
          tensor, op.name, f'keras.ops.concatenate([{parts}], axis={axis})'
      )
    if kind == 'Pack':
      parts = ', '.join(self.visit(t) for t in op.inputs)
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.stack([{parts}], axis={op.get_attr("axis")})',
      )
    if kind == 'Reshape':
      shape = self.need_constant(op.inputs[1], op, 'shape')
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.reshape({self.visit(op.inputs[0])},'
          f' {tuple(int(d) for d in shape)!r})',
      )
    if kind == 'ExpandDims':
      axis = int(self.need_constant(op.inputs[1], op, 'axis'))
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.expand_dims({self.visit(op.inputs[0])}, {axis})',
      )
    if kind == 'Squeeze':
      axes = tuple(op.get_attr('squeeze_dims'))
      axis = axes[0] if len(axes) == 1 else (axes or None)
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.squeeze({self.visit(op.inputs[0])}, axis={axis!r})',
      )
    if kind == 'ArgMax':
      axis = int(self.need_constant(op.inputs[1], op, 'axis'))
      dtype = tf.as_dtype(op.get_attr('output_type')).name
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.cast(keras.ops.argmax({self.visit(op.inputs[0])},'
          f' axis={axis}), {dtype!r})',
      )
    if kind == 'Cast':
      dtype = tf.as_dtype(op.get_attr('DstT')).name
      return self.emit(
          tensor,
          op.name,
          f'keras.ops.cast({self.visit(op.inputs[0])}, {dtype!r})',
      )
    if kind == 'MatMul':
      if op.get_attr('transpose_a') or op.get_attr('transpose_b'):
        raise self.refuse(op, 'is a transposed matmul')
      a, b = (self.inline(t, op) for t in op.inputs)
      return self.emit(tensor, op.name, f'keras.ops.matmul({a}, {b})')
    if kind == 'StridedSlice':
      return self.strided_slice(tensor, op)
    if kind == 'ResourceGather':
      return self.table_lookup(tensor, op)
    return self.unsupported_op(tensor, op)

  def unsupported_op(self, tensor, op) -> str:
    """Notes `op` for the refusal and walks on, to name every such op."""
    if not any(o is op for o in self.unsupported):
      self.unsupported.append(op)
      for t in op.inputs:
        if (
            self.constant(t) is None
            and t.dtype != tf.resource
            and t.op.type != 'ReadVariableOp'
        ):
          self.visit(t)
    self.names[id(tensor)] = '_'
    return '_'

  def refuse_unsupported(self) -> None:
    """Raises naming every op without a mapping (the first ones in full)."""
    if not self.unsupported:
      return
    shown = []
    for op in self.unsupported[:6]:
      line = self.trace.line_of(op)
      shown.append(
          f'{op.type} {op.name!r}' + (f' (line {line})' if line else '')
      )
    more = len(self.unsupported) - len(shown)
    raise ModelFnError(
        f'model_fn builds {len(self.unsupported)} op(s) between the features'
        ' and the predictions with no exact Keras 3 counterpart here: '
        + '; '.join(shown)
        + (f'; and {more} more' if more > 0 else '')
        + '. The exporter maps only what Keras 3 computes exactly'
        ' (docs/export.md lists it), so nothing was written. Export a'
        ' model_fn without them, or keep this model on its estimator.',
        argument='model_fn',
    )

  def table_lookup(self, tensor, op) -> str:
    handle = op.inputs[0].op
    if handle.type != 'VarHandleOp' or handle.name not in self.trace.variables:
      raise self.refuse(op, 'gathers from something not a variable')
    if op.get_attr('batch_dims'):
      raise self.refuse(op, 'gathers with batch_dims')
    table = handle.name
    shape = self.trace.variables[table][0]
    if len(shape) != 2:
      raise self.refuse(
          op, f'gathers from table {table!r} of rank {len(shape)}'
      )
    ids = self.visit(op.inputs[1])
    name = spec_lib.layer_name(table)
    layer = self.tables.get(table)
    if layer is None:  # one Keras layer however often the table is read
      layer = _python_name(f'{name}_layer', self.taken)
      self.taken[layer] = None
      self.program.lines.append(
          f'{layer} = keras.layers.Embedding({shape[0]}, {shape[1]},'
          f' embeddings_initializer=initializer, name={name!r})'
      )
      self.program.mappings.append(
          LayerMapping(
              f'get_variable {table!r} + embedding_lookup',
              f'keras.layers.Embedding {name!r}',
              self.trace.line_of(op),
          )
      )
      self.tables[table] = layer
      self.program.weights[name] = (table,)
      self.program.shapes[table] = shape
    return self.emit(tensor, name, f'{layer}({ids})')

  def strided_slice(self, tensor, op) -> str:
    begin = self.need_constant(op.inputs[1], op, 'slice begin')
    end = self.need_constant(op.inputs[2], op, 'slice end')
    strides = self.need_constant(op.inputs[3], op, 'slice strides')
    masks = {
        m: op.get_attr(m)
        for m in (
            'begin_mask',
            'end_mask',
            'ellipsis_mask',
            'new_axis_mask',
            'shrink_axis_mask',
        )
    }
    parts = []
    for i in range(len(begin)):
      bit = 1 << i
      if masks['ellipsis_mask'] & bit:
        parts.append('...')
      elif masks['new_axis_mask'] & bit:
        parts.append('None')
      elif masks['shrink_axis_mask'] & bit:
        parts.append(str(int(begin[i])))
      else:
        start = '' if masks['begin_mask'] & bit else str(int(begin[i]))
        stop = '' if masks['end_mask'] & bit else str(int(end[i]))
        step = '' if strides[i] == 1 else f':{int(strides[i])}'
        parts.append(f'{start}:{stop}{step}')
    return self.emit(
        tensor, op.name, f'{self.visit(op.inputs[0])}[{", ".join(parts)}]'
    )


def read(
    trace: model_fn_trace.Trace,
    outputs: Mapping[str, tf.Tensor],
    features: Mapping[str, np.ndarray],
    *,
    regularize: bool = False,
    models: bool = False,
) -> Program:
  """The Keras 3 program computing `outputs` from the trace's features.

  Args:
    trace: The PREDICT trace.
    outputs: Output name -> tensor (the predictions, and any tensor a loss
      reads that is not one).
    features: The batch of features the trace was made with.
    regularize: Give layers the regularizers their weights' penalties in
      the graph's REGULARIZATION_LOSSES compute (the TRAIN loss adds them).
    models: Read a Keras model's call as the builder's Keras 3 model
      (`model` in the generated code) instead of refusing it.

  Raises:
    ModelFnError: An op, layer or call without an exact Keras 3 mapping
      (naming it, its scope and the user's line).
    ColumnError: A feature column the canned exit does not carry.
  """
  reader = _Reader(trace, regularize, models)
  for key, tensor in outputs.items():
    if not isinstance(tensor, tf.Tensor):
      raise ModelFnError(
          f'model_fn predictions[{key!r}] is {type(tensor).__name__}, not a'
          ' dense tensor.',
          argument='model_fn',
      )
    reader.program.outputs[key] = reader.visit(tensor)
  reader.refuse_unsupported()
  columns = reader.program.columns
  for key in sorted(reader.raw):
    array = np.asarray(features[key])
    dtype = columns_lib.feature_dtype(array)
    known = columns.inputs.get(key)
    if known is None:
      columns.inputs[key] = spec_lib.Input(list(array.shape[1:]), dtype)
    elif known.dtype != dtype or len(known.shape) != array.ndim - 1:
      raise ModelFnError(
          f'feature {key!r} is read raw as {dtype} {list(array.shape[1:])}'
          f' and by a feature column as {known.dtype} {list(known.shape)}.',
      )
  return reader.program
