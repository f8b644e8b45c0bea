"""Training continues after conversion as if never interrupted.

Tolerances are max |a - b| / max(|b|, 1e-3) over every tensor after 4 + 4
steps; measured figures in the README ("Checkpoint conversion").
"""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from tests import canned_harness
from tests import checkpoint_harness
from tests import conversion_paths

_V1 = tf.compat.v1.train
_OPTIMIZERS = {
    'sgd': (lambda: _V1.GradientDescentOptimizer(0.1), 0.0),
    'momentum': (lambda: _V1.MomentumOptimizer(0.1, 0.9), 5e-5),
    'nesterov': (
        lambda: _V1.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        5e-5,
    ),
    'adam': (lambda: _V1.AdamOptimizer(0.01, beta1=0.8), 3e-4),
    'adagrad': (lambda: _V1.AdagradOptimizer(0.1), 3e-5),
    'adadelta': (lambda: _V1.AdadeltaOptimizer(1.0), 0.0),
    # With momentum > 0 Keras RMSprop runs v1's kernel; after conversion the
    # slots are v1's, so it continues exactly.
    'rmsprop_momentum': (lambda: _V1.RMSPropOptimizer(0.01, momentum=0.5), 0.0),
    'rmsprop_centered': (
        lambda: _V1.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
        0.0,
    ),
    'ftrl': (
        lambda: _V1.FtrlOptimizer(
            0.1,
            l1_regularization_strength=0.01,
            l2_regularization_strength=0.01,
            l2_shrinkage_regularization_strength=0.01,
            beta=0.1,
        ),
        0.0,
    ),
}
_EXACT = {
    'rmsprop': lambda: _V1.RMSPropOptimizer(0.01),
    'momentum': lambda: _V1.MomentumOptimizer(0.1, 0.9),
    'adagrad': lambda: _V1.AdagradOptimizer(0.1),
    'rmsprop_centered': lambda: _V1.RMSPropOptimizer(0.01, centered=True),
}


def _dnn(optimizer, **extra):
  return canned_harness.dnn_kwargs(optimizer, hidden_units=(4,), **extra)


class ContinuationTest(parameterized.TestCase):

  @parameterized.named_parameters(
      conversion_paths.over_paths((n, n) for n in _OPTIMIZERS)
  )
  def test_dnn_optimizer(self, name, path):
    make, rtol = _OPTIMIZERS[name]
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path, 'DNN', _dnn(make()), path=path
    )
    self.assertEqual(result.report.path, path)
    self.assertLessEqual(result.max_relative_difference(), rtol)

  @parameterized.named_parameters(
      conversion_paths.over_paths((n, n) for n in _EXACT)
  )
  def test_dnn_exact_compat_is_bit_identical(self, name, path):
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'DNN',
        _dnn(_EXACT[name]()),
        exact=True,
        path=path,
    )
    self.assertEqual(result.max_relative_difference(), 0.0)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_keras_rmsprop_without_momentum_is_flagged_but_close(self, path):
    # Keras divides by sqrt(ms) + eps where v1 divides by sqrt(ms + eps).
    # The converted ms slot is v1's (not Keras' zeros), and eps = 1e-10 is
    # small beside it: measured 2.2e-7 after 4 steps. The report still says
    # "not exact", since a tiny ms (rare sparse features) widens the gap.
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'DNN',
        _dnn(_V1.RMSPropOptimizer(0.01)),
        path=path,
    )
    self.assertFalse(result.report.exact['dnn'])
    self.assertLessEqual(result.max_relative_difference(), 1e-5)

  @parameterized.named_parameters(
      conversion_paths.over_paths(
          (('classifier', 'Classifier'), ('regressor', 'Regressor'))
      )
  )
  def test_linear_default_ftrl(self, kind, path):
    kwargs = dict(
        feature_columns=canned_harness.dense_columns()
        + canned_harness.sparse_columns()
    )
    if kind == 'Classifier':
      kwargs['n_classes'] = canned_harness.N_CLASSES
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'Linear',
        kwargs,
        kind=kind,
        path=path,
    )
    self.assertEqual(result.report.estimator_type, 'linear')
    self.assertEqual(result.max_relative_difference(), 0.0)

  @parameterized.named_parameters(
      conversion_paths.over_paths(
          (
              ('different', _V1.AdagradOptimizer, 3e-5),
              ('identical', _V1.FtrlOptimizer, 0.0),
          )
      )
  )
  def test_combined(self, dnn_optimizer, rtol, path):
    kwargs = dict(
        dnn_hidden_units=[4],
        dnn_feature_columns=canned_harness.embedding_columns(),
        linear_feature_columns=canned_harness.sparse_columns()
        + canned_harness.dense_columns(),
        n_classes=canned_harness.N_CLASSES,
        dnn_optimizer=dnn_optimizer(0.05),
        linear_optimizer=_V1.FtrlOptimizer(
            0.1, l1_regularization_strength=0.01
        ),
    )
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path, 'DNNLinearCombined', kwargs, path=path
    )
    self.assertEqual(result.report.estimator_type, 'dnn_linear_combined')
    self.assertLessEqual(result.max_relative_difference(), rtol)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_partitioned_embedding_sliced_small_chunks(self, path):
    kwargs = _dnn(_V1.AdamOptimizer(0.01))
    kwargs['feature_columns'] = canned_harness.embedding_columns()
    kwargs['input_layer_partitioner'] = (
        tf.compat.v1.min_max_variable_partitioner(
            max_partitions=2, min_slice_size=16
        )
    )
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'DNN',
        kwargs,
        chunk_bytes=8,
        path=path,
    )
    self.assertLessEqual(result.max_relative_difference(), 3e-4)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_adam_past_1000_steps(self, path):
    # beta1_power = 0.9^t underflows float32 near t = 829 in v1; betas and
    # the step come from the graph and global_step, never from the powers.
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'DNN',
        _dnn(_V1.AdamOptimizer(0.001, beta1=0.9)),
        k=1001,
        m=4,
        path=path,
    )
    self.assertEqual(int(result.resumed['global_step']), 1005)
    self.assertAlmostEqual(
        float(result.resumed['training/Adam/beta_1']), 0.9, places=6
    )
    self.assertLessEqual(result.max_relative_difference(), 3e-4)


if __name__ == '__main__':
  absltest.main()
