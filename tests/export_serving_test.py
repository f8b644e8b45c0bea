"""The export's saved_model/ answers the estimator's own serving requests.

Each case trains a small canned estimator a few steps on TF 2.15, has it
export its own SavedModel (`export_saved_model` with the parsing receiver of
its columns, or a user's raw-tensor receiver), and exports it with
`canned_to_keras(...).save(...)` plus `saved_model/` (one modern subprocess
writes them all). On TF 2.21 (one more subprocess, `serving_parity`)
both SavedModels are loaded side by side and every signature of the
estimator's is called on the same batch of serialized tf.Examples (unseen
strings, missing features, multivalent features, `''` and `-1`), and
answers TensorFlow Serving's Classify, Regress and Predict requests through
an in-process handler mapping them to signatures as Serving does.
"""

import os
import tempfile

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import exporter
from estimator_migrate.export import serving
from estimator_migrate.export import serving_parity
from estimator_migrate.export import signatures
from estimator_migrate.export import spec as spec_lib
from tests import export_testing
from tests import testing

# Every float output of the export's saved_model/ vs the estimator's.
TOLERANCE = 1e-6
_N = 12
_BINARY = 'estimator_migrate/cli/export.py'
_STEPS = 4

fc = tf.feature_column
v1 = tf.compat.v1.estimator


def _columns():
  return {
      'age': fc.numeric_column('age', default_value=0.0),
      'zeta': fc.numeric_column('zeta', shape=(2,)),
      'word': fc.categorical_column_with_vocabulary_list(
          'word', ['alpha', 'beta', 'gamma'], num_oov_buckets=1
      ),
      'city': fc.categorical_column_with_hash_bucket('city', 5),
      'code': fc.categorical_column_with_identity('code', 4, default_value=0),
      'item': fc.categorical_column_with_vocabulary_list(
          'item', [5, 10, 20], dtype=tf.int64
      ),
  }


def _raw_receiver_fn():
  with tf.Graph().as_default():
    features = {
        'zeta': tf.compat.v1.placeholder(tf.float32, [None, 2], 'zeta'),
        'code': tf.compat.v1.placeholder(tf.int64, [None, None], 'code'),
    }
  return tf.estimator.export.build_raw_serving_input_receiver_fn(features)


def _cases():
  """Case name -> (estimator class, label kind, kwargs, receiver fn)."""
  c = _columns()
  return {
      'dnn_binary': (
          tf.estimator.DNNClassifier,
          'classes2',
          dict(
              hidden_units=[4],
              feature_columns=[
                  c['age'],
                  c['zeta'],
                  fc.embedding_column(c['word'], 2, combiner='mean'),
                  fc.indicator_column(c['city']),
              ],
          ),
          None,
      ),
      'linear_multi_class': (
          tf.estimator.LinearClassifier,
          'classes3',
          dict(
              n_classes=3,
              feature_columns=[c['zeta'], c['word'], c['code'], c['item']],
          ),
          None,
      ),
      'combined_binary_vocabulary_v1': (
          v1.DNNLinearCombinedClassifier,
          'vocabulary',
          dict(
              label_vocabulary=['no', 'yes'],
              dnn_hidden_units=[3],
              dnn_feature_columns=[
                  c['age'],
                  fc.embedding_column(c['code'], 2),
              ],
              # A cross of raw strings: gaps left out, '' crossed.
              linear_feature_columns=[
                  c['word'],
                  c['city'],
                  fc.crossed_column(['city', 'word'], 7),
              ],
          ),
          None,
      ),
      'dnn_multi_class_vocabulary_v1': (
          v1.DNNClassifier,
          'names3',
          dict(
              hidden_units=[3],
              n_classes=3,
              label_vocabulary=['red', 'green', 'blue'],
              feature_columns=[c['zeta'], fc.indicator_column(c['item'])],
          ),
          None,
      ),
      'dnn_regressor_v1': (
          v1.DNNRegressor,
          'regression1',
          dict(
              hidden_units=[3],
              feature_columns=[c['age'], fc.indicator_column(c['item'])],
          ),
          None,
      ),
      'combined_regressor_3': (
          tf.estimator.DNNLinearCombinedRegressor,
          'regression3',
          dict(
              label_dimension=3,
              dnn_hidden_units=[3],
              dnn_feature_columns=[
                  fc.embedding_column(c['word'], 2, combiner='sqrtn'),
                  c['zeta'],
              ],
              linear_feature_columns=[c['city'], c['item'], c['age']],
          ),
          None,
      ),
      'baseline_multi_class': (
          tf.estimator.BaselineClassifier,
          'classes3',
          dict(n_classes=3),
          tf.estimator.export.build_parsing_serving_input_receiver_fn(
              {'age': tf.io.FixedLenFeature([1], tf.float32, [0.0])}
          ),
      ),
      'raw_linear_regressor': (
          tf.estimator.LinearRegressor,
          'regression1',
          dict(feature_columns=[c['zeta'], c['code']]),
          _raw_receiver_fn(),
      ),
  }


_CASES = _cases()
# This module as the binary imports it (under Bazel it runs as __main__).
_MODULE = 'tests.export_serving_test'
# For the binary's flags (module:function).
RAW_RECEIVER_FN = _CASES['raw_linear_regressor'][3]


def raw_kwargs() -> dict:
  """The raw case's constructor kwargs (the binary's --config)."""
  return dict(_CASES['raw_linear_regressor'][2])


_RAW = 'raw_linear_regressor'
_PARSING = [name for name in _CASES if name != _RAW]


def _labels(kind, rng):
  if kind == 'names3':
    return rng.choice(np.array(['red', 'green', 'blue']), size=(_N, 1))
  return export_testing.labels(kind, _N, rng)


def _training_features(rng):
  words = np.array(['alpha', 'beta', 'gamma', 'delta', ''])
  return {
      'age': rng.normal(size=(_N, 1)).astype(np.float32),
      'zeta': rng.normal(size=(_N, 2)).astype(np.float32),
      'word': rng.choice(words, size=(_N, 2)),
      'city': rng.choice(words, size=(_N, 1)),
      'code': rng.choice([-1, 0, 1, 2, 3], size=(_N, 2)).astype(np.int64),
      'item': rng.choice([-1, 5, 10, 20], size=(_N, 2)).astype(np.int64),
  }


def _feature(values):
  if not len(values):
    return None
  if isinstance(values[0], str):
    return tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[v.encode() for v in values])
    )
  if isinstance(values[0], int):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _examples(rng) -> list[bytes]:
  """Serialized tf.Examples: unseen strings, missing and multivalent."""
  # '' sent as a value: the estimator's sparse input looks it up (an
  # out-of-vocabulary bucket, a hash bucket), unlike a dense ''.
  words = ['alpha', 'beta', 'gamma', 'unseen', 'never-trained', '']
  out = []
  for i in range(_N):
    features = {
        'zeta': [float(v) for v in rng.normal(size=2)],
        # Missing from every third example: the parse default (0.0).
        'age': [] if i % 3 == 0 else [float(rng.normal())],
        # 0 to 3 values, some unseen.
        'word': list(rng.choice(words, size=i % 4)),
        'city': list(rng.choice(words, size=(i + 1) % 3)),
        # 7 and -1 out of range (the identity column's default: -1 sent
        # as a value is looked up, as the estimator's sparse input does).
        'code': [int(v) for v in rng.choice([0, 1, 2, 3, 7, -1], size=i % 3)],
        # 99 and -1 out of vocabulary (dropped: no OOV buckets).
        'item': [
            int(v) for v in rng.choice([5, 10, 20, 99, -1], size=(i + 2) % 4)
        ],
    }
    example = tf.train.Example()
    for key, values in features.items():
      feature = _feature(
          [v.item() if hasattr(v, 'item') else v for v in values]
      )
      if feature is not None:
        example.features.feature[key].CopyFrom(feature)
    out.append(example.SerializeToString())
  return out


def _raw_inputs(rng) -> dict:
  return {
      'zeta': rng.normal(size=(_N, 2)).astype(np.float32),
      'code': rng.choice([-1, 0, 1, 2, 3, 7], size=(_N, 3)).astype(np.int64),
  }


class ExportServingTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(0)
    features = _training_features(rng)
    examples = np.array(_examples(rng), dtype=object).astype(bytes)
    raw = _raw_inputs(rng)
    cls.root = root
    cls.exports, cls.model_dirs, jobs = {}, {}, []
    for name, (estimator_class, kind, kwargs, receiver_fn) in _CASES.items():
      labels = _labels(kind, rng)

      read = features
      if 'Baseline' in estimator_class.__name__:
        # TF 2.15's Baseline reads only the batch size; trained on this
        # dict of string features its input iterator fails (measured).
        read = {'age': features['age']}

      def input_fn(labels=labels, read=read):
        return (
            tf.data.Dataset.from_tensor_slices((read, labels)).batch(4).repeat()
        )

      model_dir = os.path.join(root, name)
      cls.model_dirs[name] = model_dir
      estimator = estimator_class(model_dir=model_dir, **kwargs)
      estimator.train(input_fn, steps=_STEPS)
      columns = [
          column
          for key in (
              'feature_columns',
              'dnn_feature_columns',
              'linear_feature_columns',
          )
          for column in kwargs.get(key, ())
      ]
      served_by = receiver_fn or (
          tf.estimator.export.build_parsing_serving_input_receiver_fn(
              tf.compat.v1.feature_column.make_parse_example_spec(columns)
          )
      )
      own = estimator.export_saved_model(
          os.path.join(root, name + '_estimator'), served_by
      )
      result = export.canned_to_keras(
          estimator_class,
          model_dir=model_dir,
          serving_input_receiver_fn=receiver_fn,
          **kwargs,
      )
      target = os.path.join(root, name + '_keras')
      result.save(target)
      cls.exports[name] = result
      jobs.append(
          (
              own.decode() if isinstance(own, bytes) else own,
              os.path.join(target, serving.DIRECTORY),
              raw if name == _RAW else {'examples': examples},
          )
      )
    serving.write_saved_models([os.path.dirname(job[1]) for job in jobs])
    compared = serving_parity.compare_saved_models(jobs)
    cls.proof, cls.served = {}, {}
    for name, served in zip(_CASES, compared, strict=True):
      cls.proof[name] = {
          'signatures': served.signatures,
          'listing': served.listings,
          'errors': served.errors,
      }
      cls.served[name] = dict(served.outputs)

  def _own_signatures(self, name):
    return {
        k: v
        for k, v in self.proof[name]['signatures']['ours'].items()
        if k not in ('serving_raw', '__saved_model_init_op')
    }

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_signature_defs_identical(self, name):
    estimator = self.proof[name]['signatures']['estimator']
    self.assertEqual(self._own_signatures(name), estimator)
    declared = self.exports[name].spec.serving.signatures
    self.assertEqual(set(declared), set(estimator))
    for key, signature in declared.items():
      self.assertEqual(
          estimator[key]['method'], signatures.METHOD_NAMES[signature.method]
      )
    # The feature dict stays served, under its own key.
    self.assertIn('serving_raw', self.proof[name]['signatures']['ours'])

  def test_signature_keys_per_head(self):
    keys = {
        name: sorted(self.proof[name]['signatures']['estimator'])
        for name in _CASES
    }
    self.assertEqual(
        keys['dnn_binary'],
        ['classification', 'predict', 'regression', 'serving_default'],
    )
    self.assertEqual(
        keys['linear_multi_class'],
        ['classification', 'predict', 'serving_default'],
    )
    self.assertEqual(
        keys['combined_regressor_3'],
        ['predict', 'regression', 'serving_default'],
    )
    self.assertEqual(keys['raw_linear_regressor'], ['predict'])

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_outputs_equal(self, name):
    worst = export_testing.served_alike(self, self.served[name], TOLERANCE, _N)
    logging.info('serving %s: max |estimator - export| %.3g', name, worst)

  def test_strings_served(self):
    served = self.served['combined_binary_vocabulary_v1']
    self.assertLessEqual(
        set(np.unique(served['ours/predict/classes'])), {b'no', b'yes'}
    )
    np.testing.assert_array_equal(
        served['ours/serving_default/classes'],
        np.tile([[b'no', b'yes']], (_N, 1)),
    )
    served = self.served['linear_multi_class']
    np.testing.assert_array_equal(
        served['ours/predict/all_classes'],
        np.tile([[b'0', b'1', b'2']], (_N, 1)),
    )
    self.assertEqual(served['ours/predict/all_class_ids'].dtype, np.int32)

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_saved_model_cli_listing_identical(self, name):
    listing = self.proof[name]['listing']
    self.assertIn('signature_def[', listing['estimator'])
    self.assertEqual(listing['ours'], listing['estimator'])

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_serving_client_answered_identically(self, name):
    served = self.served[name]
    errors = self.proof[name]['errors']
    self.assertEqual(errors['ours'], errors['estimator'])
    answered = {
        k.removeprefix('client/estimator/'): v
        for k, v in served.items()
        if k.startswith('client/estimator/')
    }
    self.assertNotEmpty(answered)
    for key, want in answered.items():
      got = served['client/ours/' + key]
      self.assertEqual(got.shape, want.shape, key)
      if want.dtype.kind == 'f':
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)
      else:
        np.testing.assert_array_equal(got, want, key)

  def test_serving_requests_covered(self):
    answered = {
        k.split('/')[2]
        for name in _PARSING
        for k in self.served[name]
        if k.startswith('client/ours/')
    }
    self.assertEqual(
        answered,
        {'serving_default', 'classification', 'regression', 'predict'},
    )
    # Serving's Regress needs one value per example: refused alike.
    errors = self.proof['combined_regressor_3']['errors']['estimator']
    self.assertCountEqual(errors, ['regression', 'serving_default'])

  def test_binary_flag(self):
    name = 'raw_linear_regressor'
    target = os.path.join(self.root, 'cli_export')
    flags = (
        '--estimator=LinearRegressor',
        f'--model_dir={self.model_dirs[name]}',
        f'--config={_MODULE}:raw_kwargs',
        f'--target={target}',
    )
    done = testing.run_binary(
        _BINARY,
        *flags,
        f'--serving_input_receiver_fn={_MODULE}:RAW_RECEIVER_FN',
    )
    self.assertEqual(done.returncode, 0, done.stderr[-2000:])
    with open(os.path.join(target, spec_lib.SPEC_FILE)) as f:
      written = spec_lib.from_json(f.read())
    self.assertEqual(written.serving, self.exports[name].spec.serving)
    self.assertIn('## Serving (`saved_model/`)', done.stdout)
    refused = testing.run_binary(
        _BINARY,
        *flags[:3],
        f'--target={target}_refused',
        f'--serving_input_receiver_fn={_MODULE}:_N',
    )
    self.assertEqual(refused.returncode, 2)
    self.assertRegex(
        refused.stderr.strip().splitlines()[-1],
        r'error: --serving_input_receiver_fn .* not a function',
    )
    self.assertFalse(os.path.exists(target + '_refused'))

  def test_spec_section_round_trips(self):
    for name, result in self.exports.items():
      spec = result.spec
      self.assertEqual(spec_lib.from_json(spec.to_json()), spec, name)
    raw = self.exports['raw_linear_regressor'].spec.serving.receiver
    self.assertEqual(dict(raw.features), {'code': 'code', 'zeta': 'zeta'})
    self.assertEqual(raw.inputs['code'].shape, (None, None))
    parsed = self.exports['dnn_binary'].spec.serving.receiver.parse
    self.assertEqual(parsed['age'].default, (0.0,))
    self.assertIsNone(parsed['zeta'].default)
    self.assertEqual(parsed['word'].kind, 'var_len')
    head = self.exports['dnn_multi_class_vocabulary_v1'].spec.model.head
    self.assertEqual(head.label_vocabulary, ('red', 'green', 'blue'))
    self.assertIsNone(
        self.exports['dnn_binary'].spec.model.head.label_vocabulary
    )


class ReceiverTest(absltest.TestCase):
  """Receivers the export reads, and those it refuses (no training)."""

  def test_user_parsing_receiver_read(self):
    spec = {
        'age': tf.io.FixedLenFeature([1], tf.float32, default_value=[1.5]),
        'word': tf.io.VarLenFeature(tf.string),
    }

    def receiver_fn():
      serialized = tf.compat.v1.placeholder(tf.string, [None], 'input')
      return tf.estimator.export.ServingInputReceiver(
          tf.io.parse_example(serialized, spec), {'inputs': serialized}
      )

    receiver = signatures.read_receiver(receiver_fn)
    self.assertEqual(list(receiver.inputs), ['inputs'])
    self.assertEqual(receiver.parse['age'].default, (1.5,))
    self.assertEqual(receiver.parse['word'].kind, 'var_len')
    head = spec_lib.Head('regression', 1)
    keys = signatures.signatures(head, receiver)
    self.assertEqual(dict(keys['predict'].inputs), {'inputs': 'inputs'})
    self.assertEqual(dict(keys['regression'].inputs), {'inputs': 'inputs'})

  def test_receiver_fn_by_name(self):
    receiver_fn = exporter.load_receiver_fn(f'{__name__}:_raw_receiver_fn')
    self.assertIs(receiver_fn, _raw_receiver_fn)
    with self.assertRaisesRegex(errors.MigrationError, 'not a function') as e:
      exporter.load_receiver_fn(f'{__name__}:_N')
    self.assertEqual(e.exception.arguments, ('serving_input_receiver_fn',))

  def test_transformed_features_refused(self):
    def receiver_fn():
      x = tf.compat.v1.placeholder(tf.float32, [None, 1], 'x')
      return tf.estimator.export.ServingInputReceiver({'x': x * 2.0}, {'x': x})

    with self.assertRaisesRegex(
        signatures.ServingError, 'serving_input_receiver_fn'
    ) as raised:
      signatures.read_receiver(receiver_fn)
    self.assertIn('serving_input_receiver_fn', raised.exception.arguments)

  def test_missing_feature_refused(self):
    receiver_fn = tf.estimator.export.build_parsing_serving_input_receiver_fn(
        {'age': tf.io.FixedLenFeature([1], tf.float32)}
    )
    with self.assertRaisesRegex(signatures.ServingError, 'no feature zeta'):
      signatures.serving_spec(
          spec_lib.Head('regression', 1),
          [],
          receiver_fn,
          features_read={'age', 'zeta'},
      )


if __name__ == '__main__':
  absltest.main()
