"""serving_parity: two SavedModels served side by side, and what it measures.

Four small SavedModels parsing serialized tf.Examples are written on TF 2.15
(`tf.saved_model.save`): the reference, one whose float output is off by
1e-3, one whose string output differs, and one with an extra output. One
modern subprocess (keras3/serving_proof.py) serves them in pairs; the
examples end in zero bytes (a last feature of `''` or 0.0), which must
reach the models intact. The script started where tensorflow-serving-api is
missing (the TF 2.15 environment) fails with one line saying so.
"""

import os
import shutil
import sys
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.demo import keras3_act
from estimator_migrate.export import modern
from estimator_migrate.export import parity
from estimator_migrate.export import serving_parity
from estimator_migrate.tf2 import differences

_SPEC = {
    'x': tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
    'word': tf.io.VarLenFeature(tf.string),
}
_OFFSET = 1e-3


class _Served(tf.Module):
  """Parses tf.Examples: x + offset, the words joined, their count."""

  def __init__(self, offset=0.0, separator=',', extra=False):
    super().__init__()
    self.offset = tf.Variable(offset)
    self.separator = separator
    self.extra = extra

  @tf.function(
      input_signature=[tf.TensorSpec([None], tf.string, name='examples')]
  )
  def serve(self, examples):
    features = tf.io.parse_example(examples, _SPEC)
    words = features['word']
    out = {
        'x': features['x'] + self.offset,
        'joined': tf.strings.reduce_join(
            tf.sparse.to_dense(words, ''), axis=1, separator=self.separator
        ),
        'count': tf.sparse.reduce_sum(
            tf.SparseTensor(
                words.indices,
                tf.ones_like(words.values, tf.int64),
                words.dense_shape,
            ),
            axis=1,
        ),
    }
    if self.extra:
      out['twice'] = 2.0 * features['x']
    return out


def _example(**features) -> bytes:
  example = tf.train.Example()
  for key, values in features.items():
    feature = example.features.feature[key]
    if isinstance(values[0], str):
      feature.bytes_list.value.extend(v.encode() for v in values)
    else:
      feature.float_list.value.extend(values)
  return example.SerializeToString()


# The last two end in zero bytes: `''` (length 0) and the float 0.0.
_EXAMPLES = [
    _example(x=[1.5], word=['a', 'b']),
    _example(word=['']),
    _example(x=[0.0]),
]


class ServingParityTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    paths = {}
    for name, module in (
        ('reference', _Served()),
        ('offset', _Served(offset=_OFFSET)),
        ('separator', _Served(separator=';')),
        ('extra', _Served(extra=True)),
    ):
      paths[name] = os.path.join(cls.root, name)
      tf.saved_model.save(module, paths[name], signatures=module.serve)
    cls.paths = paths
    inputs = {'examples': _EXAMPLES}
    cls.same, cls.offset, cls.separator, cls.extra = (
        serving_parity.compare_saved_models(
            [
                (paths['reference'], paths[other], inputs)
                for other in ('reference', 'offset', 'separator', 'extra')
            ]
        )
    )

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def test_examples_reach_the_models_intact(self):
    outputs = self.same.outputs
    np.testing.assert_array_equal(
        outputs['estimator/serving_default/x'], [[1.5], [0.0], [0.0]]
    )
    np.testing.assert_array_equal(
        outputs['estimator/serving_default/count'], [2, 1, 0]
    )
    np.testing.assert_array_equal(
        outputs['estimator/serving_default/joined'], [b'a,b', b',', b',']
    )  # padded to two words with ''
    # Serving's Predict answered with the same.
    np.testing.assert_array_equal(
        outputs['client/estimator/serving_default/count'], [2, 1, 0]
    )

  def test_identical_models_serve_alike(self):
    same = self.same
    self.assertTrue(same.signatures_equal)
    self.assertTrue(same.listings_equal)
    self.assertTrue(same.errors_equal)
    self.assertEqual(same.answered, ('serving_default',))
    self.assertEqual(same.max_abs_diff, 0.0)
    self.assertEqual(same.mismatched, ())
    self.assertEqual(same.problems(0.0), [])
    # Every output of the signature, and of the Predict answer.
    self.assertCountEqual(
        same.differences,
        [
            f'{prefix}serving_default/{key}'
            for prefix in ('', 'client/')
            for key in ('x', 'joined', 'count')
        ],
    )
    self.assertIn("signature_def['serving_default']", same.listings['ours'])
    self.assertNotIn('name: ', same.listings['ours'])

  def test_float_gap_measured(self):
    offset = self.offset
    self.assertTrue(offset.signatures_equal)
    self.assertAlmostEqual(offset.max_abs_diff, _OFFSET, delta=1e-7)
    self.assertEqual(offset.mismatched, ())
    self.assertEqual(offset.problems(1e-2), [])
    (problem,) = offset.problems(1e-6)
    self.assertIn('float outputs differ by 0.001 > 1e-06', problem)

  def test_strings_must_be_identical(self):
    separator = self.separator
    self.assertTrue(separator.signatures_equal)
    self.assertEqual(
        separator.mismatched,
        ('client/serving_default/joined', 'serving_default/joined'),
    )
    self.assertEqual(separator.max_abs_diff, float('inf'))
    self.assertRegex(
        ' '.join(separator.problems(1.0)), 'unequal .* serving_default/joined'
    )

  def test_signature_defs_must_be_identical(self):
    extra = self.extra
    self.assertFalse(extra.signatures_equal)
    self.assertFalse(extra.listings_equal)
    self.assertIn(
        'twice', extra.signatures['ours']['serving_default']['outputs']
    )
    problems = extra.problems(1.0)
    self.assertIn('signature defs differ', problems[0])
    self.assertIn('listings differ', problems[1])

  def test_table_per_signature(self):
    table = self.offset.table().splitlines()
    self.assertLen(table, 3)
    self.assertIn('| serving_default | predict | 0.001 | 0.001 |', table[2])

  def test_demo_verdict_counts_the_serving_gap(self):
    # The demo's third-act row: a serving gap above 1e-6 diverges.
    def result(served):
      return keras3_act.Result(
          name='m',
          directory=self.root,
          parity=parity.Parity({'logits': 0.0, 'saved_model/logits': 0.0}),
          weights=differences.Difference(0.0, 0.0),
          losses=(),
          serving=served,
      )

    ok, gap, unequal = (
        result(s) for s in (self.same, self.offset, self.separator)
    )
    self.assertEqual(ok.problems(), [])
    self.assertEqual(ok.row()[3], '0 (1 signature, defs identical)')
    self.assertEqual(ok.row()[-1], 'ok')
    (problem,) = gap.problems()
    self.assertIn("served through the estimator's signatures", problem)
    self.assertEqual(gap.row()[3], '0.001 (1 signature, defs identical)')
    self.assertEqual(gap.row()[-1], 'DIVERGED')
    self.assertEqual(unequal.row()[3], 'unequal (1 signature, defs identical)')
    self.assertEqual(unequal.row()[-1], 'DIVERGED')
    self.assertEqual(result(None).row()[3], 'n/a')

  def test_not_a_saved_model_refused(self):
    with self.assertRaisesRegex(errors.MigrationError, 'no saved_model.pb'):
      serving_parity.compare_saved_models(
          [(self.paths['reference'], self.root, {'examples': _EXAMPLES})]
      )


class MissingServingApiTest(absltest.TestCase):

  def test_one_line_names_the_package(self):
    # The TF 2.15 environment has TensorFlow but not tensorflow-serving-api.
    root = self.create_tempdir().full_path
    for side in ('a', 'b'):
      os.makedirs(os.path.join(root, side))
      open(os.path.join(root, side, 'saved_model.pb'), 'wb').close()
    with mock.patch.dict(os.environ, {modern.ENV_VAR: sys.executable}):
      with self.assertRaises(errors.MigrationError) as raised:
        serving_parity.compare_saved_models(
            [
                (
                    os.path.join(root, 'a'),
                    os.path.join(root, 'b'),
                    {'examples': _EXAMPLES},
                )
            ]
        )
    message = str(raised.exception)
    self.assertNotIn('\n', message)
    self.assertIn('tensorflow-serving-api is not installed', message)
    self.assertIn('pip install tensorflow-serving-api', message)


class SerializedExamplesTest(absltest.TestCase):

  def test_rows_as_a_client_sends_them(self):
    features = {
        'island': np.array([['Dream'], ['']]),
        'mass': np.array([[3.5], [0.0]], np.float32),
        'year': np.array([[2007], [0]], np.int32),
    }
    first, second = (
        tf.train.Example.FromString(e).features.feature
        for e in keras3_act.serialized_examples(features)
    )
    self.assertEqual(first['island'].bytes_list.value, [b'Dream'])
    self.assertEqual(first['mass'].float_list.value, [3.5])
    self.assertEqual(first['year'].int64_list.value, [2007])
    # '' (a missing value) is sent as a value, as many clients send it.
    self.assertEqual(second['island'].bytes_list.value, [b''])
    self.assertEqual(second['year'].int64_list.value, [0])


if __name__ == '__main__':
  absltest.main()
