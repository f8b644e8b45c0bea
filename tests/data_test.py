"""Tests of estimator_migrate.guide.data."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.guide import data
from tests import testing


class LoadTest(tf.test.TestCase, parameterized.TestCase):

  def test_batches_are_scaled_images_and_labels(self):
    dataset = data.load(
        split='test', data_dir=testing.tfds_dir(), batch_size=16
    )
    images, labels = next(iter(dataset))
    self.assertEqual(images.shape, (16, 28, 28, 1))
    self.assertEqual(images.dtype, tf.float32)
    self.assertEqual(labels.dtype, tf.int64)
    self.assertEqual(float(tf.reduce_min(images)), 0.0)
    self.assertBetween(float(tf.reduce_max(images)), 0.5, 1.0)

  def test_no_shuffle_repeats_the_same_batches(self):
    def first_labels():
      dataset = data.load(
          split='train', data_dir=testing.tfds_dir(), shuffle_buffer=0
      )
      return next(iter(dataset))[1].numpy()

    np.testing.assert_array_equal(first_labels(), first_labels())

  def test_seeded_shuffle_is_reproducible_and_shuffles(self):
    def first_labels(seed):
      dataset = data.load(split='train', data_dir=testing.tfds_dir(), seed=seed)
      return next(iter(dataset))[1].numpy()

    np.testing.assert_array_equal(first_labels(3), first_labels(3))
    self.assertFalse(np.array_equal(first_labels(3), first_labels(4)))

  def test_unknown_dataset_is_named(self):
    with self.assertRaisesRegex(errors.DataError, 'no_such_set.*uci_digits'):
      data.load('no_such_set', data_dir=testing.tfds_dir())

  def test_unprepared_dataset_says_how_to_prepare_it(self):
    empty = self.create_tempdir().full_path
    with self.assertRaisesRegex(
        errors.DataError, r"'mnist' is not prepared.*tfds build mnist"
    ):
      data.load('mnist', data_dir=empty)

  @parameterized.named_parameters(
      ('unknown_dataset', 'no_such_set', None, r"^dataset='no_such_set' is"),
      ('missing_data_dir', 'uci_digits', '/no/such/dir', r'^data_dir=/no/'),
      (
          'unprepared',
          'mnist',
          'EMPTY',
          r"pass data_dir=DIR, or use dataset='uci_digits'",
      ),
  )
  def test_errors_name_arguments_not_flags(self, name, data_dir, says):
    if data_dir == 'EMPTY':
      data_dir = self.create_tempdir().full_path
    with self.assertRaisesRegex(errors.DataError, says) as raised:
      data.info(name, data_dir=data_dir or testing.tfds_dir())
    # Only the `tfds build` command it suggests has a flag.
    message = str(raised.exception).replace(f'tfds build {name} --data_dir', '')
    self.assertNotIn('--', message)

  def test_bad_split_lists_the_splits(self):
    with self.assertRaisesRegex(errors.DataError, r"validation.*'test'"):
      data.load(split='validation', data_dir=testing.tfds_dir())


class MakeInputFnTest(tf.test.TestCase):

  def test_estimator_shapes(self):
    input_fn = data.make_input_fn(
        split='test',
        data_dir=testing.tfds_dir(),
        batch_size=8,
        feature_key='image',
    )
    with tf.Graph().as_default():
      features, labels = tf.compat.v1.data.make_one_shot_iterator(
          input_fn()
      ).get_next()
      self.assertEqual(set(features), {'image'})
      self.assertEqual(features['image'].shape.as_list(), [None, 28, 28, 1])
      self.assertEqual(labels.shape.as_list(), [None, 1])
      self.assertEqual(labels.dtype, tf.int64)

  def test_flat_labels_and_tensor_features(self):
    input_fn = data.make_input_fn(
        split='test',
        data_dir=testing.tfds_dir(),
        batch_size=8,
        labels_as_column=False,
    )
    features, labels = next(iter(input_fn()))
    self.assertEqual(features.shape, (8, 28, 28, 1))
    self.assertEqual(labels.shape, (8,))

  def test_train_and_eval_pair(self):
    train_fn, eval_fn = data.make_input_fns(
        data_dir=testing.tfds_dir(), batch_size=50, shuffle=False
    )
    # 360 test examples: the eval pass ends; the train pass repeats.
    self.assertEqual(sum(1 for _ in eval_fn()), 8)
    self.assertEqual(sum(1 for _ in train_fn().take(40)), 40)
    features, labels = next(iter(eval_fn()))
    self.assertEqual(features['image'].shape, (50, 28, 28, 1))
    self.assertEqual(labels.shape, (50, 1))
    first = [next(iter(train_fn()))[1].numpy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])

  def test_fails_when_made_not_when_training(self):
    with self.assertRaises(errors.DataError):
      data.make_input_fn('mnist', data_dir=self.create_tempdir().full_path)


if __name__ == '__main__':
  absltest.main()
