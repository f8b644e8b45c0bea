"""The estimator's serving surface: its receiver and signatures, as data.

`estimator.export_saved_model(dir, serving_input_receiver_fn)` writes the
signatures the head's `export_outputs` declare (tensorflow_estimator 2.15,
`head/*_head.py` and `canned/head.py`, v1 and v2 alike), fed by the
receiver's tensors. This module records both in the spec (`spec.Serving`)
so that the export's `saved_model/` (keras3/serving_signatures.py) answers
the same requests:

  head          signature key       method    outputs (-> prediction key)
  binary        serving_default,    classify  classes (all_classes),
                classification                scores (probabilities)
                regression          regress   outputs (logistic)
  multi_class   serving_default,    classify  classes, scores as binary
                classification
  regression    serving_default,    regress   outputs (predictions)
                regression
  every head    predict             predict   every prediction key

Classify and regress signatures take one serialized tf.Example string
tensor (input key `inputs`); a receiver of other tensors (raw features)
gets only `predict`, as the estimator's export drops the others
(`export_utils.build_all_signature_defs`). Predict's inputs are the
receiver's tensors under their own keys (`examples` for
`build_parsing_serving_input_receiver_fn`).

The receiver is, by default, the parsing receiver of the estimator's feature
columns (`make_parse_example_spec`); a user's `serving_input_receiver_fn` is
called in a graph and read: a parsing receiver (one string tensor parsed by
one `tf.io.parse_example`) or raw tensors (each feature a receiver tensor).
"""

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.export import spec as spec_lib

# The estimator's signature keys (`tf.saved_model` / base_head.py).
DEFAULT = 'serving_default'
CLASSIFY = 'classification'
REGRESS = 'regression'
PREDICT = 'predict'
# The signature of the export's own feature-dict serving function.
RAW = 'serving_raw'
# SignatureDef method names, by the spec's `method`.
METHOD_NAMES = {
    'classify': 'tensorflow/serving/classify',
    'regress': 'tensorflow/serving/regress',
    'predict': 'tensorflow/serving/predict',
}
# The single input key of classify and regress signatures.
EXAMPLES_INPUT = 'inputs'
# The receiver tensor of `build_parsing_serving_input_receiver_fn`.
PARSING_RECEIVER_INPUT = 'examples'

# Every prediction key of `estimator.predict`, by head type.
PREDICTION_KEYS = {
    'binary': (
        'all_class_ids',
        'all_classes',
        'class_ids',
        'classes',
        'logistic',
        'logits',
        'probabilities',
    ),
    'multi_class': (
        'all_class_ids',
        'all_classes',
        'class_ids',
        'classes',
        'logits',
        'probabilities',
    ),
    'regression': ('predictions',),
}
_CLASSIFY = ('classify', {'classes': 'all_classes', 'scores': 'probabilities'})
# The head's export_outputs but predict: key -> (method, outputs).
_EXPORT_OUTPUTS = {
    'binary': {
        DEFAULT: _CLASSIFY,
        CLASSIFY: _CLASSIFY,
        REGRESS: ('regress', {'outputs': 'logistic'}),
    },
    'multi_class': {DEFAULT: _CLASSIFY, CLASSIFY: _CLASSIFY},
    'regression': {
        DEFAULT: ('regress', {'outputs': 'predictions'}),
        REGRESS: ('regress', {'outputs': 'predictions'}),
    },
}

_ARGUMENT = 'serving_input_receiver_fn'


class ServingError(errors.MigrationError):
  """A serving receiver the export cannot reproduce."""


def _dtype_name(dtype) -> str:
  dtype = tf.as_dtype(dtype)
  return 'string' if dtype == tf.string else dtype.name


def _default(value, dtype) -> list | None:
  if value is None:
    return None
  flat = np.asarray(value).reshape(-1).tolist()
  if tf.as_dtype(dtype) == tf.string:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
  return flat


def _parsed(feature, key: str) -> spec_lib.ParsedFeature:
  """A `make_parse_example_spec` entry as the spec records it."""
  if isinstance(feature, tf.io.VarLenFeature):
    return spec_lib.ParsedFeature('var_len', _dtype_name(feature.dtype))
  if isinstance(feature, tf.io.FixedLenFeature):
    return spec_lib.ParsedFeature(
        'fixed',
        _dtype_name(feature.dtype),
        shape=[int(d) for d in feature.shape],
        default=_default(feature.default_value, feature.dtype),
    )
  raise ServingError(
      f'feature_columns parse feature {key!r} as {type(feature).__name__};'
      ' the served model parses FixedLenFeature and VarLenFeature only. Give'
      f' {_ARGUMENT}=, a receiver parsing those.',
      argument=('feature_columns', _ARGUMENT),
  )


def parsing_receiver(feature_columns: Iterable) -> spec_lib.Receiver:
  """The estimator's parsing receiver of `feature_columns`.

  What `build_parsing_serving_input_receiver_fn(make_parse_example_spec(
  feature_columns))` builds: one string input `examples`.
  """
  parse = {}
  for column in feature_columns:
    try:  # v1 columns, and most v2 ones
      one = tf.compat.v1.feature_column.make_parse_example_spec([column])
    except ValueError:  # v2 only (shared embeddings)
      one = tf.feature_column.make_parse_example_spec([column])
    for key, feature in one.items():
      if parse.setdefault(key, feature) != feature:
        raise ServingError(
            f'feature_columns parse feature {key!r} two ways ({parse[key]}'
            f' and {feature}): give each column its own feature key.',
            argument='feature_columns',
        )
  return spec_lib.Receiver(
      inputs={PARSING_RECEIVER_INPUT: spec_lib.ReceiverInput('string', [None])},
      parse={key: _parsed(f, key) for key, f in sorted(parse.items())},
  )


def _refuse(why: str) -> ServingError:
  return ServingError(
      f'{_ARGUMENT} builds a receiver the export cannot serve alike ({why}).'
      ' The served model reproduces a parsing receiver'
      ' (one string tensor parsed by one tf.io.parse_example into the'
      ' features) or raw tensors (each feature a receiver tensor); give'
      ' one of those, or export without it for the parsing receiver of the'
      ' feature columns.',
      argument=_ARGUMENT,
  )


def _shape(tensor) -> list:
  if tensor.shape.rank is None:
    raise _refuse(f'receiver tensor {tensor.name} has no known rank')
  return [None if d is None else int(d) for d in tensor.shape.as_list()]


def _read_parse(op, serialized, features: Mapping) -> dict:
  """Feature key -> ParsedFeature, from the ParseExampleV2 op `op`."""
  if op.inputs[0] is not serialized:
    raise _refuse('its features are parsed from another tensor than its input')
  num_sparse = op.get_attr('num_sparse')
  sparse_keys = tf.get_static_value(op.inputs[2])
  dense_keys = tf.get_static_value(op.inputs[3])
  ragged_keys = tf.get_static_value(op.inputs[4])
  if sparse_keys is None or dense_keys is None or ragged_keys is None:
    raise _refuse('its parse_example keys are not constants')
  if len(ragged_keys):
    raise _refuse('it parses RaggedFeatures')
  dense_shapes = op.get_attr('dense_shapes')
  dense_types = op.get_attr('Tdense')
  sparse_types = op.get_attr('sparse_types')
  defaults = op.inputs[5 : 5 + len(dense_keys)]
  out = {}
  for key, value in features.items():
    if isinstance(value, tf.SparseTensor):
      index = value.values.value_index - num_sparse
      example_key = sparse_keys[index].decode()
      parsed = spec_lib.ParsedFeature(
          'var_len', _dtype_name(sparse_types[index])
      )
    else:
      index = value.value_index - 3 * num_sparse
      example_key = dense_keys[index].decode()
      default = _constant(defaults[index])
      dtype = dense_types[index]
      parsed = spec_lib.ParsedFeature(
          'fixed',
          _dtype_name(dtype),
          shape=[int(d) for d in tf.TensorShape(dense_shapes[index])],
          default=None
          if default is None or not np.size(default)
          else _default(default, dtype),
      )
    if example_key != key:
      raise _refuse(
          f'feature {key!r} is the parsed tf.Example feature'
          f' {example_key!r}; name them alike'
      )
    out[key] = parsed
  return dict(sorted(out.items()))


def _constant(tensor):
  """The value of a tensor computed from constants (a parse default)."""
  value = tf.get_static_value(tensor)
  if value is not None:
    return value
  try:
    with tf.compat.v1.Session(graph=tensor.graph) as session:
      return session.run(tensor)
  except tf.errors.OpError as e:
    raise _refuse(f'the default of {tensor.name} is not a constant') from e


def read_receiver(serving_input_receiver_fn: Callable) -> spec_lib.Receiver:
  """The receiver `serving_input_receiver_fn` builds, called in a graph.

  Raises:
    ServingError: Not a `ServingInputReceiver`, receiver tensor
      alternatives, or features neither parsed by one parse_example from
      the one string input nor the receiver's tensors themselves.
  """
  if not callable(serving_input_receiver_fn):
    raise ServingError(
        f'{_ARGUMENT}={serving_input_receiver_fn!r} is not callable: give'
        ' the function the estimator was exported with.',
        argument=_ARGUMENT,
    )
  with tf.Graph().as_default():
    try:
      receiver = serving_input_receiver_fn()
    except Exception as e:
      raise ServingError(
          f'{_ARGUMENT} raised {type(e).__name__}: {e}', argument=_ARGUMENT
      ) from e
    if not isinstance(receiver, tf.estimator.export.ServingInputReceiver):
      raise _refuse(f'it returned {type(receiver).__name__}')
    if receiver.receiver_tensors_alternatives:
      raise _refuse('it has receiver_tensors_alternatives')
    tensors = dict(receiver.receiver_tensors)
    features = dict(receiver.features)
    inputs = {
        key: spec_lib.ReceiverInput(_dtype_name(t.dtype), _shape(t))
        for key, t in sorted(tensors.items())
    }
    by_tensor = {id(t): key for key, t in tensors.items()}
    if all(
        not isinstance(v, tf.SparseTensor) and id(v) in by_tensor
        for v in features.values()
    ):
      return spec_lib.Receiver(
          inputs=inputs,
          features={k: by_tensor[id(v)] for k, v in sorted(features.items())},
      )
    ops = {
        (v.values if isinstance(v, tf.SparseTensor) else v).op
        for v in features.values()
    }
    if len(tensors) != 1 or len(ops) != 1:
      raise _refuse('its features are not the receiver tensors themselves')
    (op,) = ops
    (serialized,) = tensors.values()
    if op.type != 'ParseExampleV2' or serialized.dtype != tf.string:
      raise _refuse(
          f'its features come from a {op.type} op, not from parse_example'
          ' of its string input'
      )
    return spec_lib.Receiver(
        inputs=inputs, parse=_read_parse(op, serialized, features)
    )


def signatures(
    head: spec_lib.Head, receiver: spec_lib.Receiver
) -> dict[str, spec_lib.Signature]:
  """The signatures the estimator's export writes, by key."""
  out = {}
  single = list(receiver.inputs.items())
  examples = len(single) == 1 and single[0][1].dtype == 'string'
  for key, (method, outputs) in _EXPORT_OUTPUTS[head.type].items():
    if examples:
      out[key] = spec_lib.Signature(
          method, {EXAMPLES_INPUT: single[0][0]}, outputs
      )
  out[PREDICT] = spec_lib.Signature(
      'predict',
      {key: key for key in receiver.inputs},
      {key: key for key in PREDICTION_KEYS[head.type]},
  )
  return dict(sorted(out.items()))


def serving_spec(
    head: spec_lib.Head,
    feature_columns: Iterable,
    serving_input_receiver_fn: Callable | None = None,
    *,
    features_read: Iterable[str] = (),
) -> spec_lib.Serving | None:
  """The spec's `serving` section; None for no columns and no receiver fn.

  Args:
    head: The model's head.
    feature_columns: The estimator's feature columns (every tower's).
    serving_input_receiver_fn: The user's receiver function, if given.
    features_read: The features the model reads; the receiver must give
      each.

  Raises:
    ServingError: A receiver the export cannot reproduce, or one that does
      not give a feature the model reads.
  """
  columns = list(feature_columns)
  if serving_input_receiver_fn is not None:
    receiver = read_receiver(serving_input_receiver_fn)
  elif columns:
    receiver = parsing_receiver(columns)
  else:
    return None
  _check_gives(receiver, features_read)
  return spec_lib.Serving(receiver, signatures(head, receiver))


def _check_gives(receiver: spec_lib.Receiver, features_read: Iterable[str]):
  given = set(receiver.parse or receiver.features or ())
  missing = sorted(set(features_read) - given)
  if missing:
    raise ServingError(
        f'{_ARGUMENT} gives no feature {", ".join(missing)}, which the model'
        ' reads: give a receiver function that does.',
        argument=_ARGUMENT,
    )


def model_fn_serving(
    declared: Mapping[str, tuple[str, Mapping[str, str]]],
    receiver: spec_lib.Receiver,
    *,
    features_read: Iterable[str],
) -> spec_lib.Serving:
  """A model_fn export's `serving` section: its export_outputs, served.

  Args:
    declared: See `export_output_signatures`.
    receiver: The receiver, as `read_receiver` read it.
    features_read: The features the model reads.

  Raises:
    ServingError: The receiver does not give a feature the model reads.
  """
  _check_gives(receiver, features_read)
  return spec_lib.Serving(
      receiver, export_output_signatures(declared, receiver)
  )


def declared_outputs(
    export_outputs: Mapping, outputs: Mapping, argument: str = 'model_fn'
) -> tuple[dict, dict]:
  """A PREDICT EstimatorSpec's `export_outputs` as (declared, extra outputs).

  Args:
    export_outputs: Signature key -> `tf.estimator.export.ExportOutput`.
    outputs: The model's outputs by name (tensors of the same graph).
    argument: The argument that gave the model_fn (named in errors).

  Returns:
    `declared`: signature key -> (method, signature output key -> model
    output), as `export_output_signatures` takes it. `extra`: the tensors
    a signature serves that are not already outputs, each named
    `<signature key>.<output key>`.

  Raises:
    ServingError: An ExportOutput other than Classification, Regression
      and Predict.
  """
  declared, extra = {}, {}
  for key, output in sorted(export_outputs.items()):
    if isinstance(output, tf.estimator.export.ClassificationOutput):
      method = 'classify'
      tensors = {'classes': output.classes, 'scores': output.scores}
    elif isinstance(output, tf.estimator.export.RegressionOutput):
      method, tensors = 'regress', {'outputs': output.value}
    elif isinstance(output, tf.estimator.export.PredictOutput):
      method, tensors = 'predict', dict(output.outputs)
    else:
      raise ServingError(
          f'{argument} export_outputs[{key!r}] is {type(output).__name__}:'
          ' the exporter serves Classification, Regression and Predict'
          ' outputs.',
          argument=argument,
      )
    names = {}
    for name, tensor in tensors.items():
      if tensor is None:
        continue
      found = [k for k, t in {**outputs, **extra}.items() if t is tensor]
      if not found:
        found = [f'{key}.{name}']
        extra[found[0]] = tensor
      names[name] = found[0]
    declared[key] = (method, names)
  return declared, extra


def export_output_signatures(
    declared: Mapping[str, tuple[str, Mapping[str, str]]],
    receiver: spec_lib.Receiver,
) -> dict[str, spec_lib.Signature]:
  """The signatures a model_fn's `export_outputs` give with `receiver`.

  Args:
    declared: Signature key -> (method, signature output key -> model
      output), read from the model_fn's PREDICT `export_outputs`.
    receiver: The receiver the estimator would export with.

  Returns:
    The signatures, by key: classify and regress ones only when the receiver
    is one string tensor, as `export_utils.build_all_signature_defs` keeps.
  """
  single = list(receiver.inputs.items())
  examples = len(single) == 1 and single[0][1].dtype == 'string'
  out = {}
  for key, (method, outputs) in declared.items():
    if method == 'predict':
      inputs = {name: name for name in receiver.inputs}
    elif examples:
      inputs = {EXAMPLES_INPUT: single[0][0]}
    else:
      continue
    out[key] = spec_lib.Signature(method, inputs, dict(outputs))
  return dict(sorted(out.items()))
