"""Prediction parity: the estimator in TF 2.15, its export in the modern env.

`modern_predict` loads exported directories with their own `model.py` in
the modern environment (one subprocess for many directories: each start
pays current TensorFlow's import time) and returns their predictions;
`estimator_predict` gives the estimator's; `compare` measures the gap.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import report as report_lib
from estimator_migrate.export import modern

# The numeric keys compared here; classifiers' string keys (`classes`,
# `all_classes`) and `all_class_ids` are compared through saved_model/
# (tests/export_serving_test.py).
KEYS = ('logits', 'logistic', 'probabilities', 'class_ids', 'predictions')


@dataclasses.dataclass(frozen=True)
class Parity:
  """Largest absolute difference per prediction key."""

  max_abs_diff: Mapping[str, float]

  @property
  def max(self) -> float:
    return max(self.max_abs_diff.values())

  def table(self) -> str:
    return report_lib.markdown_table(
        ('prediction key', 'max |estimator - Keras 3|'),
        [(k, f'{v:.3g}') for k, v in sorted(self.max_abs_diff.items())],
    )


def modern_predict(
    jobs: Sequence[tuple[str, Mapping[str, np.ndarray]]],
) -> list[dict[str, np.ndarray]]:
  """Predictions of each exported directory on its features, in one process.

  Where the directory holds `saved_model/`, its `serving_default`
  predictions are added under `saved_model/<key>`.

  Raises:
    MigrationError: No modern environment, or loading/predicting failed.
  """
  return modern.run_jobs(
      'predict.py',
      [
          (os.path.abspath(directory), features, modern.OUTPUT)
          for directory, features in jobs
      ],
  )


def estimator_predict(
    estimator: tf.estimator.Estimator, features: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
  """The estimator's numeric prediction keys on `features`, stacked."""

  def input_fn():
    return tf.data.Dataset.from_tensor_slices(dict(features)).batch(64)

  rows = list(estimator.predict(input_fn, yield_single_examples=False))
  return {
      key: np.concatenate([r[key] for r in rows])
      for key in rows[0]
      if key in KEYS
  }


def compare(
    expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]
) -> Parity:
  """Max |difference| per key of `expected`.

  Raises:
    MigrationError: A key missing from `actual`, or shapes differ.
  """
  diffs = {}
  for key, want in expected.items():
    if key not in actual:
      raise errors.MigrationError(
          f'the export does not predict {key!r}; it gives {sorted(actual)}.'
      )
    got = np.asarray(actual[key])
    want = np.asarray(want)
    if got.shape != want.shape:
      raise errors.MigrationError(
          f'prediction {key!r}: the export gives shape {got.shape}, the'
          f' estimator {want.shape}.'
      )
    diffs[key] = float(
        np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
    )
  return Parity(diffs)


@dataclasses.dataclass(frozen=True)
class Fit:
  """An export after `fit` in the modern environment."""

  weights: Mapping[str, np.ndarray]  # by checkpoint name
  losses: tuple[float, ...]  # each batch's loss before its step, in order
  reported_loss: float  # the epoch's loss as `fit` reports it


def modern_fit(
    jobs: Sequence[
        tuple[str, Mapping[str, np.ndarray], Mapping[str, np.ndarray], int]
    ],
    *,
    record_losses: bool = True,
) -> list[Fit]:
  """Trains each export on (features, labels) in the modern environment.

  Each job is (directory, features, labels keyed by the loss output, batch
  size): `load(directory, compile=True)` then one epoch of `fit` with
  `shuffle=False`. Returns each model's variables by checkpoint name and
  its loss on each batch, computed before the batch's step (inference
  mode: the training loss for a model without dropout; `record_losses=False`
  skips them, leaving `losses` empty) and the loss `fit` reports.

  Raises:
    MigrationError: No modern environment, or training failed.
  """
  replies = modern.run_jobs(
      'fit.py',
      [
          (os.path.abspath(directory), features, labels, batch, modern.OUTPUT)
          for directory, features, labels, batch in jobs
      ],
      json.dumps(record_losses),
  )
  return [
      Fit(weights, tuple(losses), reported)
      for weights, losses, reported in replies
  ]


def modern_continue(
    jobs: Sequence[
        tuple[str, Mapping[str, np.ndarray], Mapping[str, np.ndarray], int]
    ],
) -> list[dict[str, np.ndarray]]:
  """`modern_fit`'s weights only: each model's variables by checkpoint name."""
  return [dict(fit.weights) for fit in modern_fit(jobs, record_losses=False)]
