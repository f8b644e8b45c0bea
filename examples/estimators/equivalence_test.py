"""The v2 estimator under train_and_evaluate matches the v1 train/evaluate."""

import os

from absl.testing import absltest
import tensorflow as tf

from examples.estimators import after
from examples.estimators import before
from tests import testing

# Adagrad: v1 rsqrt vs Keras 1/sqrt rounding; measured in examples/README.md.
TOLERANCE = 1e-5


class EquivalenceTest(absltest.TestCase):

  def test_same_eval_metrics_from_the_same_start(self):
    tf.get_logger().setLevel('ERROR')
    root = self.create_tempdir().full_path
    data_dir = testing.tfds_dir()
    init = os.path.join(root, 'init')
    before.run(init, 1, data_dir=data_dir, learning_rate=0.0)
    old = before.run(
        os.path.join(root, 'v1'), 20, warm_start_from=init, data_dir=data_dir
    )
    new = after.run(
        os.path.join(root, 'v2'), 20, warm_start_from=init, data_dir=data_dir
    )
    for key in ('accuracy', 'average_loss', 'loss'):
      self.assertAlmostEqual(
          new[key], old[key], delta=TOLERANCE * max(1.0, abs(old[key])), msg=key
      )
    self.assertEqual(new['global_step'], 20)


if __name__ == '__main__':
  absltest.main()
