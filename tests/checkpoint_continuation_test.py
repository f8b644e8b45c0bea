"""Training continues after conversion as if never interrupted.

Tolerances are max |a - b| / max(|b|, 1e-3) over every tensor after 4 + 4
steps; the optimizer cases and their measured tolerances are
tests/tolerances.py's, shared with canned_optimizers_test.
"""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from tests import canned_harness
from tests import checkpoint_harness
from tests import conversion_paths
from tests import tolerances

_V1 = tf.compat.v1.train
_CASES = tolerances.OPTIMIZERS


def _dnn(optimizer, **extra):
  return canned_harness.dnn_kwargs(optimizer, hidden_units=(4,), **extra)


class ContinuationTest(parameterized.TestCase):

  @parameterized.named_parameters(
      conversion_paths.over_paths(tolerances.named(lambda c: True))
  )
  def test_dnn_optimizer(self, name, path):
    case = _CASES[name]
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path, 'DNN', _dnn(case.make()), path=path
    )
    self.assertEqual(result.report.path, path)
    self.assertLessEqual(result.max_relative_difference(), case.continued)
    # Keras RMSprop is reported inexact even where it continues closely:
    # a tiny ms (rare sparse features) widens the gap.
    self.assertEqual(result.report.exact['dnn'], case.translated is not None)

  @parameterized.named_parameters(
      conversion_paths.over_paths(tolerances.named(lambda c: c.compat))
  )
  def test_dnn_exact_compat_is_bit_identical(self, name, path):
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path,
        'DNN',
        _dnn(_CASES[name].make()),
        exact=True,
        path=path,
    )
    self.assertEqual(result.max_relative_difference(), 0.0)

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
              ('different', _V1.AdagradOptimizer, _CASES['adagrad'].continued),
              ('identical', _V1.FtrlOptimizer, _CASES['ftrl'].continued),
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
    self.assertLessEqual(
        result.max_relative_difference(), _CASES['adam'].continued
    )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_centered_rmsprop_read_from_the_graph_when_all_partitioned(
      self, path
  ):
    # Every variable of the linear part is partitioned, so every slot is
    # stored as several keys; centered is read from the graph's
    # ApplyCenteredRMSProp ops, not from counting slot keys (which read
    # this as non-centered). 4 classes: v1 packs the bias partitions, which
    # must then be of equal size.
    kwargs = dict(
        feature_columns=canned_harness.sparse_columns(),
        n_classes=4,
        partitioner=tf.compat.v1.fixed_size_partitioner(2),
        optimizer=_CASES['rmsprop_centered'].make(),
    )
    result = checkpoint_harness.continue_both(
        self.create_tempdir().full_path, 'Linear', kwargs, path=path
    )
    self.assertTrue(
        any(n.endswith('/mg') for n in result.resumed), list(result.resumed)
    )
    self.assertLessEqual(
        result.max_relative_difference(), _CASES['rmsprop_centered'].continued
    )

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
    self.assertLessEqual(
        result.max_relative_difference(), _CASES['adam'].continued
    )


if __name__ == '__main__':
  absltest.main()
