"""Training continues: an exported estimator fits on where the estimator stops.

Each case trains a small v2 canned estimator a few steps, exports it, then
trains the estimator M more steps on the TF 2.15 stack while the export,
`load(compile=True)` in the modern environment (TensorFlow 2.21, Keras 3),
`fit`s the same M batches (`shuffle=False`); every variable must agree.
One subprocess serves every case. Features repeat ids within an example and
across a batch (embedding gradients with repeated rows) and hold `''`/-1.
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

fc = tf.feature_column
# Measured max |estimator - Keras 3| after M steps (docs/export.md), over
# two runs: at most 3.0e-8 for every optimizer (float rounding); the bound
# leaves room for other CPUs.
TOLERANCE = {'Adam': 1e-6, 'Adagrad': 1e-6, 'Ftrl': 1e-6, 'SGD': 1e-6}
_BATCH = 8
_STEPS = 3  # before the export
_MORE = 4  # M: after it, on both sides
_N = _BATCH * (_STEPS + _MORE)


def _features(rng: np.random.Generator) -> dict:
  words = np.array(['a', 'b', 'c', 'unseen', ''])
  return {
      'x': rng.normal(size=(_N, 2)).astype(np.float32),
      'word': rng.choice(words, size=(_N, 3)),
      'tag': rng.choice(words, size=(_N, 1)),
      'code': rng.choice([-1, 0, 1, 2], size=(_N, 2)).astype(np.int64),
  }


def _kwargs() -> dict:
  x = fc.numeric_column('x', shape=(2,))
  word = fc.categorical_column_with_vocabulary_list(
      'word', ['a', 'b', 'c'], num_oov_buckets=1
  )
  code = fc.categorical_column_with_identity('code', 3)
  hashed = fc.categorical_column_with_hash_bucket('tag', 5)
  x_buckets = fc.bucketized_column(x, [0.0])
  return {
      'dnn_adam': dict(
          hidden_units=[4],
          n_classes=3,
          optimizer='Adam',
          feature_columns=[x, fc.embedding_column(word, 2)],
      ),
      'dnn_adagrad': dict(
          hidden_units=[4, 3],
          label_dimension=2,
          feature_columns=[fc.embedding_column(code, 2, combiner='sqrtn'), x],
      ),
      'dnn_sgd_momentum': dict(
          hidden_units=[3],
          optimizer=lambda: tf.keras.optimizers.legacy.SGD(0.05, momentum=0.9),
          feature_columns=[fc.embedding_column(word, 2, combiner='sum'), x],
      ),
      'linear_ftrl': dict(
          feature_columns=[x, word, hashed, x_buckets],
      ),
      'linear_adagrad': dict(
          optimizer='Adagrad',
          sparse_combiner='mean',
          feature_columns=[x, word, code],
      ),
      'combined_adam_ftrl': dict(
          n_classes=3,
          dnn_hidden_units=[4],
          dnn_optimizer='Adam',
          dnn_feature_columns=[x, fc.embedding_column(word, 2)],
          linear_feature_columns=[word, code, x],
      ),
  }


_CASES = {
    'dnn_adam': (tf.estimator.DNNClassifier, 3, ('Adam',)),
    'dnn_adagrad': (tf.estimator.DNNRegressor, -2, ('Adagrad',)),
    'dnn_sgd_momentum': (tf.estimator.DNNClassifier, 2, ('SGD',)),
    'linear_ftrl': (tf.estimator.LinearClassifier, 2, ('Ftrl',)),
    'linear_adagrad': (tf.estimator.LinearRegressor, -1, ('Adagrad',)),
    'combined_adam_ftrl': (
        tf.estimator.DNNLinearCombinedClassifier,
        3,
        ('Adam', 'Ftrl'),
    ),
}


def _labels(classes: int, rng: np.random.Generator) -> np.ndarray:
  if classes > 0:
    return rng.integers(0, classes, size=(_N, 1))
  return rng.normal(size=(_N, -classes)).astype(np.float32)


class ExportContinueTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(1)
    features = _features(rng)
    kwargs = _kwargs()
    split = _BATCH * _STEPS
    later = {k: v[split:] for k, v in features.items()}
    cls.exported, cls.estimator, cls.specs, jobs = {}, {}, {}, []
    for name, (estimator_class, classes, _) in _CASES.items():
      labels = _labels(classes, rng)

      def input_fn(start, stop, labels=labels):
        data = (features, labels)
        return lambda: (
            tf.data.Dataset.from_tensor_slices(data)
            .skip(start)
            .take(stop - start)
            .batch(_BATCH)
        )

      model_dir = os.path.join(root, name)
      estimator = estimator_class(model_dir=model_dir, **kwargs[name])
      estimator.train(input_fn(0, split), steps=_STEPS)
      result = export.canned_to_keras(
          estimator_class, model_dir=model_dir, **kwargs[name]
      )
      target = os.path.join(root, name + '_keras')
      result.save(target)
      estimator.train(input_fn(split, _N), steps=_MORE)
      reader = tf.train.load_checkpoint(model_dir)
      cls.exported[name] = result.arrays
      cls.specs[name] = result.spec
      cls.estimator[name] = {
          n: reader.get_tensor(n)
          for names in result.spec.model.weights.values()
          for n in names
      }
      if classes == 2:  # binary cross-entropy takes float labels
        targets = {'logits': labels[split:].astype(np.float32)}
      elif classes > 2:
        targets = {'logits': labels[split:]}
      else:
        targets = {'predictions': labels[split:]}
      jobs.append((target, later, targets, _BATCH))
    fits = parity.modern_fit(jobs)
    cls.keras = {n: dict(f.weights) for n, f in zip(_CASES, fits, strict=True)}
    cls.fits = dict(zip(_CASES, fits, strict=True))

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_weights_agree_after_training_on(self, name):
    optimizers = _CASES[name][2]
    tolerance = max(TOLERANCE[o] for o in optimizers)
    self.assertEqual(
        [o.keras_class for o in self.specs[name].training.optimizers],
        list(optimizers),
    )
    gap = max(
        float(np.max(np.abs(self.keras[name][n] - w)))
        for n, w in self.estimator[name].items()
    )
    logging.info('continue %s: max |estimator - Keras 3| %.3g', name, gap)
    for variable, want in self.estimator[name].items():
      got = self.keras[name][variable]
      np.testing.assert_allclose(
          got, want, rtol=0, atol=tolerance, err_msg=variable
      )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_training_moved_the_weights(self, name):
    moved = max(
        np.max(np.abs(self.estimator[name][n] - self.exported[name][n]))
        for n in self.estimator[name]
    )
    # Far beyond the agreement bound, so agreement is not vacuous.
    tolerance = max(TOLERANCE[o] for o in _CASES[name][2])
    self.assertGreater(moved, 100 * tolerance)

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_fit_reports_the_training_loss(self, name):
    # The generated train_step feeds Keras' loss tracker as Keras' own does:
    # the reported loss is the mean of the batches' losses (equal batches,
    # no dropout, so inference-mode losses are the training losses).
    fit = self.fits[name]
    self.assertLen(fit.losses, _MORE)
    self.assertGreater(fit.reported_loss, 0.0)
    self.assertAlmostEqual(
        fit.reported_loss,
        float(np.mean(fit.losses)),
        delta=1e-5 * fit.reported_loss,
    )


if __name__ == '__main__':
  absltest.main()
