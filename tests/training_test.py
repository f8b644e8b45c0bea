"""Tests of the guide's three TF2 training loops."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.guide import data
from estimator_migrate.guide import models
from estimator_migrate.guide import training
from tests import testing

# The three loops run the same float32 ops in the same order; what is left is
# reduction order inside kernels.
EQUIVALENCE_RTOL = 1e-5
EQUIVALENCE_ATOL = 1e-6


def _datasets(batch_size=32, shuffle_buffer=0):
  train = data.load(
      split='train',
      data_dir=testing.tfds_dir(),
      batch_size=batch_size,
      shuffle_buffer=shuffle_buffer,
      seed=0,
  )
  test = data.load(split='test', data_dir=testing.tfds_dir(), shuffle_buffer=0)
  return train, test


def _sgd():
  return tf.keras.optimizers.SGD(learning_rate=0.05)


class LoopsLearnTest(parameterized.TestCase):

  @parameterized.parameters(*training.LOOPS)
  def test_learns_the_embedded_digits(self, loop):
    tf.keras.utils.set_random_seed(1)
    train, test = _datasets(shuffle_buffer=2048)
    result = training.train(
        models.build_cnn(seed=1), train, test, loop=loop, epochs=3
    )
    # Chance is 0.10. Measured after 3 epochs (Adam 1e-3, batch 32, seeds 1 to
    # 3, every loop): 0.897 to 0.925 test accuracy; the bound leaves a margin.
    self.assertGreater(result.final.test_accuracy, 0.75)
    self.assertLess(result.final.loss, result.epochs[0].loss)
    self.assertLen(result.epochs, 3)


class LoopsAreTheSameTrainingTest(tf.test.TestCase):

  def test_same_weights_from_same_start_and_batches(self):
    train, test = _datasets()
    initial = models.build_cnn(seed=7, dropout_rate=0.0).get_weights()
    final = {}
    for loop in training.LOOPS:
      model = models.build_cnn(seed=7, dropout_rate=0.0)
      model.set_weights(initial)
      training.train(
          model,
          train,
          test,
          loop=loop,
          epochs=2,
          steps_per_epoch=10,
          make_optimizer=_sgd,
      )
      # get_weights() includes BatchNorm's moving mean and variance.
      final[loop] = model.get_weights()
    self.assertFalse(np.allclose(final['fit'][0], initial[0]))
    for loop in ('train_on_batch', 'custom'):
      for got, want in zip(final[loop], final['fit'], strict=True):
        self.assertAllClose(
            got, want, rtol=EQUIVALENCE_RTOL, atol=EQUIVALENCE_ATOL
        )


class CustomLoopRegularizationTest(tf.test.TestCase):

  def test_l2_gradient_is_in_the_custom_step(self):
    # With identical weights the forward pass, and so the prediction-loss
    # gradient, does not depend on the l2 factor. After one SGD step the two
    # conv kernels therefore differ by exactly the l2 term's step:
    # -lr * d(l2 * sum(k^2))/dk = -lr * 2 * l2 * k0.
    lr, l2 = 0.05, 0.5
    train, test = _datasets()
    one_batch = train.take(1)
    kernels = {}
    for factor in (0.0, l2):
      model = models.build_cnn(seed=3, dropout_rate=0.0, l2=factor)
      kernel0 = model.layers[0].kernel.numpy()
      training.train(
          model,
          one_batch,
          test.take(1),
          loop='custom',
          make_optimizer=lambda: tf.keras.optimizers.SGD(lr),
      )
      kernels[factor] = model.layers[0].kernel.numpy()
    self.assertAllClose(
        kernels[l2] - kernels[0.0],
        -lr * 2 * l2 * kernel0,
        rtol=1e-4,
        atol=1e-6,
    )

  def test_regularization_loss_sums_model_losses(self):
    model = models.build_cnn(seed=3, l2=0.02)
    kernel = model.layers[0].kernel.numpy()
    self.assertAllClose(
        training.regularization_loss(model), 0.02 * np.sum(kernel**2)
    )


if __name__ == '__main__':
  absltest.main()
