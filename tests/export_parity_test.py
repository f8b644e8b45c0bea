"""Prediction parity of exported canned estimators in the modern environment.

Each case trains a small estimator a few steps on the TF 2.15 stack, exports
it with `export.canned_to_keras`, and compares `estimator.predict` with the
generated `model.py`'s `load()` run in the modern environment (TensorFlow
2.21, Keras 3; one subprocess for every case). Features hold multivalent
ids, `''` and `-1` (dropped by feature columns, except a crossed column's
raw keys), out-of-vocabulary values, and columns listed out of name order.
"""

import os
import tempfile

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import export
from estimator_migrate.export import parity
from estimator_migrate.export import serving
from tests import export_testing

fc = tf.feature_column
# estimator.predict vs Keras 3 and saved_model/, float32: measured max 1.2e-7.
TOLERANCE = 1e-5
_N = 24


def _features(rng: np.random.Generator) -> dict:
  words = np.array(['alpha', 'beta', 'gamma', 'delta', 'unseen', ''])
  return {
      # Keys deliberately not in name order.
      'zeta': rng.normal(size=(_N, 2)).astype(np.float32),
      'age': rng.normal(size=(_N, 1)).astype(np.float32),
      'word': rng.choice(words, size=(_N, 2)),
      'city': rng.choice(words, size=(_N, 1)),
      'code': rng.choice([-1, 0, 1, 2, 3, 7], size=(_N, 2)).astype(np.int64),
      'item': rng.choice([-1, 5, 10, 20, 99], size=(_N, 2)).astype(np.int64),
      'weight': rng.uniform(0.5, 2.0, size=(_N, 1)).astype(np.float32),
  }


def _columns(vocabulary_file: str) -> dict:
  age = fc.numeric_column('age')
  zeta = fc.numeric_column('zeta', shape=(2,))
  word = fc.categorical_column_with_vocabulary_list(
      'word', ['alpha', 'beta', 'gamma'], num_oov_buckets=2
  )
  word_file = fc.categorical_column_with_vocabulary_file(
      'word', vocabulary_file, vocabulary_size=3, default_value=1
  )
  city = fc.categorical_column_with_hash_bucket('city', 7)
  code = fc.categorical_column_with_identity('code', 4, default_value=0)
  code_strict = fc.categorical_column_with_identity('code', 8)
  item = fc.categorical_column_with_vocabulary_list(
      'item', [5, 10, 20], dtype=tf.int64
  )
  item_hash = fc.categorical_column_with_hash_bucket('item', 6, dtype=tf.int64)
  age_buckets = fc.bucketized_column(age, [-0.5, 0.0, 0.5])
  zeta_buckets = fc.bucketized_column(zeta, [0.0])
  return {
      'dnn_binary': dict(
          hidden_units=[5, 3],
          activation_fn=tf.nn.tanh,
          dropout=0.2,
          feature_columns=[
              zeta,
              fc.indicator_column(city),
              fc.embedding_column(word, 3, combiner='mean'),
              age_buckets,
          ],
      ),
      'dnn_multi_class': dict(
          hidden_units=[4],
          n_classes=3,
          feature_columns=[
              fc.embedding_column(code, 2, combiner='sum'),
              fc.embedding_column(item_hash, 2, combiner='sqrtn'),
              age,
          ],
      ),
      'dnn_regressor': dict(
          hidden_units=[4],
          label_dimension=2,
          feature_columns=[
              fc.indicator_column(item),
              fc.embedding_column(word_file, 2, combiner='sqrtn'),
              zeta_buckets,
          ],
      ),
      'linear_classifier': dict(
          n_classes=4,
          sparse_combiner='mean',
          feature_columns=[zeta, word_file, item, code_strict, city],
      ),
      'linear_regressor': dict(
          sparse_combiner='sqrtn',
          weight_column='weight',
          feature_columns=[age, zeta_buckets, item_hash, word],
      ),
      'combined_multi_class': dict(
          n_classes=3,
          dnn_hidden_units=[4],
          dnn_feature_columns=[
              fc.embedding_column(word, 2),
              zeta,
              fc.indicator_column(code),
          ],
          linear_feature_columns=[word, age_buckets, city, item],
      ),
      'combined_crossed': dict(
          n_classes=3,
          dnn_hidden_units=[3],
          dnn_feature_columns=[
              fc.embedding_column(fc.crossed_column(['word', code], 9), 2),
              fc.indicator_column(fc.crossed_column(['city', age_buckets], 5)),
          ],
          linear_feature_columns=[
              fc.crossed_column(['city', word], 11),
              fc.crossed_column(
                  [age_buckets, fc.crossed_column(['city', code], 3)],
                  13,
                  hash_key=7,
              ),
          ],
      ),
      'combined_binary_label_vocabulary': dict(
          label_vocabulary=['no', 'yes'],
          weight_column='weight',
          dnn_hidden_units=[3],
          dnn_feature_columns=[age, fc.embedding_column(city, 2)],
          linear_feature_columns=[word, code, zeta],
          linear_sparse_combiner='mean',
      ),
  }


# case name -> (estimator class, kwargs key, label kind)
_CASES = {
    'dnn_binary': (tf.estimator.DNNClassifier, 'classes2'),
    'dnn_multi_class': (tf.compat.v1.estimator.DNNClassifier, 'classes3'),
    'dnn_regressor': (tf.estimator.DNNRegressor, 'regression2'),
    'linear_classifier': (tf.estimator.LinearClassifier, 'classes4'),
    'linear_regressor': (tf.compat.v1.estimator.LinearRegressor, 'regression1'),
    'combined_multi_class': (
        tf.estimator.DNNLinearCombinedClassifier,
        'classes3',
    ),
    'combined_crossed': (tf.estimator.DNNLinearCombinedClassifier, 'classes3'),
    'combined_binary_label_vocabulary': (
        tf.compat.v1.estimator.DNNLinearCombinedClassifier,
        'vocabulary',
    ),
}


_FIRST = next(iter(_CASES))


class ExportParityTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    vocabulary_file = os.path.join(root, 'words.txt')
    with open(vocabulary_file, 'w') as f:
      f.write('gamma\nalpha\nbeta\nunused\n')
    rng = np.random.default_rng(0)
    features = _features(rng)
    kwargs = _columns(vocabulary_file)
    cls.expected, cls.exports, jobs = {}, {}, []
    for name, (estimator_class, label_kind) in _CASES.items():
      labels = export_testing.labels(label_kind, _N, rng)

      def input_fn(labels=labels):
        return (
            tf.data.Dataset.from_tensor_slices((features, labels))
            .batch(8)
            .repeat()
        )

      model_dir = os.path.join(root, name)
      estimator = estimator_class(model_dir=model_dir, **kwargs[name])
      estimator.train(input_fn, steps=6)
      cls.expected[name] = parity.estimator_predict(estimator, features)
      result = export.canned_to_keras(
          estimator_class, model_dir=model_dir, **kwargs[name]
      )
      target = os.path.join(root, name + '_keras')
      result.save(target)
      cls.exports[name] = result
      jobs.append((target, features))
    # One export writes its SavedModel through save(); the rest in one batch.
    first = jobs[0][0]
    export.canned_to_keras(
        _CASES[_FIRST][0],
        model_dir=os.path.join(root, _FIRST),
        **kwargs[_FIRST],
    ).save(first + '_served', saved_model=True)
    jobs[0] = (first + '_served', features)
    serving.write_saved_models([target for target, _ in jobs[1:]])
    cls.actual = dict(zip(_CASES, parity.modern_predict(jobs), strict=True))

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_predictions_equal(self, name):
    keras = {k: v for k, v in self.actual[name].items() if '/' not in k}
    measured = parity.compare(self.expected[name], keras)
    logging.info('parity %s: Keras 3 max %.3g', name, measured.max)
    self.assertLessEqual(measured.max, TOLERANCE, measured.table())
    for value in self.expected[name].values():
      self.assertLen(value, _N)

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_saved_model_serves_equal(self, name):
    prefix = serving.DIRECTORY + '/'
    served = {
        k.removeprefix(prefix): v
        for k, v in self.actual[name].items()
        if k.startswith(prefix)
    }
    measured = parity.compare(self.expected[name], served)
    logging.info('parity %s: saved_model max %.3g', name, measured.max)
    self.assertLessEqual(measured.max, TOLERANCE, measured.table())

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_prediction_keys(self, name):
    head = self.exports[name].spec['head']['type']
    keys = {
        'binary': {'logits', 'logistic', 'probabilities', 'class_ids'},
        'multi_class': {'logits', 'probabilities', 'class_ids'},
        'regression': {'predictions'},
    }[head]
    self.assertEqual({k for k in self.actual[name] if '/' not in k}, keys)
    self.assertEqual(set(self.expected[name]), keys)


if __name__ == '__main__':
  absltest.main()
