"""Continuation: train v1, convert, resume in v2; compare with v1 continued.

The v1 estimator trains K steps and is converted; the translated v2 estimator
resumes from the converted checkpoint for M steps. Separately the v1
estimator continues M steps and is converted too. If conversion kept every
weight and slot, the two final checkpoints hold the same tensors: every one
of them (weights, slots, hyperparameters, counters) is compared.
"""

import dataclasses
import os

import tensorflow as tf

from estimator_migrate.checkpoints import convert
from estimator_migrate.tf2 import canned
from estimator_migrate.tf2 import differences
from tests import canned_harness


@dataclasses.dataclass(frozen=True)
class Continued:
  report: convert.ConversionReport
  resumed: dict  # v2 resumed from the conversion, M steps
  reference: dict  # v1 continued M steps, then converted

  def max_relative_difference(self) -> float:
    return differences.weight_difference(self.reference, self.resumed).relative


def read_all(model_dir: str) -> dict:
  reader = tf.train.load_checkpoint(model_dir)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def continue_both(
    root: str,
    estimator: str,
    v1_kwargs: dict,
    *,
    k: int = 4,
    m: int = 4,
    exact: bool = False,
    kind: str = 'Classifier',
    train_input_fn=None,
    **convert_kwargs,
) -> Continued:
  name = estimator + kind
  config = tf.estimator.RunConfig(tf_random_seed=0)
  train = train_input_fn or canned_harness.make_input_fn(
      kind, True, estimator != 'Baseline'
  )
  v1 = getattr(tf.compat.v1.estimator, name)(
      model_dir=os.path.join(root, 'v1'), config=config, **v1_kwargs
  )
  v1.train(train, steps=k)
  report = convert.convert_optimizer_checkpoint(
      v1.model_dir,
      os.path.join(root, 'v2', f'model.ckpt-{k}'),
      exact=exact,
      **convert_kwargs,
  )
  translation = canned.translate_canned_args(name, exact=exact, **v1_kwargs)
  v2 = getattr(tf.estimator, name)(
      model_dir=os.path.join(root, 'v2'), config=config, **translation.kwargs
  )
  v2.train(train, steps=m)
  v1.train(train, steps=m)
  convert.convert_optimizer_checkpoint(
      v1.model_dir,
      os.path.join(root, 'reference', f'model.ckpt-{k + m}'),
      exact=exact,
      **convert_kwargs,
  )
  resumed = read_all(v2.model_dir)
  reference = read_all(os.path.join(root, 'reference'))
  if set(resumed) != set(reference):
    raise AssertionError(
        f'v2 has {sorted(set(resumed) - set(reference))} extra,'
        f' {sorted(set(reference) - set(resumed))} missing'
    )
  return Continued(report, resumed, reference)
