"""Rewritten corpus files train as their v1 originals do; tf_upgrade_v2's don't.

Each runnable corpus file defines `build_estimator(model_dir, config,
warm_start_from)`. The v1 reference runs the original file as TF 1.x meant
it (`tf` and `tensorflow.estimator` bound to their compat.v1 modules); the
rewrite and tf_upgrade_v2's output run under TF 2.15. The figures:
  pytest tests/rewrite_execution_test.py -o log_cli=true --log-cli-level=INFO All three warm-start from one
checkpoint written by the reference, train 2 x 3 steps on the same batches
(`tests/canned_harness`) and are evaluated on the same data.

Weights are compared as side_by_side does (max |w_v1 - w| / max(|w|, 1e-3))
with the per-optimizer tolerances tests/canned_optimizers_test.py measured;
eval losses within 1e-5 relative.
"""

import os
import types

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2

from estimator_migrate.rewrite import transformer
from estimator_migrate.tf2 import differences
from estimator_migrate.tf2 import side_by_side
from tests import canned_harness

CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
_STEPS = 6
# TF 1.x's `tensorflow.estimator` and `tf` were v1.
_AS_TF1 = (
    ('import tensorflow as tf\n', 'import tensorflow.compat.v1 as tf\n'),
    (
        'from tensorflow.estimator import',
        'from tensorflow.compat.v1.estimator import',
    ),
)
# What tf_upgrade_v2's output of a file does.
_FAILS = 'fails to construct'  # compat.v1 class + a Keras loss_reduction
_DIFFERS = 'trains, not as v1 did'  # v2 class, v2 defaults
_STILL_V1 = 'unchanged: still compat.v1'
# file: (kind, rewrite options, tolerance, what tf_upgrade_v2's output does)
_CASES = {
    'dnn_classifier_partitioned': ('Classifier', {}, 3e-4, _FAILS),
    'tf1_defaults': ('Regressor', {}, 3e-5, _DIFFERS),
    'from_tensorflow_estimator': ('Regressor', {}, 3e-4, _DIFFERS),
    'linear_compat_v1': ('Classifier', {}, 0.0, _STILL_V1),
    'combined_from_import': ('Classifier', {}, 3e-5, _STILL_V1),
    'dnn_regressor_alias': ('Regressor', {}, 5e-5, _STILL_V1),
    'decay_schedule': ('Classifier', {}, 3e-4, _STILL_V1),
    'rmsprop_exact': ('Regressor', {'exact': True}, 0.0, _STILL_V1),
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


class RewriteTrainsLikeV1Test(parameterized.TestCase):

  def _train(self, module, root, name, kind, init):
    estimator = module.build_estimator(
        os.path.join(root, name),
        config=tf.estimator.RunConfig(tf_random_seed=0),
        warm_start_from=init,
    )
    # Two train() calls: each builds a new graph, as users' loops do (a Keras
    # optimizer instance, rather than a factory, fails in the second).
    for _ in range(2):
      estimator.train(
          canned_harness.make_input_fn(kind, True), steps=_STEPS // 2
      )
    metrics = estimator.evaluate(canned_harness.make_input_fn(kind, False))
    return estimator.model_dir, metrics

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_rewrite_trains_like_v1(self, name):
    kind, options, tolerance, _ = _CASES[name]
    root = self.create_tempdir().full_path
    with open(os.path.join(CORPUS, 'before', f'{name}.py')) as f:
      source = f.read()
    reference = source
    for tf1, compat in _AS_TF1:
      reference = reference.replace(tf1, compat)
    v1 = _module('v1', reference)
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
    difference = differences.weight_difference(v2_weights, v1_weights).relative
    logging.info(
        '%s rewrite: loss v1 %.6g, rewritten %.6g; max rel weight diff %.2g',
        name,
        v1_metrics['loss'],
        v2_metrics['loss'],
        difference,
    )
    self.assertLessEqual(difference, tolerance)
    self.assertAlmostEqual(
        v1_metrics['loss'], v2_metrics['loss'], delta=1e-5 * v1_metrics['loss']
    )
    self._check_tf_upgrade_v2(name, source, root, kind, init, v1_dir)

  def _check_tf_upgrade_v2(self, name, source, root, kind, init, v1_dir):
    """tf_upgrade_v2's output of the same file does what _CASES says."""
    verdict = _CASES[name][3]
    upgraded = _upgraded(source, self.create_tempdir().full_path)
    if verdict == _STILL_V1:
      self.assertEqual(upgraded, source)
      return
    module = _module('upgraded', upgraded)
    if verdict == _FAILS:
      with self.assertRaisesRegex(ValueError, 'Invalid loss_reduction'):
        module.build_estimator(os.path.join(root, 'upgraded'))
      return
    up_dir, up_metrics = self._train(module, root, 'upgraded', kind, init)
    v1_weights, up_weights = side_by_side.model_variables(v1_dir, up_dir)
    difference = differences.weight_difference(up_weights, v1_weights).relative
    logging.info(
        '%s tf_upgrade_v2: loss %.6g; max rel weight diff %.2g',
        name,
        up_metrics['loss'],
        difference,
    )
    self.assertGreater(difference, 1e-2)


if __name__ == '__main__':
  absltest.main()
