"""Canned estimator families to the spec of their Keras 3 twin.

Reads the family from `estimators.lookup` (the one table of canned
estimators) and the constructor kwargs the estimator was built with; returns
the spec `model.py` builds from (inputs, categorical id layers, DNN and
linear towers, head) and, per Keras layer, the checkpoint variables that
fill its weights, as `spec.CannedModel`. Variable names are tensorflow_estimator 2.15's, the same
for v1 and v2 estimators: `dnn/hiddenlayer_N/{kernel,bias}`,
`dnn/logits/...`, `dnn/input_from_feature_columns/input_layer/<col>/
embedding_weights`, `linear/linear_model/<col>/weights`,
`linear/linear_model/bias_weights`.
"""

import dataclasses
import inspect
import math

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.export import columns as columns_lib
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.tables import estimators

# Keras names of the activations a canned DNN accepts as `activation_fn`.
ACTIVATIONS = {
    'relu': 'relu',
    'relu6': 'relu6',
    'elu': 'elu',
    'selu': 'selu',
    'sigmoid': 'sigmoid',
    'tanh': 'tanh',
    'softplus': 'softplus',
    'leaky_relu': 'leaky_relu',
    'gelu': 'gelu',
    'swish': 'silu',
    'silu': 'silu',
}
# A batch-norm layer's weights in Keras order; the moving statistics are not
# trained by an optimizer.
BATCH_NORM_WEIGHTS = ('gamma', 'beta', 'moving_mean', 'moving_variance')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """What `model.py` builds, and how the exporter got there."""

  spec: spec_lib.CannedModel
  mappings: tuple[columns_lib.Mapping, ...]
  row: estimators.EstimatorRow
  # Checkpoint name -> the shape the Keras layer gives that weight.
  shapes: dict

  @property
  def trained(self) -> list[str]:
    """The checkpoint names an optimizer trains (no moving statistics)."""
    return [n for n in self.shapes if '/moving_' not in n]


def _activation(fn) -> str:
  name = fn if isinstance(fn, str) else getattr(fn, '__name__', repr(fn))
  if name not in ACTIVATIONS:
    raise errors.TranslationError(
        f'activation_fn {name!r} has no Keras activation here. Supported:'
        f' {sorted(ACTIVATIONS)}.'
    )
  return ACTIVATIONS[name]


def _head(row: estimators.EstimatorRow, kwargs: dict) -> spec_lib.Head:
  if row.kind == 'Regressor':
    dimension = int(kwargs.get('label_dimension', 1))
    return spec_lib.Head('regression', dimension)
  if row.kind == 'Classifier':
    n_classes = int(kwargs.get('n_classes', 2))
    vocabulary = kwargs.get('label_vocabulary')
    if vocabulary is not None:
      vocabulary = tuple(
          v.decode() if isinstance(v, bytes) else str(v) for v in vocabulary
      )
    if n_classes == 2:
      return spec_lib.Head(
          'binary', 1, n_classes=2, label_vocabulary=vocabulary
      )
    return spec_lib.Head(
        'multi_class',
        n_classes,
        n_classes=n_classes,
        label_vocabulary=vocabulary,
    )
  raise errors.TranslationError(
      f'{row.name} takes a head object, which the exporter does not read.'
      ' Export the matching *Classifier or *Regressor instead.'
  )


def _dnn(row, kwargs, columns, prefix) -> spec_lib.Dnn:
  hidden_units = kwargs.get(f'{prefix}hidden_units')
  if not hidden_units:
    raise errors.TranslationError(
        f'{row.name} needs {prefix}hidden_units (received'
        f' {hidden_units!r}): pass the kwargs the estimator was built with.'
    )
  return spec_lib.Dnn(
      scope='dnn',
      hidden_units=[int(u) for u in hidden_units],
      activation=_activation(kwargs.get(f'{prefix}activation_fn', tf.nn.relu)),
      dropout=float(kwargs.get(f'{prefix}dropout') or 0.0),
      batch_norm=bool(kwargs.get('batch_norm')),
      columns=columns_lib.dnn_columns(
          columns, kwargs.get(f'{prefix}feature_columns') or (), 'dnn'
      ),
  )


def _linear(kwargs, columns, prefix) -> spec_lib.Linear:
  feature_columns = kwargs.get(f'{prefix}feature_columns') or ()
  combiner = kwargs.get(
      'linear_sparse_combiner' if prefix else 'sparse_combiner', 'sum'
  )
  return spec_lib.Linear(
      scope='linear',
      sparse_combiner=combiner,
      bias='linear/linear_model/bias_weights',
      columns=columns_lib.linear_columns(columns, feature_columns, 'linear'),
  )


def _width(column: spec_lib.DnnColumn, inputs: dict) -> int:
  """Width of one DNN input column (the input layer concatenates them)."""
  if isinstance(column, spec_lib.NumericColumn):
    return math.prod(inputs[column.key].shape)
  if isinstance(column, spec_lib.EmbeddingColumn):
    return column.dimension
  return column.num_buckets


def _weights(
    head: spec_lib.Head,
    inputs: dict,
    baseline: spec_lib.Baseline | None,
    dnn: spec_lib.Dnn | None,
    linear: spec_lib.Linear | None,
) -> tuple[dict, dict]:
  """Keras layer name -> checkpoint names of its weights, in order; shapes."""
  out, shapes = {}, {}
  units = head.logits_dimension

  def add(layer, names_and_shapes):
    out[spec_lib.layer_name(layer)] = [name for name, _ in names_and_shapes]
    shapes.update(names_and_shapes)

  if baseline:
    add(baseline.scope, [(baseline.bias, (units,))])
  if dnn:
    for column in dnn.columns:
      if isinstance(column, spec_lib.EmbeddingColumn):
        shape = (column.num_buckets, column.dimension)
        add(column.weight, [(column.weight, shape)])
    width = sum(_width(c, inputs) for c in dnn.columns)
    for i, size in enumerate([*dnn.hidden_units, units]):
      hidden = i < len(dnn.hidden_units)
      scope = (
          spec_lib.hidden_layer_scope(dnn.scope, i)
          if hidden
          else spec_lib.logits_scope(dnn.scope)
      )
      add(
          scope,
          [(f'{scope}/kernel', (width, size)), (f'{scope}/bias', (size,))],
      )
      if dnn.batch_norm and hidden:
        norm = spec_lib.batch_norm_scope(dnn.scope, i)
        add(norm, [(f'{norm}/{n}', (size,)) for n in BATCH_NORM_WEIGHTS])
      width = size
  if linear:
    for column in linear.columns:
      if isinstance(column, spec_lib.NumericColumn):
        rows = math.prod(inputs[column.key].shape)
      else:
        rows = column.num_buckets
      add(column.weight, [(column.weight, (rows, units))])
    add(linear.bias, [(linear.bias, (units,))])
  return out, shapes


def _constructors(estimator, row: estimators.EstimatorRow) -> list:
  """The class given, or both classes (v1 and v2) of a name."""
  if not isinstance(estimator, str):
    return [estimator]
  return [
      getattr(module, row.name)
      for module in (tf.compat.v1.estimator, tf.estimator)
      if hasattr(module, row.name)
  ]


def check_kwargs(estimator, kwargs: dict) -> None:
  """Refuses a kwarg the estimator's constructor does not take.

  The estimator itself raises TypeError on one; ignoring it would export
  another model than the one trained (a misspelled `activation_fn` gives
  relu). An estimator given by name takes what its v1 or v2 class takes.

  Raises:
    TranslationError: A kwarg neither constructor takes; names it and the
      ones they take.
  """
  row = estimators.lookup(estimator)
  accepted = set()
  for constructor in _constructors(estimator, row):
    parameters = inspect.signature(constructor).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
      return
    accepted |= {p.name for p in parameters if p.name != 'self'}
  unknown = sorted(set(kwargs) - accepted)
  if unknown:
    raise errors.TranslationError(
        f'{row.name} takes no argument {", ".join(map(repr, unknown))} (the'
        ' estimator itself would raise TypeError): correct the constructor'
        f' kwargs (those the config returns). {row.name} takes'
        f' {", ".join(sorted(accepted))}.'
    )


def model_spec(estimator, kwargs: dict) -> ModelSpec:
  """The spec of the Keras 3 twin of a canned estimator.

  Args:
    estimator: A canned estimator's name or class (v1 or v2).
    kwargs: The constructor kwargs the estimator was built with.

  Returns:
    The spec, with how each feature column was mapped.

  Raises:
    TranslationError: Not a canned Classifier/Regressor, an argument its
      constructor does not take, or an option the exporter does not carry.
    ColumnError: A feature column without an exact Keras 3 counterpart.
  """
  row = estimators.lookup(estimator)
  family = row.family.family
  columns = columns_lib.Columns()
  head = _head(row, kwargs)
  baseline = dnn = linear = None
  if family == 'baseline':
    # Only a bias: the model reads the batch size from any feature.
    baseline = spec_lib.Baseline(scope='baseline', bias='baseline/bias')
    columns.inputs[spec_lib.BASELINE_INPUT] = spec_lib.Input([1], 'float32')
  elif family == 'dnn':
    dnn = _dnn(row, kwargs, columns, '')
  elif family == 'linear':
    linear = _linear(kwargs, columns, '')
  else:
    if kwargs.get('dnn_feature_columns'):
      dnn = _dnn(row, kwargs, columns, 'dnn_')
    if kwargs.get('linear_feature_columns'):
      linear = _linear(kwargs, columns, 'linear_')
  weights, shapes = _weights(head, columns.inputs, baseline, dnn, linear)
  check_kwargs(estimator, kwargs)  # after the columns: their errors first
  spec = spec_lib.CannedModel(
      estimator=row.name,
      head=head,
      inputs=columns.inputs,
      categorical=columns.categorical,
      weights=weights,
      baseline=baseline,
      dnn=dnn,
      linear=linear,
  )
  return ModelSpec(spec, tuple(columns.mappings), row, shapes)
