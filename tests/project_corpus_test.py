"""Whole TF 1.x projects migrate with one rewrite command, as users run them.

For each project of `tests/project_corpus/` (several modules: flags and
`main`, feature-column builders, a model module choosing among estimators,
`RunConfig` with a `tf.ConfigProto`, `train_and_evaluate` with a hook,
`export_savedmodel` with a parsing serving input fn, `tf.logging` and
`tf.gfile`, relative paths):

1. v1: the project trains as TF 1.x ran it (`project_harness.as_tf1`);
2. `estimator-migrate-convert --source=models/run --target=...` (relative
   paths) converts its checkpoint into the user's copy;
3. v1 trains on (the reference continuation);
4. ONE `estimator-migrate-rewrite --in_place --to_keras` on the user's copy,
   run from its parent directory with a relative path, no hand edit (for
   the project marked `upgraded`, `tf_upgrade_v2` ran over it first, as the
   guide's first step has users do);
5. the rewritten project trains on from the converted checkpoint, exports
   its SavedModel, and its weights equal v1's continuation within the
   optimizer's measured tolerance (tests/tolerances.py);
6. its Keras 3 exit (`estimator.to_keras().save(DIR)`) exports it, and the
   export predicts on Keras 3 (.venv-modern) as the estimator does.
Also: tf_upgrade_v2's own output of the project, rewritten, equals the
rewrite of the project (the rewrite finishes tf_upgrade_v2's forms
exactly); and the other order (rewrite, then tf_upgrade_v2) fails loudly at
construction, and a second rewrite restores the first one's text.

The figures:
  pytest tests/project_corpus_test.py -o log_cli=true --log-cli-level=INFO
"""

import dataclasses
import os
import shutil

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.export import parity
from estimator_migrate.rewrite import files
from estimator_migrate.rewrite import transformer
from estimator_migrate.tf2 import differences
from estimator_migrate.tf2 import side_by_side
from tests import project_harness
from tests import testing
from tests import tolerances

_V1_STEPS = 3
_MORE_STEPS = 3
_REWRITE = 'estimator_migrate/cli/rewrite.py'
_CONVERT = 'estimator_migrate/cli/convert_checkpoint.py'
# estimator.predict vs Keras 3, float32 (as tests/rewrite_to_keras_test.py).
_PREDICTION_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class Project:
  """A corpus project and how it is checked.

  `optimizer`: the tests/tolerances.py case bounding its continuation.
  `flags`: the task's flags choosing what the run trains. `keras`: the
  construction gets a Keras 3 exit (the exporter takes DNN, Linear and
  DNNLinearCombined Classifier/Regressor). `upgraded`: the user ran
  tf_upgrade_v2 over it before the rewrite.
  """

  kind: str
  n_classes: int
  optimizer: str
  flags: tuple[str, ...] = ()
  keras: bool = True
  upgraded: bool = False
  # The task's own names for the model_dir, step and export flags.
  names: tuple[str, str, str] = ('model_dir', 'train_steps', 'export_dir')
  # The flags that train its custom model_fn instead, if it has one.
  custom: tuple[str, ...] = ()

  def argv(self, model_dir, steps, export=None, custom=False) -> list[str]:
    directory, step, exports = self.names
    flags = self.custom if custom else self.flags
    argv = [f'--{directory}={model_dir}', f'--{step}={steps}', *flags]
    return argv + ([f'--{exports}={export}'] if export else [])


PROJECTS = {
    # DNNLinearCombinedClassifier, default optimizers (Adagrad + Ftrl with
    # v1's capped rate over columns built in a function).
    'census_wide_deep': Project('Classifier', 2, 'adagrad'),
    # DNNRegressor, Adam with the learning rate from a flag.
    'housing_dnn': Project('Regressor', 1, 'adam'),
    # LinearClassifier (3 classes), an Ftrl optimizer held in a variable.
    'linear_ftrl': Project('Classifier', 3, 'ftrl'),
    # BaselineRegressor beside a custom model_fn.
    'baseline_custom': Project(
        'Regressor',
        1,
        'sgd',
        names=('job-dir', 'train-steps', 'export-dir'),
        custom=('--estimator=custom',),
    ),
    # DNNEstimator with tf.contrib.estimator.multi_class_head, Momentum.
    'heads_estimator': Project(
        'Classifier',
        3,
        'momentum',
        keras=False,
        names=('model_dir', 'steps', 'export'),
    ),
    # DNNClassifier (3 classes), Adagrad; tf_upgrade_v2 ran first.
    'upgraded_dnn': Project(
        'Classifier',
        3,
        'adagrad',
        upgraded=True,
        names=('output_dir', 'max_steps', 'export_dir'),
    ),
}


def _max_difference(a: str, b: str) -> float:
  """Max |difference| over the variables of two model_dirs' checkpoints."""
  first, second = tf.train.load_checkpoint(a), tf.train.load_checkpoint(b)
  names = sorted(first.get_variable_to_shape_map())
  if names != sorted(second.get_variable_to_shape_map()):
    raise AssertionError(f'{a} and {b} hold different variables')
  return max(
      float(np.max(np.abs(first.get_tensor(n) - second.get_tensor(n))))
      for n in names
      if np.issubdtype(np.asarray(first.get_tensor(n)).dtype, np.floating)
  )


class ProjectCorpusTest(parameterized.TestCase):

  @parameterized.named_parameters((name, name) for name in PROJECTS)
  def test_one_rewrite_and_the_project_continues_as_v1(self, name):
    project = PROJECTS[name]
    root = self.create_tempdir().full_path
    v1 = project_harness.copy(name, os.path.join(root, 'v1'))
    user = project_harness.copy(name, os.path.join(root, 'user'))
    features = project_harness.write_data(v1, project.kind, project.n_classes)
    project_harness.write_data(user, project.kind, project.n_classes)
    project_harness.as_tf1(v1)
    original = project_harness.sources(user)

    with project_harness.inside(v1):
      project_harness.main(project.argv('models/run', _V1_STEPS))
    converted = testing.run_binary(
        _CONVERT,
        '--source=models/run',
        # Relative to v1's directory, as a user in the v1 project types it.
        f'--target=../user/models/v2/model.ckpt-{_V1_STEPS}',
        cwd=v1,
    )
    self.assertEqual(converted.returncode, 0, converted.stderr)
    with project_harness.inside(v1):
      project_harness.main(project.argv('models/run', _V1_STEPS + _MORE_STEPS))
      if project.custom:
        # A custom model_fn keeps its (compat.v1) optimizer: its checkpoint
        # continues as it is.
        project_harness.main(
            project.argv('models/custom', _V1_STEPS, custom=True)
        )
        shutil.copytree('models/custom', os.path.join(user, 'models/custom'))
        project_harness.main(
            project.argv('models/custom', _V1_STEPS + _MORE_STEPS, custom=True)
        )

    if project.upgraded:
      project_harness.tf_upgrade_v2_tree(user)
    rewritten = testing.run_binary(
        _REWRITE,
        '--in_place',
        '--to_keras',
        '--report=rewrite.md',
        'user',
        cwd=root,
    )
    self.assertEqual(rewritten.returncode, 0, rewritten.stderr)
    self.assertNotIn('Traceback', rewritten.stderr)
    # Nothing left but the Keras exit of a family the exporter lacks.
    left = [
        line
        for line in rewritten.stderr.splitlines()
        if 'left unchanged' in line
    ]
    self.assertLen(left, 0 if project.keras else 1)
    self.assertTrue(all(': to_keras left unchanged' in line for line in left))
    with open(os.path.join(root, 'rewrite.md')) as f:
      report = f.read()
    self.assertIn('tf_upgrade_v2', report)
    new_sources = project_harness.sources(user)
    self.assertNotEqual(new_sources, original)

    with project_harness.inside(user):
      estimator = project_harness.main(
          project.argv('models/v2', _V1_STEPS + _MORE_STEPS, 'export')
      )
      self.assertTrue(os.listdir('export'))  # export_saved_model ran
      v1_weights, v2_weights = side_by_side.model_variables(
          os.path.join(v1, 'models', 'run'), 'models/v2'
      )
      continuation = differences.weight_difference(
          v2_weights, v1_weights
      ).relative
      prediction = None
      if project.keras:
        target = estimator.to_keras().save(os.path.join(root, 'keras'))
        expected = parity.estimator_predict(estimator, features)
      if project.custom:
        project_harness.main(
            project.argv('models/custom', _V1_STEPS + _MORE_STEPS, custom=True)
        )
        custom = _max_difference(
            os.path.join(v1, 'models/custom'), 'models/custom'
        )
        logging.info(
            'project %s: custom model_fn continuation %g', name, custom
        )
        self.assertEqual(custom, 0.0)
    if project.keras:
      (got,) = parity.modern_predict([(target, features)])
      prediction = parity.compare(expected, got).max
      output = 'logits' if project.kind == 'Classifier' else 'predictions'
      # Trained, not at its initial zeros: predictions vary over the rows, or
      # (a Baseline, one bias for every row) moved off zero.
      trained = np.ptp(expected[output]) + np.abs(expected[output]).min()
      self.assertGreater(float(trained), 1e-4)
    logging.info(
        'project %s: continuation max rel weight diff %.3g (bound %g);'
        ' Keras 3 prediction max |diff| %s',
        name,
        continuation,
        tolerances.OPTIMIZERS[project.optimizer].continued,
        'n/a' if prediction is None else f'{prediction:.3g}',
    )
    self.assertLessEqual(
        continuation, tolerances.OPTIMIZERS[project.optimizer].continued
    )
    if prediction is not None:
      self.assertLessEqual(prediction, _PREDICTION_TOLERANCE)
    self._check_orders(name, project, root, new_sources)

  def _check_orders(self, name, project, root, rewritten):
    """tf_upgrade_v2 before the rewrite: the same; after it: a loud failure."""
    options = transformer.Options(to_keras=True)
    if not project.upgraded:
      upgraded = project_harness.copy(name, os.path.join(root, 'upgraded'))
      project_harness.tf_upgrade_v2_tree(upgraded)
      files.rewrite_paths([upgraded], in_place=True, options=options)
      self.assertEqual(project_harness.sources(upgraded), rewritten)
    after = os.path.join(root, 'after')
    shutil.copytree(os.path.join(root, 'user'), after)
    project_harness.tf_upgrade_v2_tree(after)
    with project_harness.inside(after):
      # Classifiers/Regressors: the compat.v1 class rejects Keras' SUM at
      # construction; *Estimator: v1 rejects the Keras optimizer at train().
      with self.assertRaisesRegex(
          ValueError, 'Invalid loss_reduction|not an Optimizer instance'
      ):
        project_harness.main(project.argv('models/x', 1))
    files.rewrite_paths([after], in_place=True, options=options)
    self.assertEqual(project_harness.sources(after), rewritten)


if __name__ == '__main__':
  absltest.main()
