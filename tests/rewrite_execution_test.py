"""Rewritten corpus files train as their v1 originals do; tf_upgrade_v2's don't.

Each runnable corpus file defines `build_estimator(model_dir, config,
warm_start_from)`. The v1 reference runs the original file as TF 1.x meant
it (`import tensorflow as tf` bound to `tf.compat.v1`); the rewrite and
tf_upgrade_v2's output run under TF 2.15. All three warm-start from one
checkpoint written by the reference, train 6 steps on the same batches
(`tests/canned_harness`) and are evaluated on the same data.

Weights are compared as side_by_side does (max |w_v1 - w| / max(|w|, 1e-3))
with the per-optimizer tolerances tests/canned_optimizers_test.py measured;
eval losses within 1e-5 relative.
"""

import os
import types

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2

from estimator_migrate import side_by_side
from estimator_migrate.rewrite import transformer
from tests import canned_harness

CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
_STEPS = 6
# file: (kind, rewrite options, tolerance, what tf_upgrade_v2's output does)
_CASES = {
    'dnn_classifier_partitioned': (
        'Classifier',
        {},
        3e-4,
        'fails to construct',
    ),
    'tf1_defaults': ('Regressor', {}, 3e-5, 'trains differently'),
    'linear_compat_v1': ('Classifier', {}, 0.0, 'unchanged (compat.v1)'),
    'combined_from_import': ('Classifier', {}, 3e-5, 'unchanged (compat.v1)'),
    'dnn_regressor_alias': ('Regressor', {}, 5e-5, 'unchanged (compat.v1)'),
    'decay_schedule': ('Classifier', {}, 3e-4, 'unchanged (compat.v1)'),
    'rmsprop_exact': (
        'Regressor',
        {'exact': True},
        0.0,
        'unchanged (compat.v1)',
    ),
}


def _module(name: str, source: str) -> types.ModuleType:
  module = types.ModuleType(name)
  exec(compile(source, name, 'exec'), module.__dict__)  # pylint: disable=exec-used
  return module


def _upgraded(source: str, directory: str) -> str:
  before, after = (os.path.join(directory, n) for n in ('in.py', 'out.py'))
  with open(before, 'w') as f:
    f.write(source)
  upgrader = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
  upgrader.process_file(before, after)
  with open(after) as f:
    return f.read()


def _relative(v1: dict, other: dict) -> float:
  return max(
      float(np.max(np.abs(v1[k] - w) / np.maximum(np.abs(w), 1e-3)))
      for k, w in other.items()
      if w.size
  )


class RewriteTrainsLikeV1Test(parameterized.TestCase):

  def _train(self, module, root, name, kind, init):
    estimator = module.build_estimator(
        os.path.join(root, name),
        config=tf.estimator.RunConfig(tf_random_seed=0),
        warm_start_from=init,
    )
    estimator.train(canned_harness.make_input_fn(kind, True), steps=_STEPS)
    metrics = estimator.evaluate(canned_harness.make_input_fn(kind, False))
    return estimator.model_dir, metrics

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_rewrite_trains_like_v1(self, name):
    kind, options, tolerance, _ = _CASES[name]
    root = self.create_tempdir().full_path
    with open(os.path.join(CORPUS, 'before', f'{name}.py')) as f:
      source = f.read()
    # TF 1.x's `tf` is v1: the reference binds it to tf.compat.v1.
    v1 = _module(
        'v1',
        source.replace(
            'import tensorflow as tf\n', 'import tensorflow.compat.v1 as tf\n'
        ),
    )
    new, _ = transformer.rewrite_source(
        source, name, transformer.Options(**options)
    )
    init = os.path.join(root, 'init')
    v1.build_estimator(init, tf.estimator.RunConfig(tf_random_seed=0)).train(
        canned_harness.make_input_fn(kind, True), steps=1
    )
    v1_dir, v1_metrics = self._train(v1, root, 'v1', kind, init)
    v2_dir, v2_metrics = self._train(_module('v2', new), root, 'v2', kind, init)
    v1_weights, v2_weights = side_by_side.model_variables(v1_dir, v2_dir)
    self.assertLessEqual(_relative(v1_weights, v2_weights), tolerance)
    self.assertAlmostEqual(
        v1_metrics['loss'], v2_metrics['loss'], delta=1e-5 * v1_metrics['loss']
    )

  @parameterized.named_parameters(
      (
          'optimizer_given',
          'dnn_classifier_partitioned',
          'Invalid loss_reduction',
      ),
  )
  def test_tf_upgrade_v2_output_fails_to_construct(self, name, message):
    with open(os.path.join(CORPUS, 'before', f'{name}.py')) as f:
      upgraded = _upgraded(f.read(), self.create_tempdir().full_path)
    module = _module('upgraded', upgraded)
    with self.assertRaisesRegex(ValueError, message):
      module.build_estimator(self.create_tempdir().full_path)


if __name__ == '__main__':
  absltest.main()
