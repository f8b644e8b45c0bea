"""Fault injection for estimator-migrate-export, run through the real binary.

As `faults_test` does for the converter, each case asserts what a user sees
and what is left behind: exit 2 with one line on stderr naming the flag or
file and what to do (never a traceback, never "Wrote"), the source model_dir
byte-identical (sha256 of every file before and after), and no target or
temporary directory left behind. The source is a v1 DNNClassifier trained
with Momentum, whose optimizer state the export converts as the converter
does.
"""

import fcntl
import os
import signal
import subprocess
import sys
import time
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints.bundle import index as index_lib
from estimator_migrate.export import exporter
from estimator_migrate.export import modern
from tests import canned_harness
from tests import fault_harness
from tests import testing

_BINARY = 'estimator_migrate/cli/export.py'
_PREFIX = 'model.ckpt-2'
_DATA = f'{_PREFIX}.data-00000-of-00001'
_FILES = ['integrity.json', 'model.py', 'report.md', 'spec.json', 'weights.npz']
_CONFIG = """
import tensorflow as tf

from tests import canned_harness

# Feature columns warn that they are deprecated; the cases read stderr.
tf.get_logger().setLevel('ERROR')


def kwargs():
  return dict(
      hidden_units=[4],
      feature_columns=canned_harness.dense_columns(),
      n_classes=canned_harness.N_CLASSES,
  )


def misspelled():
  return dict(kwargs(), activaton_fn=tf.nn.tanh)
"""
# Runs the binary with a file put into the target while the export writes.
_PUT_A_FILE = """
import runpy, sys
from estimator_migrate.export import target
real = target._write_files
def writing(temporary, where, texts, arrays):
  written = real(temporary, where, texts, arrays)
  with open(where + '/notes.txt', 'w') as f:
    f.write("the user's own")
  return written
target._write_files = writing
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""
# A modern environment that fails: with a traceback, or without a word.
_FAILING_PYTHON = """#!/bin/sh
echo 'Traceback (most recent call last):' >&2
echo '  File "<string>", line 9, in <module>' >&2
echo 'ValueError: boom in the modern environment' >&2
exit 1
"""
_SILENT_PYTHON = '#!/bin/sh\nexit 3\n'


def _flip(path: str, at: int, count: int) -> None:
  with open(path, 'r+b') as f:
    f.seek(at)
    original = f.read(count)
    f.seek(at)
    f.write(bytes(b ^ 0xFF for b in original))


def _flip_tensor(name: str):
  """Flips the last byte of a tensor's stored bytes."""

  def mutate(directory):
    entry = index_lib.read_index(os.path.join(directory, _PREFIX)).entries[name]
    _flip(os.path.join(directory, _DATA), entry.offset + entry.size - 1, 1)

  return mutate


def _children(pid: int) -> list[int]:
  """The processes whose parent is `pid` (from /proc)."""
  found = []
  for entry in os.listdir('/proc'):
    if not entry.isdigit():
      continue
    try:
      with open(f'/proc/{entry}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
      continue
    if int(fields[1]) == pid:
      found.append(int(entry))
  return found


def _alive(pid: int) -> bool:
  """Running (not gone, not a zombie waiting to be reaped)."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      state = f.read().rsplit(')', 1)[1].split()[0]
  except OSError:
    return False
  return state not in ('Z', 'X')


class ExportFaultsTest(fault_harness.SourceCopies):

  def assert_refused(self, result, *patterns: str, also: str = '') -> str:
    """Exit 2, one line `export.py: error: ...` matching every pattern."""
    return super().assert_refused(
        result, r'^export\.py: error: \S', *patterns, also=also
    )

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model_dir = os.path.join(cls.root, 'momentum')
    fault_harness.train_dnn(
        cls.model_dir, tf.compat.v1.train.MomentumOptimizer(0.1, 0.9)
    )
    cls.config = os.path.join(cls.root, 'config.py')
    with open(cls.config, 'w') as f:
      f.write(_CONFIG)

  def source(self, mutate=None, as_name: str = 'v1') -> str:
    """A private copy of the model_dir, its digests kept for tearDown."""
    return self.copy_source(self.model_dir, as_name, mutate)

  def flags(
      self, model_dir: str, target: str, *args: str, config: str = 'kwargs'
  ) -> list[str]:
    return [
        '--estimator=DNNClassifier',
        f'--model_dir={model_dir}',
        f'--config={self.config}:{config}',
        f'--target={target}',
        *args,
    ]

  def start(self, *flags: str, **kwargs) -> subprocess.Popen:
    """Starts the binary as `testing.run_binary` runs it."""
    return subprocess.Popen(
        [sys.executable, os.path.join(testing.REPO_ROOT, _BINARY), *flags],
        env=dict(
            os.environ, PYTHONPATH=testing.REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='3'
        ),
        **kwargs,
    )

  def export(
      self,
      model_dir: str,
      target: str,
      *args: str,
      config: str = 'kwargs',
      **kwargs,
  ) -> subprocess.CompletedProcess:
    return testing.run_binary(
        _BINARY, *self.flags(model_dir, target, *args, config=config), **kwargs
    )

  def assert_nothing_left(self, directory: str) -> None:
    """No export and no temporary directory in `directory`."""
    left = [n for n in os.listdir(directory) if n == 'keras' or '.tmp-' in n]
    self.assertEqual(left, [])

  def assert_exported(self, result, target: str) -> None:
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn(f'Wrote {target}', result.stdout)
    self.assertEqual(sorted(os.listdir(target)), _FILES)
    parent = os.path.dirname(target)
    self.assertEqual([n for n in os.listdir(parent) if '.tmp-' in n], [])

  # 1, 10: nothing read is trusted; corruption is never laundered.

  @parameterized.named_parameters(
      ('momentum_slot', 'dnn/hiddenlayer_0/kernel/t_0/Momentum'),
      ('model_weight', 'dnn/logits/kernel'),
  )
  def test_flipped_byte_is_refused(self, tensor):
    v1 = self.source(_flip_tensor(tensor))
    result = self.export(v1, os.path.join(self.work, 'keras'))
    self.assert_refused(result, f'{v1}/{_DATA}', 'CRC-32C', repr(tensor))
    self.assertNotIn('Wrote', result.stdout)
    self.assert_nothing_left(self.work)

  def test_flipped_byte_is_a_migration_error_from_the_library(self):
    v1 = self.source(_flip_tensor('dnn/logits/bias/t_0/Momentum'))
    with self.assertRaisesRegex(errors.CheckpointError, 'CRC-32C'):
      exporter.canned_to_keras(
          'DNNClassifier',
          model_dir=v1,
          hidden_units=[4],
          feature_columns=canned_harness.dense_columns(),
          n_classes=canned_harness.N_CLASSES,
      )

  def test_truncated_data_is_refused(self):
    v1 = self.source(lambda d: os.truncate(os.path.join(d, _DATA), 100))
    result = self.export(v1, os.path.join(self.work, 'keras'))
    self.assert_refused(result, _DATA, 'corrupt or truncated')
    self.assert_nothing_left(self.work)

  @parameterized.named_parameters(
      (
          'meta',
          lambda d: fault_harness.overwrite(
              os.path.join(d, f'{_PREFIX}.meta'), 0, b'\xff' * 64
          ),
          r'\.meta',
      ),
      (
          'graph_pbtxt',
          lambda d: [
              os.remove(os.path.join(d, f'{_PREFIX}.meta')),
              fault_harness.overwrite(
                  os.path.join(d, 'graph.pbtxt'), 0, b'\xff\xfe('
              ),
          ],
          'graph.pbtxt',
      ),
  )
  def test_corrupt_graph_is_refused(self, mutate, pattern):
    v1 = self.source(mutate)
    result = self.export(v1, os.path.join(self.work, 'keras'))
    self.assert_refused(result, 'cannot parse graph', pattern, 'from a backup')
    self.assert_nothing_left(self.work)

  # 2: one writer per target; nothing removed that the run did not create.

  def test_second_export_is_refused_while_the_first_holds_the_target(self):
    v1 = self.source()
    target = self.create_tempdir('busy').full_path
    fd = os.open(target, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running export holds it
    try:
      result = self.export(v1, target)
    finally:
      os.close(fd)
    self.assert_refused(result, 'another process is exporting', 'busy')
    self.assertEqual(os.listdir(target), [])
    self.assertEqual([n for n in os.listdir(self.work) if '.tmp-' in n], [])

  def test_a_file_put_into_the_target_meanwhile_is_kept(self):
    v1 = self.source()
    target = os.path.join(self.work, 'keras')
    script = os.path.join(self.work, 'put_a_file.py')
    with open(script, 'w') as f:
      f.write(_PUT_A_FILE)
    result = testing.run_binary(
        script,  # absolute: run_binary joins it to nothing
        os.path.join(testing.REPO_ROOT, _BINARY),
        *self.flags(v1, target),
    )
    self.assert_refused(result, 'written to during the export', 'notes.txt')
    self.assertEqual(os.listdir(target), ['notes.txt'])
    with open(os.path.join(target, 'notes.txt')) as f:
      self.assertEqual(f.read(), "the user's own")
    self.assertEqual([n for n in os.listdir(self.work) if '.tmp-' in n], [])

  def test_two_exports_at_once(self):
    v1 = self.source()
    target = os.path.join(self.work, 'keras')
    runs = [
        self.start(
            *self.flags(v1, target),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(run.communicate(timeout=600), run.returncode) for run in runs]
    self.assertEqual(sorted(code for _, code in results), [0, 2], results)
    (out, _), _ = next(r for r in results if r[1] == 0)
    (_, refused), _ = next(r for r in results if r[1] == 2)
    self.assertIn(f'Wrote {target}', out)
    self.assertNotIn('Traceback', refused)
    self.assertRegex(refused, 'another process|not empty')
    self.assertEqual(sorted(os.listdir(target)), _FILES)
    self.assertEqual([n for n in os.listdir(self.work) if '.tmp-' in n], [])

  # 4: never into its own source.

  @parameterized.named_parameters(
      ('the_checkpoint_prefix', f'v1/{_PREFIX}', ''),
      ('inside_the_model_dir', 'v1/keras', ''),
      ('through_a_symlinked_directory', 'link/keras', ''),
      ('relative_from_elsewhere', '../v1/keras', 'elsewhere'),
  )
  def test_target_in_the_source_is_refused(self, target, cwd):
    v1 = self.source()
    os.symlink(v1, os.path.join(self.work, 'link'))
    os.mkdir(os.path.join(self.work, 'elsewhere'))
    result = self.export(v1, target, cwd=os.path.join(self.work, cwd))
    self.assert_refused(result, "--target=.* inside the checkpoint's model_dir")

  # 9: a kwarg the estimator does not take.

  def test_misspelled_constructor_kwarg_is_refused(self):
    v1 = self.source()
    result = self.export(
        v1, os.path.join(self.work, 'keras'), config='misspelled'
    )
    self.assert_refused(
        result, "'activaton_fn'", 'TypeError', 'takes activation_fn'
    )
    self.assert_nothing_left(self.work)

  # 10: where the target goes.

  def test_target_that_is_a_file(self):
    v1 = self.source()
    path = os.path.join(self.work, 'a_file')
    with open(path, 'w') as f:
      f.write('keep')
    self.assert_refused(self.export(v1, path), '--target=.*a_file', 'file')
    with open(path) as f:
      self.assertEqual(f.read(), 'keep')

  def test_target_under_a_read_only_directory(self):
    v1 = self.source()
    out = self.create_tempdir('read_only').full_path
    os.chmod(out, 0o555)
    result = self.export(
        v1, f'{out}/keras', wrapper=fault_harness.unprivileged()
    )
    self.assert_refused(result, 'cannot write --target=.*read_only')
    self.assertEqual(os.listdir(out), [])

  @parameterized.named_parameters(
      ('empty', '', '--target is empty'),
      ('dot', '.', 'current directory'),
      ('dot_dot', '..', 'current directory'),
  )
  def test_target_that_is_no_new_directory(self, target, pattern):
    v1 = self.source()
    empty = os.path.join(self.work, 'empty', 'cwd')
    os.makedirs(empty)
    self.assert_refused(self.export(v1, target, cwd=empty), pattern)
    self.assertEqual(os.listdir(empty), [])

  def test_target_that_is_a_symlink(self):
    v1 = self.source()
    real = os.path.join(self.work, 'real')
    os.mkdir(real)
    link = os.path.join(self.work, 'keras_link')
    os.symlink(real, link)
    self.assert_refused(self.export(v1, link), 'symbolic link')
    self.assertTrue(os.path.islink(link))
    self.assertEqual(os.listdir(real), [])

  def test_brackets_in_the_model_dir(self):
    # TF's reader globs the prefix and finds nothing; the export reads the
    # index itself, as the converter does.
    v1 = self.source(as_name='v1 [run 3]')
    target = os.path.join(self.work, 'keras')
    self.assert_exported(self.export(v1, target), target)
    plain = os.path.join(self.work, 'plain')
    self.assert_exported(self.export(self.model_dir, plain), plain)
    for name in ('spec.json', 'weights.npz'):
      self.assertEqual(
          fault_harness.digests(target)[name],
          fault_harness.digests(plain)[name],
      )

  def test_disk_full(self):
    v1 = self.source()
    out = self.create_tempdir('small_disk').full_path
    result = self.export(
        v1,
        f'{out}/keras',
        wrapper=fault_harness.on_small_filesystem(out, '8k'),
    )
    self.assertNotEqual(result.returncode, 99, 'cannot mount a tmpfs')
    left = result.stdout.split('LEFT:', 1)[1].split()
    self.assertEqual(left, [])  # nothing left on the full filesystem
    self.assert_refused(result, 'No space left', 'small_disk')

  # 10, 12: the modern environment failing, with or without a word.

  @parameterized.named_parameters(
      (
          'with_a_traceback',
          _FAILING_PYTHON,
          (
              r'writing saved_model/ failed .* exited with code 1\):'
              r' ValueError: boom in the modern environment\. Export'
              r' without --saved_model=True'
          ),
      ),
      (
          'without_a_word',
          _SILENT_PYTHON,
          (
              r'exited with code 3 while writing saved_model/, printing'
              r' nothing: .*make \.venv-modern'
          ),
      ),
  )
  def test_failing_modern_environment(self, script, pattern):
    v1 = self.source()
    python = os.path.join(self.work, 'python')
    with open(python, 'w') as f:
      f.write(script)
    os.chmod(python, 0o755)
    with mock.patch.dict(os.environ, {modern.ENV_VAR: python}):
      result = self.export(
          v1, os.path.join(self.work, 'keras'), '--saved_model'
      )
    self.assert_refused(result, pattern)
    self.assertNotIn('Wrote', result.stdout)
    self.assert_nothing_left(self.work)

  # 16: killed while the modern environment writes saved_model/.

  def test_killed_export_takes_its_child_and_the_next_clears_up(self):
    v1 = self.source()
    target = os.path.join(self.work, 'keras')
    run = self.start(
        *self.flags(v1, target, '--saved_model'),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children = []
    deadline = time.monotonic() + 300
    while not children and run.poll() is None and time.monotonic() < deadline:
      time.sleep(0.05)
      children = _children(run.pid)
    self.assertTrue(children, 'the export started no modern environment')
    self.addCleanup(
        lambda: [os.kill(c, signal.SIGKILL) for c in children if _alive(c)]
    )
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    # It dies at once (its own work, importing Keras 3 and writing
    # saved_model/, takes several times as long).
    deadline = time.monotonic() + 3
    while any(map(_alive, children)) and time.monotonic() < deadline:
      time.sleep(0.05)
    self.assertFalse(any(map(_alive, children)), 'an orphan outlived it')
    debris = [n for n in os.listdir(self.work) if n.startswith('.keras.tmp-')]
    self.assertLen(debris, 1)
    # The next export to that target holds its lock, so the writer of the
    # debris is dead: it removes it and writes the target.
    result = self.export(v1, target)
    self.assert_exported(result, target)
    self.assertIn('left by an interrupted export', result.stderr)


class ModernEnvironmentTest(absltest.TestCase):

  def test_found_beside_the_interpreters_environment(self):
    # `make` lays out <dir>/.venv and <dir>/.venv-modern; an installed
    # console script runs from anywhere.
    layout = self.create_tempdir('project').full_path
    os.symlink(sys.prefix, os.path.join(layout, '.venv'))
    modern_env = os.path.dirname(os.path.dirname(modern.find_python()))
    os.symlink(modern_env, os.path.join(layout, '.venv-modern'))
    elsewhere = self.create_tempdir('elsewhere').full_path
    env = {k: v for k, v in os.environ.items() if k != modern.ENV_VAR}
    found = subprocess.run(
        [
            os.path.join(layout, '.venv', 'bin', 'python'),
            '-c',
            'from estimator_migrate.export import modern;'
            ' print(modern.find_python())',
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=dict(env, PYTHONPATH=testing.REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='3'),
        check=False,
    )
    self.assertEqual(found.returncode, 0, found.stderr[-3000:])
    self.assertEqual(
        found.stdout.strip(),
        os.path.join(layout, '.venv-modern', 'bin', 'python'),
    )


if __name__ == '__main__':
  absltest.main()
