"""Trains a v1 canned estimator and its translated v2 twin from one start.

Both are warm-started from the same initial checkpoint (Baseline estimators
start from zeros), trained the same steps on the same input, and evaluated on
the same data, so any difference in their weights or metrics comes from the
translation alone.

Example:
  result = side_by_side.train_side_by_side(
      'DNNClassifier', dict(hidden_units=[32], feature_columns=columns),
      train_input_fn=train_fn, eval_input_fn=eval_fn, steps=100,
      model_dir='/tmp/compare')
  print(result.translation.table(), result.summary())
"""

from collections.abc import Callable, Mapping
import dataclasses
import inspect
import os
import time
from typing import Any

import numpy as np
import tensorflow as tf

from estimator_migrate.tables import estimators
from estimator_migrate.tf2 import canned
from estimator_migrate.tf2 import differences

InputFn = Callable[[], tf.data.Dataset]


@dataclasses.dataclass(frozen=True)
class SideBySide:
  """Weights and metrics of a v1 estimator and its translated v2 twin."""

  translation: canned.Translation
  v1_metrics: Mapping[str, float]
  v2_metrics: Mapping[str, float]
  v1_weights: Mapping[str, np.ndarray]
  v2_weights: Mapping[str, np.ndarray]
  v1_seconds: float
  v2_seconds: float
  v1_dir: str
  v2_dir: str

  @property
  def difference(self) -> differences.Difference:
    """v1's weights against v2's (relative to v2's)."""
    return differences.weight_difference(self.v2_weights, self.v1_weights)

  @property
  def max_abs_difference(self) -> float:
    return self.difference.absolute

  @property
  def max_relative_difference(self) -> float:
    """Max |w1 - w2| / max(|w2|, 1e-3): relative, but not blown up near 0."""
    return self.difference.relative

  def summary(self) -> str:
    rows = [f'{"metric":<16}{"v1":>14}{"v2 (translated)":>18}']
    for key in sorted(set(self.v1_metrics) & set(self.v2_metrics)):
      if key == 'global_step':
        continue
      rows.append(
          f'{key:<16}{self.v1_metrics[key]:>14.6f}'
          f'{self.v2_metrics[key]:>18.6f}'
      )
    rows.append(
        f'{"train seconds":<16}{self.v1_seconds:>14.2f}'
        f'{self.v2_seconds:>18.2f}'
    )
    rows.append(
        f'max weight difference: {self.max_abs_difference:.3g} abs,'
        f' {self.max_relative_difference:.3g} relative'
    )
    return '\n'.join(rows)


def model_variables(v1_dir: str, v2_dir: str) -> tuple[dict, dict]:
  """The model weights of both checkpoints, keyed by the v2 names.

  v2 keeps optimizer state under `training/`; everything else but the global
  step is a model variable, stored under the same name by v1 (a partitioned
  v1 variable reads back whole).
  """
  v1 = tf.train.load_checkpoint(v1_dir)
  v2 = tf.train.load_checkpoint(v2_dir)
  names = [
      name
      for name in v2.get_variable_to_shape_map()
      if not name.startswith('training/') and name != 'global_step'
  ]
  return (
      {n: v1.get_tensor(n) for n in names},
      {n: v2.get_tensor(n) for n in names},
  )


def train_side_by_side(
    estimator: Any,
    v1_kwargs: Mapping[str, Any],
    *,
    train_input_fn: InputFn,
    eval_input_fn: InputFn,
    steps: int,
    model_dir: str,
    exact: bool = False,
    seed: int = 0,
) -> SideBySide:
  """Trains v1 `estimator` and its translation; see the module docstring.

  Args:
    estimator: Canned estimator name or class, as `translate_canned_args`.
    v1_kwargs: The v1 constructor arguments (no model_dir, config or
      warm_start_from: those are set here).
    train_input_fn: Training input; the same batches feed both sides.
    eval_input_fn: Evaluation input.
    steps: Training steps of each side.
    model_dir: Parent directory of `init/`, `v1/` and `v2/`.
    exact: Passed to the translation.
    seed: `tf_random_seed` of both sides (the initial weights).

  Returns:
    Both sides' metrics, weights and timings, and the translation.
  """
  row = estimators.lookup(estimator)
  v1_class = getattr(tf.compat.v1.estimator, row.name)
  start = {'config': tf.estimator.RunConfig(tf_random_seed=seed)}
  if 'warm_start_from' in inspect.signature(v1_class).parameters:
    start['warm_start_from'] = os.path.join(model_dir, 'init')
    # One step at learning rate 0 writes the initial weights unchanged.
    init_kwargs = dict(v1_kwargs)
    for arg in row.family.optimizer_args:
      init_kwargs[arg.name] = tf.compat.v1.train.GradientDescentOptimizer(0.0)
    v1_class(
        model_dir=start['warm_start_from'],
        config=start['config'],
        **init_kwargs,
    ).train(train_input_fn, steps=1)
  translation = canned.translate_canned_args(row.name, exact=exact, **v1_kwargs)
  sides = (
      v1_class(model_dir=os.path.join(model_dir, 'v1'), **start, **v1_kwargs),
      getattr(tf.estimator, row.name)(
          model_dir=os.path.join(model_dir, 'v2'),
          **start,
          **translation.kwargs,
      ),
  )
  seconds, metrics = [], []
  for side in sides:
    began = time.perf_counter()
    side.train(train_input_fn, steps=steps)
    seconds.append(time.perf_counter() - began)
    metrics.append(
        {k: float(v) for k, v in side.evaluate(eval_input_fn).items()}
    )
  v1_weights, v2_weights = model_variables(
      sides[0].model_dir, sides[1].model_dir
  )
  return SideBySide(
      translation,
      metrics[0],
      metrics[1],
      v1_weights,
      v2_weights,
      seconds[0],
      seconds[1],
      sides[0].model_dir,
      sides[1].model_dir,
  )
