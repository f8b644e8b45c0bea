"""assignment.warm_start_model_fn: a TF1 model_fn carried into make_model_fn.

A TF1 model_fn (`tf.compat.v1.layers`) trains K steps. From its checkpoint
the reference, the TF1 estimator itself, continues M steps; the migrated
estimator (its Keras twin through `make_model_fn`, warm-started by
`warm_start_model_fn`) trains the same M batches. Every weight must agree
within the optimizer's measured tolerance and the step continue at K + M.
A start that carries the weights only (no slots) is the control: with Adam
it ends far outside the tolerance, so the slots are what the test proves.
"""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import assignment
from estimator_migrate.tables import optimizers
from estimator_migrate.tf2 import differences
from estimator_migrate.tf2 import model_fn

_K = 3  # steps before the migration
_M = 4  # steps after it, on both sides
_BATCH = 8
# Max |w_TF1 - w_migrated| after M steps, measured 0 (SGD), 6.0e-8
# (Adagrad), 2.1e-7 (Adam): float rounding, Keras' cross-entropy is not
# v1's. The bound is ~50 times the largest; without the slots Adam ends
# 0.21 apart.
_TOLERANCE = 1e-5
_V1 = {
    'adam': lambda: tf.compat.v1.train.AdamOptimizer(0.05),
    'adagrad': lambda: tf.compat.v1.train.AdagradOptimizer(0.1),
    'sgd': lambda: tf.compat.v1.train.GradientDescentOptimizer(0.1),
}


def _input_fn():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(_BATCH * (_K + _M), 5)).astype(np.float32)
  y = rng.integers(0, 3, size=(_BATCH * (_K + _M),))
  return tf.data.Dataset.from_tensor_slices(({'x': x}, y)).batch(_BATCH)


def _tf1_model_fn(features, labels, mode, params):
  with tf.compat.v1.variable_scope('model'):
    hidden = tf.compat.v1.layers.dense(features['x'], 4, tf.nn.relu)
    logits = tf.compat.v1.layers.dense(hidden, 3)
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = _V1[params['optimizer']]().minimize(
      loss, global_step=tf.compat.v1.train.get_or_create_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _build():
  x = tf.keras.Input((5,), name='x')
  hidden = tf.keras.layers.Dense(4, 'relu')(x)
  return tf.keras.Model(x, tf.keras.layers.Dense(3)(hidden))


def _migrated(model_dir, plan, warm_start):
  return tf.estimator.Estimator(
      model_fn.make_model_fn(
          lambda params: _build(),
          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
          optimizer=plan,
      ),
      model_dir=model_dir,
      warm_start_from=warm_start,
  )


def _weights(estimator, names):
  return {n: estimator.get_variable_value(n) for n in names}


class WarmStartTest(parameterized.TestCase):

  def _train_tf1(self, optimizer):
    root = self.create_tempdir().full_path
    config = tf.estimator.RunConfig(tf_random_seed=0)
    tf1 = tf.estimator.Estimator(
        _tf1_model_fn,
        model_dir=os.path.join(root, 'tf1'),
        config=config,
        params={'optimizer': optimizer},
    )
    tf1.train(lambda: _input_fn().take(_K))
    return root, tf1, tf.train.latest_checkpoint(tf1.model_dir)

  @parameterized.named_parameters(
      ('adam', 'adam', 2), ('adagrad', 'adagrad', 1), ('sgd', 'sgd', 0)
  )
  def test_continues_as_tf1(self, optimizer, slots):
    root, tf1, prefix = self._train_tf1(optimizer)
    plan = optimizers.plan_optimizer(_V1[optimizer]())
    start = assignment.warm_start_model_fn(prefix, _build, plan)
    self.assertTrue(start.mapping.complete, start.mapping.table())
    self.assertIn('global_step', start.variables)
    # Weights, each with its slots (2 kernels, 2 biases), and the step.
    self.assertLen(start.mapping.mapping, 4)
    self.assertLen(start.variables, 4 + 4 * slots + 1)

    migrated = _migrated(os.path.join(root, 'migrated'), plan, start.settings)
    later = lambda: _input_fn().skip(_K)  # noqa: E731
    migrated.train(later)
    tf1.train(later)
    self.assertEqual(migrated.get_variable_value('global_step'), _K + _M)
    gap = differences.weight_difference(
        _weights(tf1, start.mapping.mapping),
        {
            c: migrated.get_variable_value(m)
            for c, m in start.mapping.mapping.items()
        },
    )
    self.assertLessEqual(gap.absolute, _TOLERANCE)
    moved = differences.weight_difference(
        _weights(tf1, start.mapping.mapping),
        {
            c: tf.train.load_checkpoint(prefix).get_tensor(c)
            for c in start.mapping.mapping
        },
    )
    self.assertGreater(moved.absolute, 1e-3)  # training on moved them

  def test_without_slots_adam_diverges(self):
    root, tf1, prefix = self._train_tf1('adam')
    plan = optimizers.plan_optimizer(_V1['adam']())
    start = assignment.warm_start_model_fn(prefix, _build, plan)
    weights_only = {m: c for c, m in start.mapping.mapping.items()}
    migrated = _migrated(
        os.path.join(root, 'weights_only'),
        plan,
        tf.estimator.WarmStartSettings(
            prefix,
            vars_to_warm_start=list(weights_only),
            var_name_to_prev_var_name=weights_only,
        ),
    )
    later = lambda: _input_fn().skip(_K)  # noqa: E731
    migrated.train(later)
    tf1.train(later)
    gap = differences.weight_difference(
        _weights(tf1, start.mapping.mapping),
        {
            c: migrated.get_variable_value(m)
            for c, m in start.mapping.mapping.items()
        },
    )
    self.assertGreater(gap.absolute, 100 * _TOLERANCE)

  def test_another_model_names_the_unpaired(self):
    _, _, prefix = self._train_tf1('sgd')

    def other():
      x = tf.keras.Input((5,), name='x')
      return tf.keras.Model(x, tf.keras.layers.Dense(3)(x))

    plan = optimizers.plan_optimizer(_V1['sgd']())
    with self.assertRaisesRegex(
        errors.CheckpointError, r'checkpoint=.*model/dense_1/kernel'
    ):
      assignment.warm_start_model_fn(prefix, other, plan)


if __name__ == '__main__':
  absltest.main()
