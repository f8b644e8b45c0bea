"""Tests of the embedded UCI digits data set and its TFDS builder."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from estimator_migrate.guide import uci_digits
from tests import testing


class ToMnistLayoutTest(absltest.TestCase):

  def test_blocks_border_and_scale(self):
    scan = np.arange(64, dtype=np.uint8).reshape(8, 8) % 17
    image = uci_digits.to_mnist_layout(scan)
    self.assertEqual(image.shape, (28, 28, 1))
    self.assertEqual(image.dtype, np.uint8)
    # A 2-pixel zero border, then each scan pixel is a 3x3 block.
    self.assertEqual(int(image[:2].max()), 0)
    self.assertEqual(int(image[:, -2:].max()), 0)
    for row, col in [(0, 0), (3, 5), (7, 7)]:
      block = image[2 + 3 * row : 5 + 3 * row, 2 + 3 * col : 5 + 3 * col, 0]
      np.testing.assert_array_equal(block, scan[row, col] * 255 // 16)

  def test_full_count_is_white(self):
    image = uci_digits.to_mnist_layout(np.full((8, 8), 16, np.uint8))
    self.assertEqual(int(image[2:26, 2:26].min()), 255)


class UciDigitsBuilderTest(absltest.TestCase):

  def test_stored_scans_are_the_uci_set(self):
    images, labels = uci_digits.read_scans()
    self.assertEqual(images.shape, (1797, 8, 8))
    self.assertEqual(int(images.max()), 16)
    self.assertEqual(sorted(set(labels.tolist())), list(range(10)))

  def test_tfds_load_works_offline_like_mnist(self):
    train, test = tfds.load(
        uci_digits.NAME,
        split=['train', 'test'],
        as_supervised=True,
        data_dir=testing.tfds_dir(),
    )
    self.assertEqual(
        train.element_spec,
        (
            tf.TensorSpec((28, 28, 1), tf.uint8),
            tf.TensorSpec((), tf.int64),
        ),
    )
    self.assertEqual(int(train.cardinality()), uci_digits.TRAIN_SIZE)
    self.assertEqual(int(test.cardinality()), 1797 - uci_digits.TRAIN_SIZE)

  def test_examples_are_the_converted_scans(self):
    images, labels = uci_digits.read_scans()
    test = tfds.load(
        uci_digits.NAME,
        split='test',
        data_dir=testing.tfds_dir(),
        shuffle_files=False,
    )
    seen = {}
    for example in tfds.as_numpy(test):
      seen[example['image'].tobytes()] = int(example['label'])
    for index in (uci_digits.TRAIN_SIZE, 1796):
      image = uci_digits.to_mnist_layout(images[index])
      self.assertEqual(seen.get(image.tobytes()), int(labels[index]))


if __name__ == '__main__':
  absltest.main()
