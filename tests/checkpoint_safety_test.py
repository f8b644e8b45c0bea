"""The converter never writes the source and never leaves partial output."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import blocks
from estimator_migrate.checkpoints import convert
from estimator_migrate.checkpoints import transfer
from estimator_migrate.checkpoints import writer
from estimator_migrate.checkpoints.bundle import ranges
from tests import canned_harness
from tests import conversion_paths
from tests import testing

_V1 = tf.compat.v1.train
# Where each path writes data, and the call to fail on: the streaming
# writer's third shard; the zero-copy path's data file coming over (after
# it wrote the new tensors).
_WRITES = {
    'stream': (writer, '_save', 3),
    'zero_copy': (transfer, '_kernel_copy', 1),
}


def _v1_model_dir(test) -> str:
  model_dir = test.create_tempdir().full_path
  tf.compat.v1.estimator.DNNClassifier(
      model_dir=model_dir,
      hidden_units=[2],
      feature_columns=canned_harness.dense_columns(),
      n_classes=canned_harness.N_CLASSES,
      optimizer=_V1.AdamOptimizer(0.01),
      config=tf.estimator.RunConfig(tf_random_seed=0),
  ).train(canned_harness.make_input_fn('Classifier', True), steps=2)
  return model_dir


def _digests(directory: str) -> dict:
  out = {}
  for name in sorted(os.listdir(directory)):
    with open(os.path.join(directory, name), 'rb') as f:
      out[name] = hashlib.sha256(f.read()).hexdigest()
  return out


class SafetyTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.source_dir = None

  def setUp(self):
    super().setUp()
    self.source_dir = _v1_model_dir(self)
    self.target = os.path.join(self.create_tempdir().full_path, 'model.ckpt-2')

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_converted_model_dir_can_be_moved(self, path):
    convert.convert_optimizer_checkpoint(
        self.source_dir, self.target, path=path
    )
    moved = os.path.join(self.create_tempdir().full_path, 'moved')
    shutil.copytree(os.path.dirname(self.target), moved)
    shutil.rmtree(os.path.dirname(self.target))
    prefix = tf.train.latest_checkpoint(moved)
    self.assertEqual(prefix, os.path.join(moved, 'model.ckpt-2'))
    self.assertIn(
        'training/Adam/dnn/logits/kernel/m',
        tf.train.load_checkpoint(prefix).get_variable_to_shape_map(),
    )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_source_is_never_modified(self, path):
    before = _digests(self.source_dir)
    convert.convert_optimizer_checkpoint(
        self.source_dir, self.target, path=path
    )
    self.assertEqual(_digests(self.source_dir), before)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_target_in_source_directory_is_refused(self, path):
    for target in (
        tf.train.latest_checkpoint(self.source_dir),
        os.path.join(self.source_dir, 'v2.ckpt'),
        tf.train.latest_checkpoint(self.source_dir) + '/x',
    ):
      with self.subTest(target=target):
        with self.assertRaisesRegex(
            errors.CheckpointError, 'source is never written'
        ):
          convert.convert_optimizer_checkpoint(
              self.source_dir, target, path=path
          )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_existing_target_needs_overwrite(self, path):
    convert.convert_optimizer_checkpoint(
        self.source_dir, self.target, path=path
    )
    with self.assertRaisesRegex(errors.CheckpointError, 'overwrite'):
      convert.convert_optimizer_checkpoint(
          self.source_dir, self.target, path=path
      )
    report = convert.convert_optimizer_checkpoint(
        self.source_dir, self.target, overwrite=True, path=path
    )
    self.assertTrue(report.verified)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_failure_mid_write_leaves_nothing(self, path):
    module, function, on_call = _WRITES[path]
    calls = []
    real = getattr(module, function)

    def failing(*args, **kwargs):
      calls.append(1)
      if len(calls) == on_call:
        raise OSError('disk full (simulated)')
      return real(*args, **kwargs)

    setattr(module, function, failing)
    try:
      with self.assertRaisesRegex(errors.CheckpointError, 'simulated'):
        convert.convert_optimizer_checkpoint(
            self.source_dir, self.target, chunk_bytes=16, path=path
        )
    finally:
      setattr(module, function, real)
    self.assertLen(calls, on_call)
    self.assertEqual(os.listdir(os.path.dirname(self.target)), [])

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_killed_mid_write_leaves_no_target(self, path):
    # A subprocess kills itself (SIGKILL: no cleanup runs) while it writes
    # (stream: its third shard; zero-copy: bringing the data file over);
    # then a second conversion clears what it left.
    module, function, on_call = _WRITES[path]
    code = f"""
import os, signal
from estimator_migrate.checkpoints import convert, {module.__name__.split('.')[-1]} as m
real, calls = m.{function}, []
def killing(*args, **kwargs):
  calls.append(1)
  if len(calls) == {on_call}:
    os.kill(os.getpid(), signal.SIGKILL)
  return real(*args, **kwargs)
m.{function} = killing
convert.convert_optimizer_checkpoint({self.source_dir!r}, {self.target!r},
                                     chunk_bytes=16, path={path!r})
"""
    result = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        check=False,
        env=dict(os.environ, PYTHONPATH=testing.REPO_ROOT),
    )
    self.assertEqual(result.returncode, -signal.SIGKILL)
    left = os.listdir(os.path.dirname(self.target))
    self.assertFalse([n for n in left if not n.startswith('.')], left)
    self.assertLen(left, 1)  # the hidden temporary directory
    convert.convert_optimizer_checkpoint(
        self.source_dir, self.target, path=path
    )
    self.assertNotIn(left[0], os.listdir(os.path.dirname(self.target)))
    self.assertTrue(os.path.exists(self.target + '.index'))

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_failed_verification_removes_the_target(self, path):
    real_digest = blocks.digest
    seen = set()

    def digest_that_changes(values):
      key = real_digest(values)
      if key in seen:  # second time round (verification): a mismatch
        return 'corrupted'
      seen.add(key)
      return key

    blocks.digest = digest_that_changes
    try:
      with self.assertRaisesRegex(
          errors.CheckpointError, 'verification failed'
      ):
        convert.convert_optimizer_checkpoint(
            self.source_dir, self.target, path=path
        )
    finally:
      blocks.digest = real_digest
    self.assertFalse(tf.io.gfile.exists(self.target + '.index'))
    self.assertEqual(tf.io.gfile.glob(self.target + '.*'), [])

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_corrupt_index_names_the_file(self, path):
    prefix = tf.train.latest_checkpoint(self.source_dir)
    with open(prefix + '.index', 'r+b') as f:
      f.seek(0)
      f.write(b'\xff' * 64)
    with self.assertRaisesRegex(
        errors.CheckpointError, r'model\.ckpt-2\.index'
    ):
      convert.convert_optimizer_checkpoint(
          self.source_dir, self.target, path=path
      )
    self.assertEqual(tf.io.gfile.glob(self.target + '*'), [])

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_truncated_data_names_the_file(self, path):
    prefix = tf.train.latest_checkpoint(self.source_dir)
    data = tf.io.gfile.glob(prefix + '.data-*')[0]
    with open(data, 'r+b') as f:
      f.truncate(os.path.getsize(data) // 2)
    with self.assertRaisesRegex(
        errors.CheckpointError, r'model\.ckpt-2.*corrupt or truncated'
    ):
      convert.convert_optimizer_checkpoint(
          self.source_dir, self.target, path=path
      )
    self.assertEqual(os.listdir(os.path.dirname(self.target)), [])

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_missing_source(self, path):
    with self.assertRaisesRegex(errors.CheckpointError, r'nope\.index'):
      convert.convert_optimizer_checkpoint(
          os.path.join(self.source_dir, 'nope'), self.target, path=path
      )


class FilesystemTest(parameterized.TestCase):

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_ram_filesystem(self, path):
    source_dir = _v1_model_dir(self)
    ram_source = 'ram://em_source'
    tf.io.gfile.makedirs(ram_source)
    for name in os.listdir(source_dir):
      if name.startswith('model.ckpt-2') or name == 'checkpoint':
        tf.io.gfile.copy(
            os.path.join(source_dir, name),
            f'{ram_source}/{name}',
            overwrite=True,
        )
    with tf.io.gfile.GFile(f'{ram_source}/checkpoint', 'w') as f:
      f.write('model_checkpoint_path: "model.ckpt-2"\n')
    report = convert.convert_optimizer_checkpoint(
        ram_source, f'ram://em_target_{path}/model.ckpt-2', path=path
    )
    self.assertEqual(report.path, path)
    if path == 'zero_copy':
      self.assertEqual(report.transfer, 'stream')  # no kernel copy on ram://
    self.assertTrue(report.verified)
    reader = tf.compat.v1.train.NewCheckpointReader(
        f'ram://em_target_{path}/model.ckpt-2'
    )
    np.testing.assert_array_equal(
        reader.get_tensor('dnn/logits/kernel'),
        tf.train.load_checkpoint(source_dir).get_tensor('dnn/logits/kernel'),
    )


class WriterTest(absltest.TestCase):

  def test_large_tensors_go_by_slices_and_read_back_whole(self):
    source = os.path.join(self.create_tempdir().full_path, 'src')
    big = np.arange(1000 * 10, dtype=np.float32).reshape(1000, 10)
    vector = np.arange(5000, dtype=np.int64)
    tf.raw_ops.SaveV2(
        prefix=source,
        tensor_names=['big', 'vector', 'small'],
        shape_and_slices=['', '', ''],
        tensors=[big, vector, np.float32(3.0)],
    )
    from estimator_migrate.checkpoints import mapping  # pylint: disable=g-import-not-at-top

    targets = (
        mapping.Target(
            'big',
            tf.float32,
            (1000, 10),
            'model',
            (mapping.Piece('big', 0, 1000),),
        ),
        mapping.Target(
            'vector',
            tf.int64,
            (5000,),
            'model',
            (mapping.Piece('vector', 0, 5000),),
        ),
        mapping.Target(
            'small',
            tf.float32,
            (),
            'model',
            (mapping.Piece('small', 0, 0),),
            scale=-2.0,
        ),
    )
    target = os.path.join(self.create_tempdir().full_path, 'out')
    seen = []
    writer.write(
        ranges.RangeReader(source),
        targets,
        target,
        chunk_bytes=4096,
        progress=lambda done, total: seen.append((done, total)),
    )
    reader = tf.train.load_checkpoint(target)
    np.testing.assert_array_equal(reader.get_tensor('big'), big)
    np.testing.assert_array_equal(reader.get_tensor('vector'), vector)
    self.assertEqual(reader.get_tensor('small'), -6.0)
    # 40,000 + 40,000 bytes in 4 KiB blocks: many data files, one index.
    self.assertGreater(len(tf.io.gfile.glob(target + '.data-*')), 10)
    self.assertEqual(seen[-1][0], seen[-1][1])
    self.assertEqual(seen[-1][1], 40000 + 40000 + 4)


if __name__ == '__main__':
  absltest.main()
