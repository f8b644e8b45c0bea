"""Fault injection: bad inputs and faults, run through the real binaries.

Each case asserts what a user sees and what is left behind: the exit code,
one line on stderr that names the flag or file (never a traceback), the
source byte-identical (sha256 of every file before and after), and the target
absent, unchanged, or the new verified checkpoint.

Permission cases run the binary in a user namespace (`unshare -U`) when the
tests run as root, where file modes would not apply; disk-full cases mount a
small tmpfs in a private mount namespace (`unshare -Urm`).
"""

import fcntl
import os
import re
import signal
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.checkpoints import convert
from estimator_migrate.checkpoints.bundle import index as index_lib
from tests import canned_harness
from tests import conversion_paths
from tests import fault_harness
from tests import testing

_CONVERT = 'estimator_migrate/cli/convert_checkpoint.py'
_INSPECT = 'estimator_migrate/cli/inspect_checkpoint.py'
_CANNED = 'estimator_migrate/cli/canned_migration.py'
_ESTIMATOR = 'estimator_migrate/cli/train_estimator.py'
_V1 = tf.compat.v1.train
_PREFIX = 'model.ckpt-2'
# Shared with the other fault tests (tests/fault_harness.py).
_train_dnn = fault_harness.train_dnn
_digests = fault_harness.digests
_unprivileged = fault_harness.unprivileged
_on_small_filesystem = fault_harness.on_small_filesystem
_overwrite = fault_harness.overwrite
_Refusals = fault_harness.Refusals


def _train_custom(model_dir: str) -> None:
  def model_fn(features, labels, mode):
    logits = tf.compat.v1.layers.dense(features['x'], canned_harness.N_CLASSES)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = _V1.AdamOptimizer(0.01).minimize(
        loss, tf.compat.v1.train.get_global_step()
    )
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

  tf.estimator.Estimator(model_fn, model_dir).train(
      canned_harness.make_input_fn('Classifier', True), steps=2
  )


def _save_object_checkpoint(model_dir: str) -> None:
  checkpoint = tf.train.Checkpoint(v=tf.Variable(np.ones(3, np.float32)))
  prefix = checkpoint.write(os.path.join(model_dir, 'ckpt'))
  tf.compat.v1.train.update_checkpoint_state(model_dir, prefix)


_KILL = """
import os, signal, sys
from estimator_migrate.checkpoints import {module}
real, calls = {module}.{function}, []
def killing(*args, **kwargs):
  calls.append(1)
  if len(calls) == {on_call}:
    os.kill(os.getpid(), signal.SIGKILL)
  return real(*args, **kwargs)
{module}.{function} = killing
from estimator_migrate.checkpoints import convert
convert.convert_optimizer_checkpoint(sys.argv[1], sys.argv[2], overwrite=True,
                                     chunk_bytes=64, path=sys.argv[3])
"""


class FaultsTest(fault_harness.SourceCopies):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.sources = {}
    for name, make in (
        ('adam', lambda d: _train_dnn(d, _V1.AdamOptimizer(0.01))),
        ('momentum', lambda d: _train_dnn(d, _V1.MomentumOptimizer(0.1, 0.9))),
        ('big', lambda d: _train_dnn(d, _V1.AdamOptimizer(0.01), (128, 128))),
        ('custom', _train_custom),
        ('object', _save_object_checkpoint),
    ):
      cls.sources[name] = os.path.join(cls.root, name)
      make(cls.sources[name])
    cls.sources['v2'] = os.path.join(cls.root, 'v2')
    convert.convert_optimizer_checkpoint(
        cls.sources['adam'], os.path.join(cls.sources['v2'], _PREFIX)
    )

  def source(self, name: str = 'adam', as_name: str = 'v1', mutate=None) -> str:
    """A private copy of a source model_dir, its digests kept for tearDown."""
    return self.copy_source(self.sources[name], as_name, mutate)

  def convert(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return testing.run_binary(_CONVERT, *args, **kwargs)

  def assert_verified(self, prefix: str) -> None:
    """A complete v2 checkpoint: every tensor restores (TF checks CRCs)."""
    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    self.assertIn('training/Adam/dnn/logits/kernel/m', names)
    for name in names:
      reader.get_tensor(name)
    self.assertEqual(
        tf.train.latest_checkpoint(os.path.dirname(prefix)), prefix
    )
    leftovers = [
        n for n in os.listdir(os.path.dirname(prefix)) if n.startswith('.')
    ]
    self.assertEqual(leftovers, [])

  # The source must never be written.

  def test_target_reaching_source_by_relative_path(self):
    v1 = self.source()
    other = os.path.join(self.work, 'elsewhere')
    os.mkdir(other)
    result = self.convert(
        '--source=../v1',
        f'--target={os.path.join(v1, _PREFIX)}',
        '--overwrite',
        cwd=other,
    )
    self.assert_refused(result, "source checkpoint's directory", '--target=')

  def test_relative_target_in_source_directory(self):
    self.source()
    other = os.path.join(self.work, 'elsewhere')
    os.mkdir(other)
    result = self.convert(
        f'--source={self.work}/v1', '--target=../v1/v2.ckpt-2', cwd=other
    )
    self.assert_refused(result, "source checkpoint's directory")

  def test_target_through_symlinked_directory(self):
    v1 = self.source()
    link = os.path.join(self.work, 'link')
    os.symlink(v1, link)
    result = self.convert(
        f'--source={v1}', f'--target={link}/{_PREFIX}', '--overwrite'
    )
    self.assert_refused(result, "source checkpoint's directory")

  @parameterized.named_parameters(
      ('the_prefix_itself', _PREFIX),
      ('below_the_prefix', f'{_PREFIX}/x'),
  )
  def test_target_inside_source(self, target):
    v1 = self.source()
    result = self.convert(f'--source={v1}', f'--target={v1}/{target}')
    self.assert_refused(result, 'the source is never written')

  # Nothing read is trusted.

  @parameterized.named_parameters(
      conversion_paths.over_paths(
          (
              ('ten_bytes_mid_file', 'middle', '64'),
              ('one_byte_in_a_sliced_read', 'slot', '0.00002'),
          )
      )
  )
  def test_corrupt_data_is_refused(self, where, chunk_mb, path):
    def corrupt(directory):
      prefix = os.path.join(directory, _PREFIX)
      data = prefix + '.data-00000-of-00001'
      if where == 'middle':
        at, count = os.path.getsize(data) // 2, 10
      else:  # inside a 4-row slot, which a 20-byte chunk reads by blocks
        entry = index_lib.read_index(prefix).entries[
            'dnn/hiddenlayer_0/kernel/t_0/Adam'
        ]
        at, count = entry.offset + entry.size - 3, 1
      with open(data, 'r+b') as f:
        f.seek(at)
        original = f.read(count)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in original))

    v1 = self.source(mutate=corrupt)
    target = os.path.join(self.work, 'new', 'deeper', _PREFIX)
    result = self.convert(
        f'--source={v1}',
        f'--target={target}',
        f'--chunk_mb={chunk_mb}',
        f'--path={path}',
    )
    # Zero-copy verifies the copy, then names the source file as corrupt.
    self.assert_refused(
        result, rf'{v1}/model\.ckpt-2\.data-00000-of-00001', 'CRC'
    )
    self.assertFalse(os.path.exists(os.path.join(self.work, 'new')))

  @parameterized.named_parameters(
      ('missing_index', lambda p: os.remove(p + '.index'), r'\.index', 'auto'),
      (
          'missing_data',
          lambda p: os.remove(p + '.data-00000-of-00001'),
          'data',
          'auto',
      ),
      (
          'corrupt_index',
          lambda p: _overwrite(p + '.index', 0, b'\xff' * 64),
          r'model\.ckpt-2\.index',
          'auto',
      ),
      # Where the data is read, both paths.
      *conversion_paths.over_paths(
          (
              (
                  'truncated_data',
                  lambda p: os.truncate(p + '.data-00000-of-00001', 100),
                  r'model\.ckpt-2.*(corrupt|truncated)',
              ),
          )
      ),
      (
          'garbage_state_file',
          lambda p: _overwrite(
              os.path.join(os.path.dirname(p), 'checkpoint'), 0, b'\xff\xfe('
          ),
          'checkpoint',
          'auto',
      ),
      (
          'no_graph',
          lambda p: [
              os.remove(p + '.meta'),
              os.remove(os.path.join(os.path.dirname(p), 'graph.pbtxt')),
          ],
          '--source_graph',
          'auto',
      ),
  )
  def test_broken_source(self, mutate, pattern, path):
    v1 = self.source(mutate=lambda d: mutate(os.path.join(d, _PREFIX)))
    target = os.path.join(self.work, 'v2', _PREFIX)
    self.assert_refused(
        self.convert(f'--source={v1}', f'--target={target}', f'--path={path}'),
        pattern,
    )
    self.assertFalse(os.path.exists(os.path.dirname(target)))

  def test_unreadable_index(self):
    v1 = self.source(
        mutate=lambda d: os.chmod(os.path.join(d, _PREFIX + '.index'), 0)
    )
    result = self.convert(
        f'--source={v1}',
        f'--target={self.work}/v2/{_PREFIX}',
        wrapper=_unprivileged(),
    )
    self.assert_refused(result, 'permission denied', r'\.index')

  # What the user asserts must fit what the checkpoint holds.

  @parameterized.named_parameters(
      ('ftrl_on_adam', 'adam', 'dnn=Ftrl:0.1', "'Adam'"),
      ('sgd_on_adam', 'adam', 'dnn=SGD:0.1', "'Adam'"),
      ('adagrad_on_momentum', 'momentum', 'dnn=Adagrad:0.1', "'Momentum'"),
  )
  def test_optimizer_override_must_fit_the_slots(self, name, flag, found):
    v1 = self.source(name)
    result = self.convert(
        f'--source={v1}',
        f'--target={self.work}/v2/{_PREFIX}',
        f'--optimizer={flag}',
    )
    self.assert_refused(result, found, '--optimizer')

  @parameterized.named_parameters(
      ('custom_model_fn', 'custom', 'custom model_fn'),
      ('already_v2', 'v2', 'v2 checkpoint'),
  )
  def test_forced_estimator_type_must_fit(self, name, pattern):
    source = self.source(name)
    result = self.convert(
        f'--source={source}',
        f'--target={self.work}/out/{_PREFIX}',
        '--estimator_type=dnn',
        '--optimizer=dnn=Adam:0.01',
    )
    self.assert_refused(result, pattern)

  @parameterized.named_parameters(
      ('custom_model_fn', 'custom', 'checkpoints.assignment'),
      ('object_checkpoint', 'object', 'not those of a canned'),
      ('already_v2', 'v2', 'v2 checkpoint'),
  )
  def test_not_a_v1_canned_checkpoint(self, name, pattern):
    source = self.source(name)
    result = self.convert(
        f'--source={source}', f'--target={self.work}/out/{_PREFIX}'
    )
    self.assert_refused(result, pattern)

  # Bad flags: one line, exit 2, nothing written.

  @parameterized.named_parameters(
      ('nan_rate', '--optimizer=dnn=Adam:nan', 'learning_rate'),
      ('infinite_rate', '--optimizer=dnn=Adam:inf', 'learning_rate'),
      ('zero_rate', '--optimizer=dnn=Adam:0', 'learning_rate'),
      ('negative_rate', '--optimizer=dnn=Adam:-0.5', 'learning_rate'),
      ('malformed_optimizer', '--optimizer=dnn=Adam', 'PART=NAME:LR'),
      ('nan_chunk', '--chunk_mb=nan', '--chunk_mb'),
      ('infinite_chunk', '--chunk_mb=inf', '--chunk_mb'),
      ('zero_chunk', '--chunk_mb=0', 'chunk_mb'),
      ('chunk_not_a_number', '--chunk_mb=abc', 'chunk_mb'),
      ('unknown_flag', '--no_such_flag=1', 'no_such_flag'),
      ('unknown_estimator_type', '--estimator_type=cnn', 'estimator_type'),
      ('stray_argument', 'stray', 'stray'),
  )
  def test_bad_flag(self, flag, pattern):
    v1 = self.source()
    result = self.convert(
        f'--source={v1}', f'--target={self.work}/v2/{_PREFIX}', flag
    )
    self.assert_refused(result, pattern)
    self.assertFalse(os.path.exists(os.path.join(self.work, 'v2')))

  def test_repeated_optimizer_part(self):
    v1 = self.source()
    result = self.convert(
        f'--source={v1}',
        f'--target={self.work}/v2/{_PREFIX}',
        '--optimizer=dnn=Adam:0.01',
        '--optimizer=dnn=Adam:0.1',
    )
    self.assert_refused(result, 'twice')

  def test_missing_required_flag(self):
    self.assert_refused(self.convert('--target=/tmp/x'), '--source')

  def test_target_spelled_as_a_directory(self):
    v1 = self.source()
    out = os.path.join(self.work, 'v2')
    result = self.convert(f'--source={v1}', f'--target={out}/')
    self.assert_refused(result, 'directory', '--target=')
    self.assertFalse(os.path.exists(out))

  @parameterized.named_parameters(
      ('missing_directory', 'no/such/dir/report.json'),
      ('a_directory', '.'),
  )
  def test_unwritable_report_is_refused_first(self, report):
    v1 = self.source()
    target = os.path.join(self.work, 'v2', _PREFIX)
    result = self.convert(
        f'--source={v1}',
        f'--target={target}',
        f'--report={os.path.join(self.work, report)}',
    )
    self.assert_refused(result, '--report')
    self.assertFalse(os.path.exists(os.path.dirname(target)))

  # Where the target goes.

  def test_target_directory_under_a_file(self):
    v1 = self.source()
    blocker = os.path.join(self.work, 'a_file')
    with open(blocker, 'w') as f:
      f.write('x')
    result = self.convert(f'--source={v1}', f'--target={blocker}/v2/{_PREFIX}')
    self.assert_refused(result, 'cannot write to', 'a_file')

  def test_read_only_target_directory(self):
    v1 = self.source()
    out = self.create_tempdir('read_only').full_path
    os.chmod(out, 0o555)
    result = self.convert(
        f'--source={v1}', f'--target={out}/{_PREFIX}', wrapper=_unprivileged()
    )
    self.assert_refused(result, 'read_only')
    self.assertEqual(os.listdir(out), [])

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_disk_full(self, path):
    v1 = self.source('big')
    out = self.create_tempdir('small_disk').full_path
    result = self.convert(
        f'--source={v1}',
        f'--target={out}/{_PREFIX}',
        f'--path={path}',
        wrapper=_on_small_filesystem(out, '64k'),
    )
    self.assertNotEqual(result.returncode, 99, 'cannot mount a tmpfs')
    left = result.stdout.split('LEFT:', 1)[1].split()
    self.assertEqual(left, [])  # nothing left on the full filesystem
    self.assert_refused(result, 'No space left|space', 'small_disk')

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_existing_target_needs_overwrite(self, path):
    v1 = self.source()
    target = os.path.join(self.work, 'v2', _PREFIX)
    self.assertEqual(
        self.convert(
            f'--source={v1}', f'--target={target}', f'--path={path}'
        ).returncode,
        0,
    )
    old = _digests(os.path.dirname(target))
    self.assert_refused(
        self.convert(f'--source={v1}', f'--target={target}'), '--overwrite'
    )
    self.assertEqual(_digests(os.path.dirname(target)), old)
    result = self.convert(
        f'--source={v1}', f'--target={target}', '--overwrite', f'--path={path}'
    )
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assert_verified(target)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_brackets_and_spaces_in_the_source_path(self, path):
    # TF's own reader globs the prefix and finds nothing here; the
    # converter reads the index itself.
    v1 = self.source(as_name='v1 [run 3]')
    target = os.path.join(self.work, 'out 1', _PREFIX)
    result = self.convert(
        f'--source={v1}', f'--target={target}', f'--path={path}'
    )
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assert_verified(target)

  def test_brackets_in_the_target_path(self):
    # Written, it could never be restored (TF globs): refused up front.
    v1 = self.source()
    result = self.convert(
        f'--source={v1}', f'--target={self.work}/out[1]/{_PREFIX}'
    )
    self.assert_refused(result, '--target=', 'cannot restore')
    self.assertFalse(os.path.exists(os.path.join(self.work, 'out[1]')))

  # Faults: killed at any point, two writers, reruns.

  @parameterized.named_parameters(
      ('while_writing_stream', 'writer', '_save', 3, 'stream'),
      (
          'while_bringing_over_zero_copy',
          'transfer',
          'transfer_file',
          1,
          'zero_copy',
      ),
      *conversion_paths.over_paths(
          (
              ('while_verifying', 'verify', 'verify', 1),
              ('while_swapping_in', 'staging', '_move', 2),
          )
      ),
  )
  def test_killed_conversion_never_loses_the_old_target(
      self, module, function, on_call, path
  ):
    v1 = self.source()
    target = os.path.join(self.work, 'v2', _PREFIX)
    self.assertEqual(
        self.convert(f'--source={v1}', f'--target={target}').returncode, 0
    )
    old = {k: v for k, v in _digests(os.path.dirname(target)).items()}
    killed = subprocess.run(
        [
            sys.executable,
            '-c',
            _KILL.format(module=module, function=function, on_call=on_call),
            v1,
            target,
            path,
        ],
        capture_output=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=testing.REPO_ROOT),
    )
    self.assertEqual(killed.returncode, -signal.SIGKILL, killed.stderr)
    # The next conversion (refused here: no --overwrite) first restores or
    # clears what the killed one left; the old target is then whole.
    self.assert_refused(
        self.convert(f'--source={v1}', f'--target={target}'),
        'exists',
        also='W.* restored .* after an interrupted swap',
    )
    self.assertEqual(_digests(os.path.dirname(target)), old)
    result = self.convert(f'--source={v1}', f'--target={target}', '--overwrite')
    self.assertEqual(result.returncode, 0, result.stderr)
    self.assert_verified(target)

  def test_second_writer_is_refused_while_the_first_holds_the_target(self):
    v1 = self.source()
    out = self.create_tempdir('busy').full_path
    fd = os.open(out, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running conversion holds it
    try:
      result = self.convert(f'--source={v1}', f'--target={out}/{_PREFIX}')
    finally:
      os.close(fd)
    self.assert_refused(result, 'another process', 'busy')
    self.assertEqual(os.listdir(out), [])

  def test_two_conversions_at_once(self):
    # The first conversion (the real binary, its lock wrapped) stops once it
    # holds the target's lock, until `go` exists; the second is started
    # then, so the two provably overlap.
    v1 = self.source('big')
    target = os.path.join(self.work, 'v2', _PREFIX)
    held = os.path.join(self.work, 'held')
    go = os.path.join(self.work, 'go')
    hold = f"""
import contextlib, os, runpy, sys
from estimator_migrate.cli import console  # first, as in the binary
from estimator_migrate.checkpoints import files
from tests import testing
real = files.locked
@contextlib.contextmanager
def holding(directory, what):
  with real(directory, what) as alone:
    open({held!r}, 'w').close()
    testing.wait_until(lambda: os.path.exists({go!r}), timeout=600,
                       what='the test to let the first conversion go on')
    yield alone
files.locked = holding
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""
    first = subprocess.Popen(
        [
            sys.executable,
            '-c',
            hold,
            os.path.join(testing.REPO_ROOT, _CONVERT),
            f'--source={v1}',
            f'--target={target}',
        ],
        env=dict(
            os.environ, PYTHONPATH=testing.REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='3'
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    self.addCleanup(first.kill)

    def holds_the_lock():
      self.assertIsNone(first.poll(), 'the first conversion ended early')
      return os.path.exists(held)

    testing.wait_until(
        holds_the_lock,
        timeout=600,
        what="the first conversion to hold the target's lock",
    )
    second = self.convert(f'--source={v1}', f'--target={target}')
    # The first still runs, holding the lock, when the second has ended.
    self.assertIsNone(first.poll())
    with open(go, 'w'):
      pass
    _, first_stderr = first.communicate(timeout=600)
    codes = sorted([first.returncode, second.returncode])
    self.assertEqual(codes, [0, 2], (first_stderr, second.stderr))
    self.assertEqual(first.returncode, 0, first_stderr[-3000:])
    refused = self.assert_refused(second)
    self.assertNotIn('Traceback', second.stderr)
    # Refused for the lock (not for a target already there: no overlap).
    self.assertRegex(
        refused,
        r'another process is converting a checkpoint in \S*/v2 right now',
    )
    self.assert_verified(target)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_rerun_gives_the_same_checkpoint(self, path):
    v1 = self.source()
    target = os.path.join(self.work, 'v2', _PREFIX)
    digests = []
    for _ in range(2):
      result = self.convert(
          f'--source={v1}',
          f'--target={target}',
          '--overwrite',
          f'--path={path}',
      )
      self.assertEqual(result.returncode, 0, result.stderr)
      digests.append(_digests(os.path.dirname(target)))
    self.assertEqual(digests[0], digests[1])

  def test_inspect_refuses_a_missing_source(self):
    result = testing.run_binary(_INSPECT, f'--source={self.work}/nothing')
    self.assert_refused(result, 'nothing')


class ExampleBinariesFaultsTest(_Refusals):
  """The training binaries: bad flags are one line and exit 2; reruns work."""

  @parameterized.named_parameters(
      ('canned_zero_steps', _CANNED, '--steps=0', '--steps'),
      ('canned_negative_steps', _CANNED, '--steps=-5', '--steps'),
      ('canned_nan_rate', _CANNED, '--learning_rate=nan', '--learning_rate'),
      ('canned_zero_batch', _CANNED, '--batch_size=0', '--batch_size'),
      ('estimator_zero_steps', _ESTIMATOR, '--train_steps=0', '--train_steps'),
      ('estimator_eval_steps', _ESTIMATOR, '--eval_steps=-1', '--eval_steps'),
      ('estimator_inf_rate', _ESTIMATOR, '--learning_rate=inf', 'learning'),
      ('estimator_unknown_flag', _ESTIMATOR, '--stepz=3', 'stepz'),
  )
  def test_bad_flag(self, binary, flag, pattern):
    self.assert_refused(testing.run_binary(binary, flag), pattern)

  @parameterized.named_parameters(
      ('canned', _CANNED), ('estimator', _ESTIMATOR)
  )
  def test_model_dir_that_is_a_file(self, binary):
    path = self.create_tempfile('a_file').full_path
    self.assert_refused(
        testing.run_binary(binary, f'--model_dir={path}'), '--model_dir'
    )

  @parameterized.named_parameters(
      ('canned', _CANNED), ('estimator', _ESTIMATOR)
  )
  def test_data_dir_that_does_not_exist(self, binary):
    missing = os.path.join(self.create_tempdir().full_path, 'nope')
    self.assert_refused(
        testing.run_binary(binary, f'--data_dir={missing}'), '--data_dir'
    )
    self.assertFalse(os.path.exists(missing))

  def test_train_estimator_rerun_in_the_same_model_dir(self):
    model_dir = self.create_tempdir().full_path
    outputs = []
    for _ in range(2):
      result = testing.run_binary(
          _ESTIMATOR,
          '--train_steps=5',
          '--eval_steps=2',
          f'--data_dir={testing.tfds_dir()}',
          f'--model_dir={model_dir}',
      )
      self.assertEqual(result.returncode, 0, result.stderr[-3000:])
      outputs.append(re.search('mode=.*', result.stdout)[0])
    self.assertEqual(outputs[0], outputs[1])  # the same model, evaluated


if __name__ == '__main__':
  absltest.main()
