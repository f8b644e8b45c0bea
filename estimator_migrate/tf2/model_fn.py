"""A custom Estimator model_fn around a Keras model, done right once.

The migration guide's hand-written model_fn loses two things silently: inside
an Estimator's graph Keras builds v1 layers whose regularization losses and
BatchNorm updates are NOT put in the global collections, and `model.updates`
also holds ops bound to the Keras Input placeholder ("You must feed a value
for placeholder"). `make_model_fn` adds `get_losses_for(None) +
get_losses_for(inputs)` to the loss and groups `get_updates_for(None) +
get_updates_for(inputs)` with the training step, calls the model with
`training=(mode == TRAIN)`, and returns complete EstimatorSpecs: training,
eval metrics, predictions and a `serving_default` export.

Example:
  def build(params):
    return models.build_cnn(dropout_rate=params.get('dropout', 0.1))
  estimator = tf.estimator.Estimator(
      model_fn.make_model_fn(build, loss='sparse_categorical_crossentropy',
                             optimizer='Adam', metrics=['accuracy']),
      model_dir='/tmp/model')
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from estimator_migrate import errors

ModeKeys = tf.estimator.ModeKeys
ExportOutput = tf.estimator.export.ExportOutput


def _fresh_optimizer(optimizer: Any):
  """An optimizer for this graph: a new Keras one each call, v1 ones reused."""
  if callable(optimizer) and not isinstance(
      optimizer,
      (tf.compat.v1.train.Optimizer, tf.keras.optimizers.legacy.Optimizer),
  ):
    optimizer = optimizer()
  if isinstance(optimizer, str):
    cls = getattr(tf.keras.optimizers.legacy, optimizer, None)
    if cls is None:
      raise errors.ModelError(
          f'optimizer {optimizer!r} is not a tf.keras.optimizers.legacy'
          ' class name (Adam, SGD, Adagrad, RMSprop, Ftrl, Adadelta, ...).'
      )
    return cls()
  if isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer):
    # Keras optimizers keep their variables per graph: one per model_fn call.
    return type(optimizer).from_config(optimizer.get_config())
  if isinstance(optimizer, tf.compat.v1.train.Optimizer):
    return optimizer
  raise errors.ModelError(
      f'optimizer {optimizer!r}: expected a tf.compat.v1.train optimizer, a'
      ' tf.keras.optimizers.legacy optimizer, its class name, or a callable'
      ' returning one. New-style Keras optimizers do not work in Estimator'
      ' graphs: use tf.keras.optimizers.legacy.*.'
  )


def route(features: Any, model: tf.keras.Model) -> Any:
  """Features as the model takes them: by input name when there are several."""
  names = model.input_names
  if names is None:  # built by its first call (no Input): one input
    if isinstance(features, Mapping) and len(features) == 1:
      (features,) = features.values()
    return features
  if isinstance(features, Mapping):
    missing = [n for n in names if n not in features]
    if missing:
      raise errors.ModelError(
          f'features have keys {sorted(features)}; the model needs inputs'
          f' {names} (missing {missing}).'
      )
    if len(names) == 1:
      return features[names[0]]
    return {n: features[n] for n in names}
  if len(names) != 1:
    raise errors.ModelError(
        f'features is one tensor but the model has inputs {names}: return a'
        ' dict keyed by those names from the input_fn.'
    )
  return features


def _per_output(value: Any, names: Sequence[str], what: str) -> dict:
  if isinstance(value, Mapping):
    unknown = sorted(set(value) - set(names))
    if unknown:
      raise errors.ModelError(
          f'{what} keys {unknown} are not model outputs {list(names)}.'
      )
    return dict(value)
  return {n: value for n in names}


def _metric(spec: Any, output: tf.Tensor, labels: tf.Tensor):
  """A fresh Keras metric object for one output."""
  if isinstance(spec, tf.keras.metrics.Metric):
    return type(spec).from_config(spec.get_config())
  if spec in ('accuracy', 'acc'):
    sparse = labels.dtype.is_integer and output.shape[-1] not in (None, 1)
    if sparse:
      return tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')
    if output.shape[-1] == 1:
      return tf.keras.metrics.BinaryAccuracy(name='accuracy')
    return tf.keras.metrics.CategoricalAccuracy(name='accuracy')
  if isinstance(spec, str):
    found = tf.keras.metrics.get(spec)
    if isinstance(found, tf.keras.metrics.Metric):
      return found
    return tf.keras.metrics.MeanMetricWrapper(found, name=spec)
  if callable(spec):
    made = spec()
    if isinstance(made, tf.keras.metrics.Metric):
      return made
  raise errors.ModelError(
      f'metric {spec!r}: expected a name, a tf.keras.metrics.Metric, or a'
      ' callable returning one.'
  )


def default_predictions(outputs: Mapping[str, tf.Tensor]) -> dict:
  """Probabilities and class ids for a classifier output, else the output."""
  if len(outputs) == 1:
    (output,) = outputs.values()
    if output.shape.rank == 2 and (output.shape[-1] or 0) > 1:
      return {
          'probabilities': output,
          'class_ids': tf.expand_dims(tf.argmax(output, axis=-1), -1),
      }
    return {'predictions': output}
  return dict(outputs)


def _loss_value(spec: Any, labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
  """A scalar loss, reduced over the batch as Keras' compile() does."""
  loss = tf.keras.losses.get(spec)
  value = loss(labels, outputs)
  if isinstance(loss, tf.keras.losses.Loss):
    return value
  # A loss function gives one value per example; compile() wraps it with
  # SUM_OVER_BATCH_SIZE: the mean over every element.
  return tf.reduce_mean(value)


def _regularization(model: tf.keras.Model, inputs: Any) -> list[tf.Tensor]:
  if hasattr(model, 'get_losses_for'):
    flat = tf.nest.flatten(inputs)
    return list(model.get_losses_for(None)) + list(model.get_losses_for(flat))
  return list(model.losses)


def _updates(model: tf.keras.Model, inputs: Any) -> list[Any]:
  if hasattr(model, 'get_updates_for'):
    flat = tf.nest.flatten(inputs)
    return list(model.get_updates_for(None)) + list(model.get_updates_for(flat))
  return []


def make_model_fn(
    build_model: Callable[[Mapping[str, Any]], tf.keras.Model],
    *,
    loss: Any,
    optimizer: Any,
    metrics: Sequence[Any] | Mapping[str, Sequence[Any]] = (),
    predictions: (
        Callable[[Mapping[str, tf.Tensor]], Mapping[str, tf.Tensor]] | None
    ) = None,
    export_outputs: (
        Callable[[Mapping[str, tf.Tensor]], Mapping[str, ExportOutput]] | None
    ) = None,
) -> Callable[..., tf.estimator.EstimatorSpec]:
  """Returns `model_fn(features, labels, mode, params, config)`.

  Args:
    build_model: Builds a fresh Keras model from the Estimator's `params`;
      called once per graph the Estimator builds.
    loss: A Keras loss (name, object or `fn(labels, outputs)`), or a dict of
      them by output name.
    optimizer: A `tf.compat.v1.train` optimizer, a Keras legacy optimizer (its
      `iterations` becomes the global step), a legacy class name, or a
      callable returning one of those.
    metrics: Metric names or Keras metric objects (a dict by output name for
      several outputs); evaluated with the loss.
    predictions: `fn(outputs by name) -> dict`; default: `probabilities` and
      `class_ids` for a classifier, else the outputs.
    export_outputs: `fn(predictions) -> {signature key: ExportOutput}`, the
      SavedModel's signatures, built in each graph from that graph's
      predictions; default a `serving_default` PredictOutput of them.

  Returns:
    The model_fn.

  Raises:
    ModelError: `export_outputs` is not callable; when the model_fn runs,
      if features, labels, losses or the optimizer do not fit the model.
  """
  if export_outputs is not None and not callable(export_outputs):
    raise errors.ModelError(
        f'export_outputs is {type(export_outputs).__name__}: give a function'
        ' of the predictions returning {signature key: ExportOutput} (the'
        " ExportOutputs hold the model_fn graph's tensors, so they are made"
        ' in it).',
        argument='export_outputs',
    )

  def model_fn(features, labels, mode, params, config):
    del config
    model = build_model(dict(params or {}))
    inputs = route(features, model)
    raw = model(inputs, training=mode == ModeKeys.TRAIN)
    names = model.output_names
    outputs = dict(zip(names, tf.nest.flatten(raw), strict=True))
    preds = dict((predictions or default_predictions)(outputs))
    if mode == ModeKeys.PREDICT:
      return tf.estimator.EstimatorSpec(
          mode,
          predictions=preds,
          export_outputs=dict(export_outputs(preds))
          if export_outputs
          else {'serving_default': tf.estimator.export.PredictOutput(preds)},
      )
    label_by_output = _per_output(labels, names, 'labels')
    losses = _per_output(loss, names, 'loss')
    data_losses = {
        name: _loss_value(losses[name], label_by_output[name], outputs[name])
        for name in names
    }
    regularization = _regularization(model, inputs)
    reg_loss = tf.add_n(regularization) if regularization else tf.constant(0.0)
    total = tf.add_n(list(data_losses.values())) + reg_loss
    if mode == ModeKeys.EVAL:
      metric_specs = _per_output(metrics, names, 'metrics')
      ops = {}
      for name in names:
        for spec in metric_specs.get(name, ()):
          metric = _metric(spec, outputs[name], label_by_output[name])
          metric.update_state(label_by_output[name], outputs[name])
          key = metric.name if len(names) == 1 else f'{name}_{metric.name}'
          ops[key] = metric
      return tf.estimator.EstimatorSpec(
          mode, loss=total, predictions=preds, eval_metric_ops=ops
      )
    tf.compat.v1.summary.scalar('loss/regularization', reg_loss)
    for name, value in data_losses.items():
      tf.compat.v1.summary.scalar(f'loss/{name}', value)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    opt = _fresh_optimizer(optimizer)
    variables = model.trainable_variables
    if isinstance(opt, tf.compat.v1.train.Optimizer):
      step = opt.minimize(total, global_step=global_step, var_list=variables)
    else:
      opt.iterations = global_step  # get_updates increments it
      step = tf.group(*opt.get_updates(total, variables))
    train_op = tf.group(step, *_updates(model, inputs))
    return tf.estimator.EstimatorSpec(
        mode, loss=total, train_op=train_op, predictions=preds
    )

  return model_fn
