"""Every translatable optimizer: v1 DNNClassifier vs its translated v2 twin.

Differences are max |w_v1 - w_v2| / max(|w_v2|, 1e-3) over all weights after
6 steps. Measured on TF 2.15.1, CPU, over tf_random_seed 0..7: SGD, Adadelta,
Ftrl 0; Adagrad 5.8e-6 (v1 rsqrt vs Keras 1/sqrt); Momentum 8.9e-6, Nesterov
6.8e-6 (Keras keeps -lr * the accumulator); Adam 7.7e-5 (Keras computes beta^t
with pow, v1 multiplies a variable every step); eval losses within 2.2e-7
relative. Keras RMSprop is not v1's (up to 80 relative, eval loss 2.5% off).
With exact=True every optimizer but Adam is bit-identical.
"""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from tests import canned_harness

_V1 = tf.compat.v1.train
_RTOL = {
    'sgd': 0.0,
    'momentum': 5e-5,
    'nesterov': 5e-5,
    'adam': 3e-4,
    'adagrad': 3e-5,
    'adadelta': 0.0,
    'ftrl': 0.0,
}
_OPTIMIZERS = {
    'sgd': lambda: _V1.GradientDescentOptimizer(0.1),
    'momentum': lambda: _V1.MomentumOptimizer(0.1, 0.9),
    'nesterov': lambda: _V1.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    'adam': lambda: _V1.AdamOptimizer(0.01),
    'adagrad': lambda: _V1.AdagradOptimizer(0.1),
    'adadelta': lambda: _V1.AdadeltaOptimizer(1.0),
    'ftrl': lambda: _V1.FtrlOptimizer(
        0.1,
        l1_regularization_strength=0.01,
        l2_regularization_strength=0.01,
        l2_shrinkage_regularization_strength=0.01,
        beta=0.1,
    ),
    'rmsprop': lambda: _V1.RMSPropOptimizer(0.01),
    'rmsprop_momentum': lambda: _V1.RMSPropOptimizer(0.01, momentum=0.5),
    'rmsprop_centered': lambda: _V1.RMSPropOptimizer(
        0.01, momentum=0.5, centered=True
    ),
}


def _train(test, name, exact):
  return canned_harness.train_both(
      test.create_tempdir().full_path,
      'DNN',
      'Classifier',
      dict(
          hidden_units=[4],
          feature_columns=canned_harness.dense_columns(),
          n_classes=canned_harness.N_CLASSES,
          optimizer=_OPTIMIZERS[name](),
      ),
      exact=exact,
  )


class TranslatedOptimizerTrainsLikeV1Test(parameterized.TestCase):

  @parameterized.named_parameters((name, name) for name in _RTOL)
  def test_same_weights_and_losses(self, name):
    result = _train(self, name, exact=False)
    self.assertTrue(result.translation.exact)
    self.assertLessEqual(
        result.max_relative_difference,
        _RTOL[name],
    )
    for key in ('average_loss', 'loss'):
      self.assertAlmostEqual(
          result.v1_metrics[key],
          result.v2_metrics[key],
          delta=1e-5 * abs(result.v1_metrics[key]),
      )

  @parameterized.named_parameters(
      ('plain', 'rmsprop'),
      ('momentum', 'rmsprop_momentum'),
      ('centered', 'rmsprop_centered'),
  )
  def test_keras_rmsprop_differs_and_is_reported(self, name):
    result = _train(self, name, exact=False)
    self.assertFalse(result.translation.exact)
    self.assertGreater(
        result.max_relative_difference,
        1e-3,
    )

  @parameterized.named_parameters(
      (name, name)
      for name in (
          'rmsprop',
          'rmsprop_momentum',
          'rmsprop_centered',
          'momentum',
          'nesterov',
          'adagrad',
      )
  )
  def test_exact_compat_optimizers_are_bit_identical(self, name):
    result = _train(self, name, exact=True)
    self.assertTrue(result.translation.exact)
    self.assertEqual(
        result.max_relative_difference,
        0.0,
    )
    self.assertEqual(
        result.v1_metrics['average_loss'], result.v2_metrics['average_loss']
    )


if __name__ == '__main__':
  absltest.main()
