"""Small fixed data and a one-call comparison for the canned-migration tests."""

import numpy as np
import tensorflow as tf

from estimator_migrate.tf2 import side_by_side

_N_EXAMPLES = 48
_BATCH = 16
N_CLASSES = 3
DENSE_DIM = 3
_VOCAB = ('a', 'b', 'c', 'd')


def features_and_labels(kind: str, categorical: bool = True):
  rng = np.random.RandomState(0)
  features = {
      'x': rng.uniform(-1, 1, (_N_EXAMPLES, DENSE_DIM)).astype(np.float32),
      'cat': rng.choice(_VOCAB, (_N_EXAMPLES, 1)),
  }
  if not categorical:
    del features['cat']
  if kind == 'Regressor':
    labels = rng.normal(size=(_N_EXAMPLES, 1)).astype(np.float32)
  else:
    labels = rng.randint(0, N_CLASSES, (_N_EXAMPLES, 1)).astype(np.int64)
  return features, labels


def make_input_fn(kind: str, repeat: bool, categorical: bool = True):
  features, labels = features_and_labels(kind, categorical)

  def input_fn():
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    dataset = dataset.batch(_BATCH)
    return dataset.repeat() if repeat else dataset

  return input_fn


def dense_columns():
  return [tf.feature_column.numeric_column('x', shape=[DENSE_DIM])]


def sparse_columns():
  return [
      tf.feature_column.categorical_column_with_vocabulary_list('cat', _VOCAB)
  ]


def embedding_columns():
  return [tf.feature_column.embedding_column(sparse_columns()[0], dimension=2)]


def dnn_kwargs(optimizer, hidden_units=(4,), **extra) -> dict:
  """v1 DNNClassifier arguments on the fixed dense feature."""
  return dict(
      hidden_units=list(hidden_units),
      feature_columns=dense_columns(),
      n_classes=N_CLASSES,
      optimizer=optimizer,
      **extra,
  )


def train_both(
    root: str,
    estimator: str,
    kind: str,
    v1_kwargs: dict,
    *,
    steps: int = 6,
    exact: bool = False,
    categorical: bool = True,
    seed: int = 0,
) -> side_by_side.SideBySide:
  """`train_side_by_side` on the fixed data.

  `categorical=False` leaves the string feature out of the input: v2
  Baseline estimators fail on it ("iterator has not been initialized").
  """
  return side_by_side.train_side_by_side(
      estimator + kind,
      v1_kwargs,
      train_input_fn=make_input_fn(kind, True, categorical),
      eval_input_fn=make_input_fn(kind, False, categorical),
      steps=steps,
      model_dir=root,
      exact=exact,
      seed=seed,
  )
