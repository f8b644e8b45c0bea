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
from tests import export_cases
from tests import export_testing

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


_columns = export_cases.parity_kwargs
_CASES = export_cases.PARITY_CASES


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
    head = self.exports[name].spec.model.head.type
    keys = {
        'binary': {'logits', 'logistic', 'probabilities', 'class_ids'},
        'multi_class': {'logits', 'probabilities', 'class_ids'},
        'regression': {'predictions'},
    }[head]
    # Classifiers also give the estimator's string keys (export_serving_test
    # holds them equal to the estimator's).
    strings = {'classes', 'all_classes', 'all_class_ids'}
    if head != 'regression':
      keys = keys | strings
    self.assertEqual({k for k in self.actual[name] if '/' not in k}, keys)
    self.assertEqual(set(self.expected[name]), keys - strings)


if __name__ == '__main__':
  absltest.main()
