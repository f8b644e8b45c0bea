"""Tests of the embedded Palmer penguins data set and its TFDS builder."""

import csv
import importlib.resources
import math

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from estimator_migrate.guide import data
from estimator_migrate.guide import palmer_penguins
from tests import testing


def _csv_rows() -> list[dict[str, str]]:
  """The reference: the package's CSV, read independently of the builder."""
  path = importlib.resources.files('palmerpenguins') / 'data' / 'penguins.csv'
  with path.open(encoding='utf-8') as f:
    return list(csv.DictReader(f))


class ExamplesTest(parameterized.TestCase):

  def test_reads_the_whole_table(self):
    rows = palmer_penguins.read_rows()
    self.assertLen(rows, 344)
    self.assertEqual(rows, _csv_rows())
    self.assertEqual(
        {row['species'] for row in rows}, set(palmer_penguins.SPECIES)
    )

  @parameterized.named_parameters(
      ('complete', 0, 'male', 39.1),
      ('no_measurements_no_sex', 3, '', math.nan),
      ('no_sex', 8, '', 34.1),
  )
  def test_missing_values(self, index, sex, bill_length):
    row = _csv_rows()[index]
    example = palmer_penguins.to_example(row)
    self.assertEqual(example['sex'], sex)
    self.assertEqual(example['island'], row['island'])
    self.assertEqual(example['species'], row['species'])
    self.assertEqual(example['year'], int(row['year']))
    self.assertIsInstance(example['bill_length_mm'], np.float32)
    np.testing.assert_equal(example['bill_length_mm'], np.float32(bill_length))

  def test_splits_are_a_fixed_partition(self):
    splits = palmer_penguins.split_indices()
    self.assertLen(splits['train'], palmer_penguins.TRAIN_SIZE)
    self.assertLen(splits['test'], 344 - palmer_penguins.TRAIN_SIZE)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([splits['train'], splits['test']])),
        np.arange(344),
    )
    again = palmer_penguins.split_indices()
    np.testing.assert_array_equal(splits['test'], again['test'])


class BuilderTest(parameterized.TestCase):

  def test_tfds_load_works_offline(self):
    train, test = tfds.load(
        palmer_penguins.NAME,
        split=['train', 'test'],
        as_supervised=True,
        data_dir=testing.tfds_dir(),
    )
    features, label = train.element_spec
    self.assertEqual(label, tf.TensorSpec((), tf.int64))
    self.assertEqual(
        features,
        {
            'island': tf.TensorSpec((), tf.string),
            'sex': tf.TensorSpec((), tf.string),
            'bill_length_mm': tf.TensorSpec((), tf.float32),
            'bill_depth_mm': tf.TensorSpec((), tf.float32),
            'flipper_length_mm': tf.TensorSpec((), tf.float32),
            'body_mass_g': tf.TensorSpec((), tf.float32),
            'year': tf.TensorSpec((), tf.int32),
        },
    )
    self.assertEqual(int(train.cardinality()), palmer_penguins.TRAIN_SIZE)
    self.assertEqual(int(test.cardinality()), 344 - palmer_penguins.TRAIN_SIZE)

  def test_examples_are_the_csv_rows(self):
    rows = _csv_rows()
    builder = tfds.builder(palmer_penguins.NAME, data_dir=testing.tfds_dir())
    builder.download_and_prepare()
    names = builder.info.features['species'].names
    test = builder.as_dataset(split='test', shuffle_files=False)
    # Floats as the strings of their float32 values: NaN == NaN, and sortable.
    seen = sorted(
        (
            str(example['body_mass_g']),
            str(example['bill_length_mm']),
            example['island'].decode(),
            example['sex'].decode(),
            names[example['species']],
        )
        for example in tfds.as_numpy(test)
    )
    expected = sorted(
        (
            str(np.float32(rows[i]['body_mass_g'].replace('NA', 'nan'))),
            str(np.float32(rows[i]['bill_length_mm'].replace('NA', 'nan'))),
            rows[i]['island'],
            rows[i]['sex'].replace('NA', ''),
            rows[i]['species'],
        )
        for i in palmer_penguins.split_indices()['test']
    )
    self.assertEqual(seen, expected)

  def test_data_load_gives_feature_dicts(self):
    features, labels = next(
        iter(
            data.load(
                palmer_penguins.NAME,
                'test',
                data_dir=testing.tfds_dir(),
                batch_size=8,
                shuffle_buffer=0,
            )
        )
    )
    self.assertEqual(labels.shape, (8,))
    self.assertEqual(features['island'].dtype, tf.string)
    self.assertEqual(features['body_mass_g'].shape, (8,))

  def test_tfds_penguins_is_not_shadowed(self):
    self.assertNotEqual(
        tfds.builder_cls('penguins'), palmer_penguins.PalmerPenguins
    )
    self.assertIs(
        tfds.builder_cls(palmer_penguins.NAME), palmer_penguins.PalmerPenguins
    )


if __name__ == '__main__':
  absltest.main()
