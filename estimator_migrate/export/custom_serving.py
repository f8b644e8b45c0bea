"""A Keras-built custom estimator's serving signatures, read from its model_fn.

An estimator built with `make_model_fn(build_model, ...)` or
`to_estimator(model)` writes, with a receiver, the signatures its PREDICT
EstimatorSpec's `export_outputs` declare over its predictions:

  make_model_fn   `export_outputs(predictions)`, or one `serving_default`
                  PredictOutput of the predictions (`predictions(outputs)`,
                  by default probabilities and class ids of a classifier)
  to_estimator    `serving_default`: a PredictOutput of every model output
                  by output name; and `export_outputs`' output name ->
                  ExportOutput class, each of that output

`read` runs that model_fn in PREDICT mode (`model_fn_trace`) on placeholders
of the receiver's features: the user's own model_fn (`make_model_fn`'s
result, or any model_fn calling one Keras model), else to_estimator's rule
over the builder's model. The ops between the Keras model's outputs and
every served tensor (an argmax, a slice, a softmax) become `keras.ops`
calls (`model_fn_graph`, the model_fn exit's reader); what has no exact
mapping is refused before anything is written. The result is spec.json's
`serving` section and model.py's generated `serving_model(model)`: the
builder's Keras 3 model wrapped to take the receiver's features and give
every served tensor, which `keras3/serving_signatures.py` serves.
"""

from collections.abc import Callable, Mapping
import dataclasses
import inspect

import numpy as np
import tensorflow as tf

from estimator_migrate.export import custom_checkpoint
from estimator_migrate.export import model_fn_graph
from estimator_migrate.export import model_fn_trace
from estimator_migrate.export import signatures
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.tf2 import model_fn as model_fn_lib

ServingError = signatures.ServingError
# The argument that gives the receiver (named in errors).
_RECEIVER = 'serving_input_receiver_fn'


@dataclasses.dataclass(frozen=True)
class CustomServing:
  """What a custom export serves: the spec section and model.py's code."""

  serving: spec_lib.Serving
  code: str
  mappings: tuple[model_fn_graph.LayerMapping, ...]


def to_estimator_model_fn(
    build: Callable, params: Mapping | None, export_outputs: Mapping | None
) -> Callable:
  """The PREDICT model_fn `to_estimator` gives the builder's model.

  As tensorflow_estimator's keras_lib builds it: predictions are the
  model's outputs by output name; `serving_default` predicts all of them;
  `export_outputs` (output name -> ExportOutput class) adds one signature
  per name, of that output.
  """

  def model_fn(features, mode):
    model = custom_checkpoint.call_builder(build, params)
    outputs = model(model_fn_lib.route(features, model), training=False)
    predictions = dict(
        zip(model.output_names, tf.nest.flatten(outputs), strict=True)
    )
    declared = {
        signatures.DEFAULT: tf.estimator.export.PredictOutput(predictions)
    }
    for key, output_class in sorted((export_outputs or {}).items()):
      if key not in predictions:
        raise ServingError(
            f'export_outputs key {key!r} is not an output of the model'
            f' (outputs {sorted(predictions)}): to_estimator takes output'
            ' name -> ExportOutput class.',
            argument='export_outputs',
        )
      declared[key] = output_class(predictions[key])
    return tf.estimator.EstimatorSpec(
        mode, predictions=predictions, export_outputs=declared
    )

  # Errors name the builder's lines, not this function's; the Estimator's
  # arguments are still this function's own.
  model_fn.__signature__ = inspect.signature(model_fn)
  model_fn.__wrapped__ = build
  return model_fn


def _check_export_outputs(export_outputs) -> None:
  if export_outputs is None:
    return
  if isinstance(export_outputs, Mapping) and all(
      isinstance(v, type) and issubclass(v, tf.estimator.export.ExportOutput)
      for v in export_outputs.values()
  ):
    return
  raise ServingError(
      f'export_outputs {export_outputs!r}: give what to_estimator took, a'
      ' dict of output name -> ExportOutput class (e.g.'
      " {'score': tf.estimator.export.RegressionOutput}).",
      argument='export_outputs',
  )


def _batch(receiver: spec_lib.Receiver) -> dict[str, np.ndarray]:
  """One row of every feature the receiver gives (names, dtypes, shapes)."""
  shapes = {}
  if receiver.parse is not None:
    for key, feature in receiver.parse.items():
      if feature.kind != 'fixed':
        raise ServingError(
            f'{_RECEIVER} parses feature {key!r} as a VarLenFeature (a'
            ' SparseTensor), which a Keras model does not take: parse it'
            ' with a FixedLenFeature, as the model reads it.',
            argument=_RECEIVER,
        )
      shapes[key] = (feature.dtype, list(feature.shape))
  else:
    for key, name in receiver.features.items():
      given = receiver.inputs[name]
      if any(d is None for d in given.shape[1:]) or not given.shape:
        raise ServingError(
            f'{_RECEIVER} gives feature {key!r} of shape'
            f' {list(given.shape)}: give every dimension but the batch.',
            argument=_RECEIVER,
        )
      shapes[key] = (given.dtype, list(given.shape[1:]))
  out = {}
  for key, (dtype, shape) in shapes.items():
    if dtype == 'string':
      out[key] = np.full([1, *shape], b'', dtype=object)
    else:
      out[key] = np.zeros([1, *shape], dtype=tf.as_dtype(dtype).as_numpy_dtype)
  return out


def _served(trace, argument: str) -> tuple[dict, dict]:
  """(declared signatures, served tensor name -> tensor) of the trace."""
  predictions = trace.predictions()
  declared, extra = signatures.declared_outputs(
      trace.spec.export_outputs, predictions, argument
  )
  both = {**predictions, **extra}
  names = {
      name for _, outputs in declared.values() for name in outputs.values()
  }
  return declared, {name: both[name] for name in sorted(names)}


def _code(reference: str, program: model_fn_graph.Program) -> str:
  """model.py's generated `serving_model(model)`."""
  inputs = [
      f'    {key!r}: keras.Input(shape={tuple(spec.shape)!r},'
      f' dtype={spec.dtype!r}, name={key!r}),'
      for key, spec in sorted(program.columns.inputs.items())
  ]
  body = [
      'inputs = {',
      *inputs,
      '}',
      *program.lines,
      'outputs = {',
      *(f'    {key!r}: {name},' for key, name in program.outputs.items()),
      '}',
      "return keras.Model(inputs, outputs, name='serving')",
  ]
  return '\n'.join(
      [
          '',
          '',
          '# ' + '-' * 76,
          '# What the estimator serves, read from its model_fn in PREDICT',
          f'# mode ({reference}): keras.ops for the ops between',
          "# the model's outputs and every served tensor.",
          '',
          '',
          'def _flatten(outputs):',
          '  """Outputs in the order Keras 2 flattened them (`tf.nest`:',
          '  every mapping by sorted key)."""',
          '  if isinstance(outputs, dict):',
          '    return [x for k in sorted(outputs) for x in _flatten(outputs[k])]',
          '  if isinstance(outputs, (list, tuple)):',
          '    return [x for o in outputs for x in _flatten(o)]',
          '  return [outputs]',
          '',
          '',
          'def serving_model(model):',
          '  """`model` (load()) taking the receiver\'s features by key.',
          '',
          "  Gives every tensor the estimator's signatures serve, by name",
          "  (spec.json's `serving`); saved_model/ serves it.",
          '  """',
          *(f'  {line}' for line in body),
          '',
      ]
  )


def read(
    reference: str,
    build: Callable,
    params: Mapping | None,
    serving_input_receiver_fn: Callable,
    *,
    model_fn: Callable | None = None,
    export_outputs: Mapping | None = None,
) -> CustomServing:
  """What the custom estimator serves with `serving_input_receiver_fn`.

  Args:
    reference: The builder's `module:function` (named in model.py).
    build: The builder.
    params: The estimator's params.
    serving_input_receiver_fn: The receiver the estimator is exported with.
    model_fn: The estimator's model_fn (`make_model_fn`'s result); None: a
      `to_estimator` estimator.
    export_outputs: `to_estimator`'s export_outputs (without `model_fn`).

  Raises:
    ServingError: A receiver the export cannot reproduce or that gives no
      feature the model reads, export outputs other than Classification,
      Regression and Predict, or both `model_fn` and `export_outputs`.
    ModelFnError: The model_fn fails, calls no Keras model or several,
      or serves a tensor through an op without an exact Keras 3 mapping
      (named, with its line).
  """
  if model_fn is not None and export_outputs is not None:
    raise ServingError(
        "export_outputs is to_estimator's argument: with model_fn, the"
        " model_fn's own export_outputs are served; give one of them.",
        argument='export_outputs',
    )
  argument = 'model_fn' if model_fn is not None else 'export_outputs'
  if model_fn is None:
    _check_export_outputs(export_outputs)
  receiver = signatures.read_receiver(serving_input_receiver_fn)
  features = _batch(receiver)
  function = model_fn or to_estimator_model_fn(build, params, export_outputs)
  trace = model_fn_trace.trace(function, features, params=params)
  declared, served = _served(trace, argument)
  program = model_fn_graph.read(trace, served, features, models=True)
  if not program.calls_model:
    raise model_fn_trace.ModelFnError(
        f'{argument} serves no output of a Keras model: give the model_fn'
        ' the estimator was built with (make_model_fn(build_model, ...)).',
        argument=argument,
    )
  outside = sorted(program.weights) + sorted(program.feature_columns)
  if outside:
    raise model_fn_trace.ModelFnError(
        f'{argument} serves tensors computed with weights outside the Keras'
        f' model ({", ".join(outside)}); the export carries the Keras'
        " model's weights only.",
        argument=argument,
    )
  serving = signatures.model_fn_serving(
      declared,
      receiver,
      features_read=program.columns.inputs,
  )
  return CustomServing(
      serving=serving,
      code=_code(reference, program),
      mappings=tuple(program.mappings),
  )


__all__ = ['CustomServing', 'read', 'to_estimator_model_fn']
