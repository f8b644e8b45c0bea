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
estimator's after the same steps.

Example:
  pending = keras3_act.save_export(estimator, kwargs, '/tmp/k3', test,
                                   batches, 64)
  estimator.train(train_fn, steps=len(batches))   # the same batches
  result = keras3_act.prove(pending, estimator)
  print(result.problems())
"""

from collections.abc import Mapping
import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from estimator_migrate import export
from estimator_migrate.export import parity
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


@dataclasses.dataclass(frozen=True)
class Result:
  """Predictions right after the export; weights after training on."""

  name: str
  directory: str
  parity: parity.Parity  # per key; `saved_model/<key>` for the SavedModel
  weights: differences.Difference  # estimator vs Keras 3, continued
  losses: tuple[tuple[int, float], ...]  # Keras 3's (step, training loss)
  tolerance: Tolerance = TOLERANCE

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
    return out

  def row(self) -> tuple[str, ...]:
    return (
        self.name,
        f'{self.keras_parity:.2g}',
        f'{self.saved_model_parity:.2g}',
        f'{self.weights.absolute:.2g}',
        f'{self.tolerance.predictions:g} / {self.tolerance.weights:g}',
        'ok' if not self.problems() else 'DIVERGED',
    )


HEADER = (
    'model',
    'Keras 3 predictions vs estimator',
    'SavedModel vs estimator',
    'weights after training on',
    'limit (predictions / weights)',
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


def save_export(
    estimator: tf.estimator.Estimator,
    kwargs: Mapping[str, Any],
    directory: str,
    features: Arrays,
    batches: tuple[Arrays, Arrays],
    batch_size: int,
) -> Pending:
  """Exports the trained v2 canned `estimator` and saves it in `directory`.

  Args:
    estimator: A v2 canned estimator with a checkpoint.
    kwargs: Its constructor kwargs.
    directory: A new directory for the export (with `saved_model/`).
    features: Test features, for prediction parity.
    batches: (features, {'labels': labels}) the estimator continues on.
    batch_size: Examples per continuation batch.
  """
  result = export.canned_to_keras(
      type(estimator), model_dir=estimator.model_dir, **kwargs
  )
  result.save(directory, saved_model=True)
  features = {k: _numpy(v) for k, v in features.items()}
  return Pending(
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
    )
    result.save(target, saved_model=saved_model)
    return result

  result = export_to(directory, params, True)
  fit_directory = None
  if fit_export is not None:
    export_to(fit_export[1], fit_export[0], False)
    fit_directory = fit_export[1]
  (loss,) = result.spec.losses
  return Pending(
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
