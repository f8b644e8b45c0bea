"""The rewriter's Keras exit runs: the exported model predicts as trained.

`tests/rewrite_corpus/before/to_keras_forms.py` (TF 1.x) rewritten with
`to_keras=True` runs under TF 2.15: its `build_estimator` (a
DNNLinearCombinedClassifier, Adam + Ftrl) trains a few steps, then the
emitted `estimator.to_keras().save(DIR)` exports it, and the export's
`model.py`, loaded in the modern environment (TensorFlow 2.21, Keras 3),
predicts what `estimator.predict` does.
"""

import os
import types

from absl import logging
from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate.export import parity
from estimator_migrate.rewrite import transformer
from tests import canned_harness

CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
# estimator.predict vs Keras 3, float32 (docs/rewrite.md gives the measure).
TOLERANCE = 1e-5


class KerasExitRunsTest(absltest.TestCase):

  def test_emitted_export_predicts_as_the_estimator(self):
    with open(os.path.join(CORPUS, 'before', 'to_keras_forms.py')) as f:
      source = f.read()
    new, _ = transformer.rewrite_source(
        source, 'to_keras_forms.py', transformer.Options(to_keras=True)
    )
    module = types.ModuleType('to_keras_forms')
    exec(compile(new, 'to_keras_forms.py', 'exec'), module.__dict__)  # noqa: S102
    root = self.create_tempdir().full_path
    estimator = module.build_estimator(
        os.path.join(root, 'model'), tf.estimator.RunConfig(tf_random_seed=0)
    )
    estimator.train(canned_harness.make_input_fn('Classifier', True), steps=4)
    target = estimator.to_keras().save(os.path.join(root, 'keras'))
    features, _ = canned_harness.features_and_labels('Classifier')
    expected = parity.estimator_predict(estimator, features)
    (got,) = parity.modern_predict([(target, features)])
    gap = parity.compare(expected, got)
    logging.info('rewrite to_keras parity: max %.3g\n%s', gap.max, gap.table())
    self.assertEqual(
        sorted(gap.max_abs_diff), ['class_ids', 'logits', 'probabilities']
    )
    self.assertLessEqual(gap.max, TOLERANCE)
    self.assertGreater(float(np.ptp(expected['logits'])), 1e-2)  # trained


if __name__ == '__main__':
  absltest.main()
