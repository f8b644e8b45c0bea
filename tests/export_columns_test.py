"""Tests of the exporter's spec building and errors (no training)."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import columns
from estimator_migrate.export import exporter
from estimator_migrate.export import families
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.export import target as target_lib

fc = tf.feature_column
_X = fc.numeric_column('x')
_WORD = fc.categorical_column_with_vocabulary_list('word', ['a', 'b'])


def _write_checkpoint(directory: str, tensors: dict) -> str:
  """A checkpoint holding exactly `tensors` (names as given)."""
  prefix = os.path.join(directory, 'model.ckpt-3')
  names = sorted(tensors)
  tf.raw_ops.SaveV2(
      prefix=prefix,
      tensor_names=names,
      shape_and_slices=[''] * len(names),
      tensors=[tf.constant(tensors[n]) for n in names],
  )
  return prefix


def _v1_dnn_regressor() -> dict:
  """A v1 DNNRegressor(hidden_units=[2], feature_columns=[x]) with Adagrad."""
  rng = np.random.default_rng(0)
  model = {
      'dnn/hiddenlayer_0/kernel': rng.normal(size=(1, 2)).astype(np.float32),
      'dnn/hiddenlayer_0/bias': np.zeros(2, np.float32),
      'dnn/logits/kernel': rng.normal(size=(2, 1)).astype(np.float32),
      'dnn/logits/bias': np.zeros(1, np.float32),
  }
  slots = {f'{n}/Adagrad': np.full_like(v, 0.1) for n, v in model.items()}
  return {**model, **slots, 'global_step': np.int64(3)}


class SpecTest(parameterized.TestCase):

  def test_dnn_columns_and_weights(self):
    model = families.model_spec(
        'DNNClassifier',
        dict(
            hidden_units=[3],
            n_classes=4,
            feature_columns=[fc.embedding_column(_WORD, 2), _X],
        ),
    )
    spec = model.spec
    self.assertEqual(spec.head.logits_dimension, 4)
    self.assertEqual(
        spec.inputs,
        {
            'x': spec_lib.Input((1,), 'float32'),
            'word': spec_lib.Input((None,), 'string'),
        },
    )
    # Input width = embedding 2 + numeric 1.
    self.assertEqual(model.shapes['dnn/hiddenlayer_0/kernel'], (3, 3))
    self.assertEqual(
        model.shapes[
            'dnn/input_from_feature_columns/input_layer/word_embedding/'
            'embedding_weights'
        ],
        (2, 2),
    )

  def test_shared_embeddings_share_one_weight(self):
    word = fc.categorical_column_with_vocabulary_list('word', ['a', 'b', 'c'])
    tag = fc.categorical_column_with_vocabulary_list('tag', ['x', 'y', 'z'])
    with tf.Graph().as_default():
      v1_columns = tf.compat.v1.feature_column.shared_embedding_columns(
          [word, tag], 2
      )
      v2_columns = fc.shared_embeddings([word, tag], 2)
    for shared, weight in (
        (
            v1_columns,
            'dnn/input_from_feature_columns/input_layer/tag_word_shared_'
            'embedding/embedding_weights',
        ),
        (v2_columns, 'tag_word_shared_embedding'),
    ):
      model = families.model_spec(
          'DNNClassifier', dict(hidden_units=[3], feature_columns=shared)
      )
      self.assertEqual({c.weight for c in model.spec.dnn.columns}, {weight})
      self.assertEqual(model.shapes[weight], (3, 2))
      self.assertEqual(model.shapes['dnn/hiddenlayer_0/kernel'], (4, 3))

  def test_columns_of_one_feature_get_their_own_ids(self):
    vocabulary = fc.categorical_column_with_vocabulary_list(
        'num', [3, 5], dtype=tf.int64, num_oov_buckets=2
    )
    hashed = fc.categorical_column_with_hash_bucket('num', 4, dtype=tf.int64)
    model = families.model_spec(
        'DNNRegressor',
        dict(
            hidden_units=[2],
            feature_columns=[
                fc.embedding_column(vocabulary, 2),
                fc.indicator_column(hashed),
            ],
        ),
    )
    self.assertEqual(
        {k: v.TAG[1] for k, v in model.spec.categorical.items()},
        {'num': 'vocabulary', 'num.2': 'hash'},
    )
    self.assertEqual(model.spec.categorical['num'].num_buckets, 4)

  def test_batch_norm_statistics_are_not_trained(self):
    model = families.model_spec(
        'DNNClassifier',
        dict(hidden_units=[2], feature_columns=[_X], batch_norm=True),
    )
    norm = 'dnn/hiddenlayer_0/batchnorm_0'
    self.assertEqual(
        model.spec.weights[spec_lib.layer_name(norm)],
        tuple(f'{norm}/{n}' for n in families.BATCH_NORM_WEIGHTS),
    )
    self.assertIn(f'{norm}/gamma', model.trained)
    self.assertNotIn(f'{norm}/moving_mean', model.trained)

  def test_vocabulary_file_read_at_export(self):
    path = self.create_tempfile(content='b\na\nc\n').full_path
    column = fc.categorical_column_with_vocabulary_file(
        'word', path, vocabulary_size=2, num_oov_buckets=1
    )
    model = families.model_spec(
        'LinearRegressor', dict(feature_columns=[column])
    )
    self.assertEqual(model.spec.categorical['word'].vocabulary, ('b', 'a'))
    self.assertEqual(model.shapes['linear/linear_model/word/weights'], (3, 1))

  @parameterized.named_parameters(
      (
          'weighted_int_weights',
          'LinearClassifier',
          dict(
              feature_columns=[
                  fc.weighted_categorical_column(
                      fc.categorical_column_with_identity('a', 3),
                      'w',
                      dtype=tf.int64,
                  )
              ]
          ),
          columns.ColumnError,
          'a_weighted_by_w',
      ),
      (
          'embedding_max_norm',
          'DNNClassifier',
          dict(
              hidden_units=[2],
              feature_columns=[
                  fc.embedding_column(
                      fc.categorical_column_with_identity('a', 3),
                      2,
                      max_norm=1.0,
                  )
              ],
          ),
          columns.ColumnError,
          'a_embedding.*max_norm',
      ),
      (
          'indicator_in_linear',
          'LinearClassifier',
          dict(
              feature_columns=[
                  fc.indicator_column(
                      fc.categorical_column_with_identity('a', 3)
                  )
              ]
          ),
          columns.ColumnError,
          'a_indicator',
      ),
      (
          'normalizer_fn',
          'DNNRegressor',
          dict(
              hidden_units=[2],
              feature_columns=[
                  fc.numeric_column('x', normalizer_fn=lambda v: v * 2)
              ],
          ),
          columns.ColumnError,
          'normalizer_fn',
      ),
      (
          'head_estimator',
          'DNNEstimator',
          dict(hidden_units=[2], feature_columns=[_X]),
          errors.TranslationError,
          'head',
      ),
      (
          'activation',
          'DNNClassifier',
          dict(
              hidden_units=[2], feature_columns=[_X], activation_fn=lambda v: v
          ),
          errors.TranslationError,
          'activation_fn',
      ),
  )
  def test_unsupported_raises_naming_it(self, estimator, kwargs, error, text):
    with self.assertRaisesRegex(error, text):
      families.model_spec(estimator, kwargs)


class CheckpointTest(parameterized.TestCase):

  def test_v1_checkpoint_exports_weights_not_optimizer(self):
    directory = self.create_tempdir().full_path
    tensors = _v1_dnn_regressor()
    prefix = _write_checkpoint(directory, tensors)
    result = export.canned_to_keras(
        'DNNRegressor',
        model_dir=prefix,
        hidden_units=[2],
        feature_columns=[_X],
    )
    self.assertEqual(result.global_step, 3)
    np.testing.assert_array_equal(
        result.arrays['dnn/logits/kernel'], tensors['dnn/logits/kernel']
    )
    self.assertIsNone(result.spec.training.optimizers)
    self.assertIn(
        'estimator-migrate-convert', result.spec.training.compile_unavailable
    )
    self.assertIn('estimator-migrate-convert', result.report())

  @parameterized.named_parameters(
      ('other_shape', dict(hidden_units=[3]), 'expected'),
      ('missing', dict(hidden_units=[2, 2]), 'lacks'),
  )
  def test_other_model_raises(self, kwargs, text):
    directory = self.create_tempdir().full_path
    prefix = _write_checkpoint(directory, _v1_dnn_regressor())
    with self.assertRaisesRegex(errors.CheckpointError, text):
      export.canned_to_keras(
          'DNNRegressor', model_dir=prefix, feature_columns=[_X], **kwargs
      )

  def test_empty_model_dir_raises(self):
    with self.assertRaisesRegex(errors.CheckpointError, 'model_dir is empty'):
      export.canned_to_keras('DNNRegressor', model_dir='', hidden_units=[2])

  def test_save_is_atomic(self):
    directory = self.create_tempdir().full_path
    prefix = _write_checkpoint(directory, _v1_dnn_regressor())
    result = export.canned_to_keras(
        'DNNRegressor',
        model_dir=prefix,
        hidden_units=[2],
        feature_columns=[_X],
    )
    parent = self.create_tempdir().full_path
    target = os.path.join(parent, 'keras')
    result.save(target)
    self.assertCountEqual(
        os.listdir(target),
        [
            'model.py',
            'spec.json',
            'weights.npz',
            'report.md',
            'integrity.json',
        ],
    )
    with open(os.path.join(target, 'spec.json')) as f:
      self.assertEqual(spec_lib.from_json(f.read()), result.spec)
    with self.assertRaisesRegex(errors.MigrationError, 'not empty'):
      result.save(target)
    # A failure while writing leaves nothing, not even a temporary.
    failing = os.path.join(parent, 'failing')
    with self.assertRaises(ZeroDivisionError):
      target_lib.write_directory(
          failing,
          {'a.txt': 'a'},
          {},
          finish=lambda *_: 1 / 0,
          checkpoint_prefix=os.path.join(os.sep, 'no-model-dir', 'm.ckpt-1'),
      )
    self.assertEqual(os.listdir(parent), ['keras'])


class LoadConfigTest(parameterized.TestCase):

  def test_file_and_callable(self):
    path = self.create_tempfile(
        'config.py', content='def kwargs():\n  return {"hidden_units": [2]}\n'
    ).full_path
    self.assertEqual(
        exporter.load_config(f'{path}:kwargs'), {'hidden_units': [2]}
    )

  @parameterized.named_parameters(
      ('no_colon', 'my_pkg.config', 'module:callable'),
      ('no_module', 'no_such_module_xyz:f', 'cannot import'),
      ('no_attribute', 'os:no_such_attribute', 'has no'),
      ('not_a_dict', 'os.path:sep', 'not the dict'),
  )
  def test_bad_config_raises(self, config, text):
    with self.assertRaisesRegex(errors.MigrationError, text):
      exporter.load_config(config)


if __name__ == '__main__':
  absltest.main()
