"""Paths as users type them: relative, absolute and symlinked, in every binary.

A model_dir trained with a relative `model_dir` (its state file names its
checkpoint relative to itself) is read by convert, inspect and export given
relative, absolute and symlinked paths, from another working directory than
the training's; a converted target's state file names the converted
checkpoint however the target was given, so a v2 estimator resumes at the
converted step and `tf.train.latest_checkpoint` finds it. The demo never
removes anything outside its workdir, whatever its marker lists.
"""

import hashlib
import json
import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.demo import workdir as workdir_lib
from estimator_migrate.tf2 import canned
from tests import canned_harness
from tests import testing

_CONVERT = 'estimator_migrate/cli/convert_checkpoint.py'
_INSPECT = 'estimator_migrate/cli/inspect_checkpoint.py'
_EXPORT = 'estimator_migrate/cli/export.py'
_DEMO = 'estimator_migrate/cli/demo.py'
_STEPS = 2
_STATE_FILE = 'checkpoint'  # TF's name
_PREFIX = f'model.ckpt-{_STEPS}'
_V1 = os.path.join('models', 'v1')  # relative to the class's root
_CONFIG = """
from tests import canned_harness


def kwargs():
  return dict(
      hidden_units=[4],
      feature_columns=canned_harness.dense_columns(),
      n_classes=canned_harness.N_CLASSES,
  )
"""


def _v1_kwargs() -> dict:
  return canned_harness.dnn_kwargs(tf.compat.v1.train.AdamOptimizer(0.01))


def _digests(directory: str) -> dict[str, str]:
  out = {}
  for root, _, names in os.walk(directory):
    for name in names:
      with open(os.path.join(root, name), 'rb') as f:
        out[os.path.relpath(os.path.join(root, name), directory)] = (
            hashlib.sha256(f.read()).hexdigest()
        )
  return out


class PathsTest(parameterized.TestCase):
  """One relatively trained model_dir, read and converted every way."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    test_tmpdir = absltest.get_default_test_tmpdir()
    os.makedirs(test_tmpdir, exist_ok=True)
    cls.root = tempfile.mkdtemp(dir=test_tmpdir)
    # Trained as a TF1 user does, with a relative model_dir.
    cwd = os.getcwd()
    os.chdir(cls.root)
    try:
      tf.compat.v1.estimator.DNNClassifier(
          model_dir=_V1,
          config=tf.estimator.RunConfig(tf_random_seed=0),
          **_v1_kwargs(),
      ).train(canned_harness.make_input_fn('Classifier', True), steps=_STEPS)
    finally:
      os.chdir(cwd)
    cls.v1 = os.path.join(cls.root, _V1)
    os.symlink(cls.v1, os.path.join(cls.root, 'v1_link'))
    cls.before = _digests(cls.v1)
    with open(os.path.join(cls.root, 'config.py'), 'w') as f:
      f.write(_CONFIG)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def tearDown(self):
    self.assertEqual(_digests(self.v1), self.before)  # the source is read only
    super().tearDown()

  def source(self, kind: str) -> str:
    """The source model_dir as a user types it, from the class's root."""
    return {
        'relative': _V1,
        'absolute': self.v1,
        'symlinked': os.path.join(self.root, 'v1_link'),
    }[kind]

  def target_dir(self, kind: str, name: str) -> tuple[str, str]:
    """(as typed from the root, absolute) for a new target directory."""
    absolute = os.path.join(self.root, name)
    if kind == 'relative':
      return name, absolute
    if kind == 'symlinked':
      real = os.path.join(self.root, f'{name}_real')
      os.mkdir(real)
      os.symlink(real, absolute)
    return absolute, absolute

  def test_state_file_is_relative_as_tf_wrote_it(self):
    with open(os.path.join(self.v1, _STATE_FILE)) as f:
      self.assertIn(f'model_checkpoint_path: "{_PREFIX}"', f.read())

  @parameterized.named_parameters(
      ('relative', '.', _V1),
      ('dotted', '.', f'./{_V1}/'),
      ('from_inside', _V1, os.path.join('..', 'v1')),
      ('symlinked', '.', 'v1_link'),
  )
  def test_state_prefix_resolves_as_tensorflow_does(self, cwd, typed):
    previous = os.getcwd()
    os.chdir(os.path.join(self.root, cwd))
    try:
      theirs = tf.train.get_checkpoint_state(typed).model_checkpoint_path
      self.assertEqual(files.state_prefix(typed), theirs)
      self.assertEqual(source_lib.resolve_prefix(typed), theirs)
      self.assertEqual(os.path.realpath(theirs), os.path.join(self.v1, _PREFIX))
    finally:
      os.chdir(previous)

  @parameterized.named_parameters(
      ('absolute_entry', 'model_checkpoint_path: "{v1}/{prefix}"'),
      ('entry_below', 'model_checkpoint_path: "sub/{prefix}"'),
      (
          'entry_given_twice',
          'model_checkpoint_path: "x"\nmodel_checkpoint_path: "{prefix}"',
      ),
  )
  def test_state_prefix_reads_entries_as_tensorflow_does(self, text):
    directory = self.create_tempdir().full_path
    with open(os.path.join(directory, _STATE_FILE), 'w') as f:
      f.write(text.format(v1=self.v1, prefix=_PREFIX) + '\n')
    theirs = tf.train.get_checkpoint_state(directory).model_checkpoint_path
    self.assertEqual(files.state_prefix(directory), theirs)

  @parameterized.named_parameters(
      ('relative', 'relative'),
      ('absolute', 'absolute'),
      ('symlinked', 'symlinked'),
  )
  def test_inspect(self, kind):
    result = testing.run_binary(
        _INSPECT, f'--source={self.source(kind)}', cwd=self.root
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertEqual(
        result.stdout.splitlines()[0], f'{self.source(kind)}/{_PREFIX}'
    )
    self.assertIn('| slot | Adam |', result.stdout)

  @parameterized.named_parameters(
      ('relative_to_relative', 'relative', 'relative'),
      ('absolute_to_absolute', 'absolute', 'absolute'),
      ('symlinked_to_symlinked', 'symlinked', 'symlinked'),
      ('relative_to_absolute', 'relative', 'absolute'),
      ('absolute_to_relative', 'absolute', 'relative'),
      ('symlinked_to_relative', 'symlinked', 'relative'),
  )
  def test_convert_then_a_v2_estimator_resumes(self, source, target):
    typed, directory = self.target_dir(target, f'v2_{source}_{target}')
    result = testing.run_binary(
        _CONVERT,
        f'--source={self.source(source)}',
        f'--target={os.path.join(typed, _PREFIX)}',
        cwd=self.root,
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    with open(os.path.join(directory, _STATE_FILE)) as f:
      self.assertIn(f'model_checkpoint_path: "{_PREFIX}"', f.read())
    prefix = os.path.join(directory, _PREFIX)
    self.assertEqual(tf.train.latest_checkpoint(directory), prefix)
    estimator = canned.make_v2_estimator(
        tf.compat.v1.estimator.DNNClassifier,
        model_dir=directory,
        **_v1_kwargs(),
    )
    estimator.train(canned_harness.make_input_fn('Classifier', True), steps=1)
    # Resumed at the converted step: a fresh start would be at step 1.
    self.assertEqual(estimator.get_variable_value('global_step'), _STEPS + 1)

  def test_export_a_relative_model_dir(self):
    result = testing.run_binary(
        _EXPORT,
        '--estimator=DNNClassifier',
        f'--model_dir={_V1}',
        '--config=config.py:kwargs',
        '--target=keras',
        cwd=self.root,
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertTrue(
        os.path.exists(os.path.join(self.root, 'keras', 'weights.npz'))
    )


class DemoWorkdirBinaryTest(parameterized.TestCase):
  """The demo binary given a workdir whose marker names what is not its own."""

  @parameterized.named_parameters(
      ('parent', '..', False),
      ('itself', '.', False),
      ('empty', '', False),
      ('absolute', 'ABSOLUTE', False),
      ('parent_through_a_symlinked_workdir', '..', True),
  )
  def test_nothing_outside_is_removed(self, name, through_link):
    parent = self.create_tempdir().full_path
    kept = os.path.join(parent, 'kept')
    os.mkdir(kept)
    with open(os.path.join(kept, 'data'), 'w') as f:
      f.write('mine')
    work = os.path.join(parent, 'work')
    os.mkdir(work)
    with open(os.path.join(work, 'report.md'), 'w') as f:
      f.write('old')
    if name == 'ABSOLUTE':
      name = kept
    with open(os.path.join(work, workdir_lib.MARKER), 'w') as f:
      json.dump({'outputs': ['report.md', name]}, f)
    given = work
    if through_link:
      given = os.path.join(self.create_tempdir().full_path, 'link')
      os.symlink(work, given)
    before = _digests(parent)
    result = testing.run_binary(_DEMO, f'--workdir={given}', '--steps=1')
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    self.assertLen(lines, 1, result.stderr[-2000:])
    self.assertRegex(
        lines[0],
        rf'^demo\.py: error: --workdir=\S+: its marker'
        rf' {workdir_lib.MARKER} lists .* nothing was removed',
    )
    self.assertEqual(_digests(parent), before)


if __name__ == '__main__':
  absltest.main()
