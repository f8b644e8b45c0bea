"""The third act: off Estimators, onto Keras 3 and current TF.

`save_export` carries the migrated v2 canned estimator's checkpoint (the
converter's output: the v1 one holds a partitioned embedding) to Keras 3 with
`export.canned_to_keras`, saves it with its serving SavedModel and records
the estimator's predictions at that point. `save_model_fn_export` does the
same for the TF1 custom model_fn with `export.model_fn_to_keras`: its graph
becomes the Keras 3 model, no hand-written twin. `prove` then works in the modern
environment (TensorFlow 2.21, Keras 3, subprocesses): the Keras model and
the SavedModel predict the test set (`parity.modern_predict`, compared with
`parity.compare`), and the Keras model `fit`s the batches the estimator
continued on (`parity.modern_fit`); its weights are compared with the
estimator's after the same steps. At the export, the estimator also wrote its
own SavedModel with a parsing receiver (what TensorFlow Serving serves from
an Estimator); `prove_serving` then serves it beside the export's
`saved_model/` (`serving_parity.compare_saved_models`, one subprocess for
all models): every signature and every Serving request on the test set as
serialized tf.Examples.

Example:
  pending = keras3_act.save_export(estimator, kwargs, '/tmp/k3', test,
                                   batches, 64)
  estimator.train(train_fn, steps=len(batches))   # the same batches
  result = keras3_act.prove(pending, estimator)
  (result,) = keras3_act.prove_serving([(result, pending)])
  print(result.problems())
"""

from collections.abc import Mapping, Sequence
import dataclasses
import os
from typing import Any

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import parity
from estimator_migrate.export import serving
from estimator_migrate.export import serving_parity
from estimator_migrate.tf2 import differences

Arrays = Mapping[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Tolerance:
  """How far Keras 3 on current TF may end from the migrated estimator."""

  # Every prediction key, Keras model and SavedModel (issue #13's bound).
  predictions: float = 1e-5
  # Max |w_estimator - w_Keras3| after the continuation: measured 6e-8
  # after 200 steps of Adam and Ftrl (the canned model; 3e-8 after 10).
  # Keras 3's Adam and Ftrl are not TF 2.15's kernels, so float rounding
  # may compound with the steps: the bound is ~170 times the measurement,
  # far below what a lost slot moves (Adam without slots: 0.21 after 4
  # steps, tests/checkpoint_warm_start_test.py).
  weights: float = 1e-5
  # Every float a signature or a Serving answer gives, the export's
  # SavedModel vs the estimator's (issue #25's bound; strings and integers
  # must be identical).
  serving: float = 1e-6


TOLERANCE = Tolerance()
# The custom CNN (conv, BatchNorm, dropout off) after 200 steps of Adam:
# measured 5.4e-4 (4.2e-7 after 50 steps; < 1e-5 after 4,
# tests/export_model_fn_test.py). Float rounding compounds through ReLU
# boundaries and Adam's division by sqrt(v) + eps where v is tiny: the same
# model moved to its Keras 2 twin on TF 2.15 ends 2.4e-3 from TF1 likewise.
# The bound is ~10 times the measurement.
CUSTOM_TOLERANCE = Tolerance(weights=5e-3)


@dataclasses.dataclass(frozen=True)
class Pending:
  """An export saved, waiting for the estimator's continuation."""

  directory: str
  features: Arrays  # the test set, as the Keras model takes it
  expected: Arrays  # the estimator's predictions right after export
  batches: tuple[Arrays, Arrays]  # the continuation's features, labels
  batch_size: int
  global_step: int
  weight_names: tuple[str, ...]
  # The export `fit` trains (default: `directory`) and its loss output.
  fit_directory: str | None = None
  label_output: str = 'logits'
  # The estimator's own SavedModel (parsing receiver), and the requests
  # served to it and to the export's `saved_model/`.
  estimator_saved_model: str | None = None
  examples: tuple[bytes, ...] = ()


@dataclasses.dataclass(frozen=True)
class Result:
  """Predictions right after the export; weights after training on."""

  name: str
  directory: str
  parity: parity.Parity  # per key; `saved_model/<key>` for the SavedModel
  weights: differences.Difference  # estimator vs Keras 3, continued
  losses: tuple[tuple[int, float], ...]  # Keras 3's (step, training loss)
  tolerance: Tolerance = TOLERANCE
  # Both SavedModels serving the same tf.Examples (`prove_serving`); None:
  # not compared.
  serving: serving_parity.ServingParity | None = None
  served_examples: int = 0

  @property
  def keras_parity(self) -> float:
    return max(
        v
        for k, v in self.parity.max_abs_diff.items()
        if not k.startswith('saved_model/')
    )

  @property
  def saved_model_parity(self) -> float:
    return max(
        v
        for k, v in self.parity.max_abs_diff.items()
        if k.startswith('saved_model/')
    )

  def problems(self) -> list[str]:
    out = []
    if self.parity.max > self.tolerance.predictions:
      out.append(
          f'{self.name}: Keras 3 predictions differ by'
          f' {self.parity.max:.3g} > {self.tolerance.predictions:g}'
      )
    if self.weights.absolute > self.tolerance.weights:
      out.append(
          f'{self.name}: Keras 3 weights after training on differ by'
          f' {self.weights.absolute:.3g} > {self.tolerance.weights:g}'
      )
    if self.serving is not None:
      out += [
          f"{self.name}: served through the estimator's signatures, {p}"
          for p in self.serving.problems(self.tolerance.serving)
      ]
    return out

  def serving_cell(self) -> str:
    """The largest gap over every signature and Serving answer; the defs."""
    served = self.serving
    if served is None:
      return 'n/a'
    gap = 'unequal' if served.mismatched else f'{served.max_abs_diff:.2g}'
    same = served.signatures_equal and served.listings_equal
    count = len(served.estimator_signatures)
    return (
        f'{gap} ({count} signature{"s" if count != 1 else ""},'
        f' defs {"identical" if same else "DIFFER"})'
    )

  def row(self) -> tuple[str, ...]:
    return (
        self.name,
        f'{self.keras_parity:.2g}',
        f'{self.saved_model_parity:.2g}',
        self.serving_cell(),
        f'{self.weights.absolute:.2g}',
        f'{self.tolerance.predictions:g} / {self.tolerance.serving:g} /'
        f' {self.tolerance.weights:g}',
        'ok' if not self.problems() else 'DIVERGED',
    )


SERVING_COLUMN = "serving signatures vs estimator's SavedModel"
HEADER = (
    'model',
    'Keras 3 predictions vs estimator',
    'SavedModel vs estimator',
    SERVING_COLUMN,
    'weights after training on',
    'limit (predictions / serving / weights)',
    'verdict',
)


def _numpy(value: Any) -> np.ndarray:
  """A feature as Keras takes it: `[batch, ...]` with `...` at least 1.

  Bytes become str, which a subprocess reads without unpickling objects.
  """
  value = np.asarray(value)
  if value.ndim == 1:  # feature columns take [batch]; Keras inputs do not
    value = value[:, np.newaxis]
  if value.dtype == object or value.dtype.kind == 'S':
    return np.char.decode(value.astype(bytes), 'utf-8')
  return value


def _concatenate(parts: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
  return {k: _numpy(np.concatenate([p[k] for p in parts])) for k in parts[0]}


def dataset_arrays(
    input_fn, steps: int | None, seed: int
) -> tuple[Arrays, Arrays]:
  """The first `steps` batches of `input_fn` (all: None), as an Estimator.

  Built in a graph seeded `seed` (the Estimator's `tf_random_seed`), so a
  seeded shuffle gives the batches the Estimator trains on. Returns
  (features, {'labels': labels}).
  """
  graph = tf.Graph()
  drawn = []
  with graph.as_default():
    tf.compat.v1.set_random_seed(seed)
    batch = tf.compat.v1.data.make_one_shot_iterator(input_fn()).get_next()
    with tf.compat.v1.Session(graph=graph) as session:
      while steps is None or len(drawn) < steps:
        try:
          drawn.append(session.run(batch))
        except tf.errors.OutOfRangeError:
          break
  features = _concatenate([f for f, _ in drawn])
  labels = np.concatenate([label for _, label in drawn])
  return features, {'labels': labels}


def _feature(values: np.ndarray) -> tf.train.Feature:
  values = np.ravel(values)
  if values.dtype.kind in 'USO':
    return tf.train.Feature(
        bytes_list=tf.train.BytesList(
            value=[v.encode() if isinstance(v, str) else v for v in values]
        )
    )
  if values.dtype.kind in 'iub':
    return tf.train.Feature(
        int64_list=tf.train.Int64List(value=values.astype(np.int64))
    )
  return tf.train.Feature(
      float_list=tf.train.FloatList(value=values.astype(np.float32))
  )


def serialized_examples(features: Arrays) -> tuple[bytes, ...]:
  """Each row of `features` as a serialized tf.Example, as a client sends it.

  Every feature of the row is in its tf.Example (values flattened), `''`
  (the data's NA, e.g. a penguin's unrecorded sex) included as a value, as
  many clients write a missing string: the estimator's parsing receiver
  looks it up in the vocabulary, and so must the export's `saved_model/`.
  """
  rows = len(next(iter(features.values())))
  out = []
  for i in range(rows):
    example = tf.train.Example()
    for key, column in sorted(features.items()):
      example.features.feature[key].CopyFrom(_feature(np.ravel(column[i])))
    out.append(example.SerializeToString())
  return tuple(out)


def export_estimator_saved_model(
    estimator: tf.estimator.Estimator, receiver_fn, target: str
) -> str:
  """`estimator.export_saved_model` with `receiver_fn`, moved to `target`.

  The estimator writes `<base>/<timestamp>/` (under a temporary name until
  complete); that directory becomes `target`, replacing an earlier one.
  """
  base = target + '.export'
  if tf.io.gfile.exists(base):
    tf.io.gfile.rmtree(base)
  written = estimator.export_saved_model(base, receiver_fn)
  if isinstance(written, bytes):
    written = written.decode()
  if tf.io.gfile.exists(target):
    tf.io.gfile.rmtree(target)
  tf.io.gfile.rename(written, target)
  tf.io.gfile.rmtree(base)
  return target


def parsing_receiver_fn(kwargs: Mapping[str, Any]):
  """The parsing receiver of a canned estimator's feature columns.

  `build_parsing_serving_input_receiver_fn(make_parse_example_spec(...))`:
  how Estimators are exported for TensorFlow Serving, and what the export's
  `saved_model/` takes without a `serving_input_receiver_fn`.
  """
  columns = [
      column
      for key in (
          'feature_columns',
          'linear_feature_columns',
          'dnn_feature_columns',
      )
      for column in kwargs.get(key) or ()
  ]
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(
      tf.compat.v1.feature_column.make_parse_example_spec(columns)
  )


def save_export(
    estimator: tf.estimator.Estimator,
    kwargs: Mapping[str, Any],
    directory: str,
    features: Arrays,
    batches: tuple[Arrays, Arrays],
    batch_size: int,
    *,
    estimator_saved_model: str | None = None,
) -> Pending:
  """Exports the trained v2 canned `estimator` and saves it in `directory`.

  Args:
    estimator: A v2 canned estimator with a checkpoint.
    kwargs: Its constructor kwargs.
    directory: A new directory for the export (with `saved_model/`).
    features: Test features, for prediction parity (and, as serialized
      tf.Examples, for serving parity).
    batches: (features, {'labels': labels}) the estimator continues on.
    batch_size: Examples per continuation batch.
    estimator_saved_model: Where the estimator writes its own SavedModel
      (the parsing receiver of its columns), for `prove_serving`; None:
      not written.
  """
  result = export.canned_to_keras(
      type(estimator), model_dir=estimator.model_dir, **kwargs
  )
  result.save(directory, saved_model=True)
  features = {k: _numpy(v) for k, v in features.items()}
  examples = ()
  if estimator_saved_model is not None:
    export_estimator_saved_model(
        estimator, parsing_receiver_fn(kwargs), estimator_saved_model
    )
    examples = serialized_examples(features)
  return Pending(
      estimator_saved_model=estimator_saved_model,
      examples=examples,
      directory=directory,
      features=features,
      expected=parity.estimator_predict(estimator, features),
      batches=batches,
      batch_size=batch_size,
      global_step=result.global_step or 0,
      weight_names=tuple(
          n for ns in result.spec.model.weights.values() for n in ns
      ),
  )


def save_model_fn_export(
    model_fn,
    model_dir: str,
    params: Mapping[str, Any],
    directory: str,
    features: Arrays,
    batches: tuple[Arrays, Arrays],
    batch_size: int,
    *,
    estimator: tf.estimator.Estimator,
    fit_export: tuple[Mapping[str, Any], str] | None = None,
    serving_input_receiver_fn=None,
    estimator_saved_model: str | None = None,
) -> Pending:
  """Exports a TF1 `model_fn`'s checkpoint and saves it in `directory`.

  Args:
    model_fn: The model_fn (module level).
    model_dir: Its estimator's model_dir, trained.
    params: Its params.
    directory: A new directory for the export (with `saved_model/`).
    features: Test features, for prediction parity.
    batches: (features, {'labels': labels}) the estimator continues on.
    batch_size: Examples per continuation batch.
    estimator: The estimator of `model_dir` (its predictions are recorded).
    fit_export: (params, directory): also export with these params (e.g.
      dropout 0, so that both sides train alike) into that directory, for
      `fit`.
    serving_input_receiver_fn: A parsing receiver: `saved_model/` serves the
      estimator's signatures through it, and (with `estimator_saved_model`)
      the estimator writes its own SavedModel with it, for `prove_serving`.
    estimator_saved_model: Where the estimator writes that SavedModel.
  """
  features = {k: _numpy(v) for k, v in features.items()}
  first = {k: v[:batch_size] for k, v in batches[0].items()}
  labels = batches[1]['labels'][:batch_size]

  def export_to(target, export_params, saved_model):
    result = export.model_fn_to_keras(
        model_fn,
        model_dir,
        features=first,
        params=export_params,
        labels=labels,
        serving_input_receiver_fn=(
            serving_input_receiver_fn if saved_model else None
        ),
    )
    result.save(target, saved_model=saved_model)
    return result

  result = export_to(directory, params, True)
  fit_directory = None
  if fit_export is not None:
    export_to(fit_export[1], fit_export[0], False)
    fit_directory = fit_export[1]
  (loss,) = result.spec.losses
  examples = ()
  if estimator_saved_model is not None:
    if serving_input_receiver_fn is None:
      raise errors.MigrationError(
          'estimator_saved_model is set without serving_input_receiver_fn=:'
          ' give the receiver the estimator is exported with.',
          argument=('estimator_saved_model', 'serving_input_receiver_fn'),
      )
    export_estimator_saved_model(
        estimator, serving_input_receiver_fn, estimator_saved_model
    )
    examples = serialized_examples(features)
  return Pending(
      estimator_saved_model=estimator_saved_model,
      examples=examples,
      directory=directory,
      features=features,
      expected=_predictions(estimator, features, result.spec.model.outputs),
      batches=batches,
      batch_size=batch_size,
      global_step=result.global_step or 0,
      weight_names=tuple(
          n for ns in result.spec.model.weights.values() for n in ns
      ),
      fit_directory=fit_directory,
      label_output=loss.output,
  )


def _predictions(estimator, features, keys) -> dict[str, np.ndarray]:
  """The estimator's predictions of `keys` (those it has) on `features`."""

  def input_fn():
    return tf.data.Dataset.from_tensor_slices(dict(features)).batch(64)

  rows = list(estimator.predict(input_fn, yield_single_examples=False))
  return {
      key: np.concatenate([r[key] for r in rows])
      for key in keys
      if key in rows[0]
  }


def prove(
    name: str,
    pending: Pending,
    estimator: tf.estimator.Estimator,
    tolerance: Tolerance = TOLERANCE,
) -> Result:
  """Predicts and trains on in the modern environment; compares.

  Args:
    name: The model's row name.
    pending: `save_export`'s (or `save_model_fn_export`'s) result.
    estimator: The estimator, since trained on `pending.batches` (as
      `pending.fit_directory`'s model, if given).
    tolerance: The bounds of its verdict.

  Raises:
    MigrationError: No modern environment, or it failed.
  """
  (actual,) = parity.modern_predict([(pending.directory, pending.features)])
  features, labels = pending.batches
  (fit,) = parity.modern_fit(
      [
          (
              pending.fit_directory or pending.directory,
              features,
              {pending.label_output: labels['labels']},
              pending.batch_size,
          )
      ]
  )
  reader = tf.train.load_checkpoint(estimator.model_dir)
  trained = {n: reader.get_tensor(n) for n in pending.weight_names}
  return Result(
      name=name,
      directory=pending.directory,
      parity=parity.compare(
          {
              **pending.expected,
              **{f'saved_model/{k}': v for k, v in pending.expected.items()},
          },
          actual,
      ),
      weights=differences.weight_difference(trained, fit.weights),
      losses=tuple(
          (pending.global_step + i, loss)
          for i, loss in enumerate(fit.losses, start=1)
      ),
      tolerance=tolerance,
  )


def prove_serving(
    proven: Sequence[tuple[Result, Pending]],
) -> list[Result]:
  """Serves each export's `saved_model/` beside its estimator's SavedModel.

  One modern subprocess for all (`serving_parity.compare_saved_models`):
  every signature of the estimator's SavedModel is called on both with the
  pending's serialized tf.Examples, and TensorFlow Serving's Classify /
  Regress / Predict requests are answered by both.

  Args:
    proven: (`prove`'s result, its pending) per model; a pending without
      `estimator_saved_model` keeps its result as it is.

  Returns:
    The results, in order, with `serving` set where compared.

  Raises:
    MigrationError: No modern environment (or no tensorflow-serving-api),
      or serving failed there.
  """
  jobs = [
      (
          pending.estimator_saved_model,
          os.path.join(pending.directory, serving.DIRECTORY),
          {'examples': pending.examples},
      )
      for _, pending in proven
      if pending.estimator_saved_model is not None
  ]
  compared = iter(serving_parity.compare_saved_models(jobs) if jobs else ())
  return [
      dataclasses.replace(
          result,
          serving=next(compared),
          served_examples=len(pending.examples),
      )
      if pending.estimator_saved_model is not None
      else result
      for result, pending in proven
  ]
