"""The zero-copy path: source bytes brought over, never re-encoded.

Every tensor a conversion only renames keeps the source's bytes: the
target's first data files are the source's (identical copies, or the same
inode with --link), the one new data file holds only the new tensors, and
the index points each renamed tensor, partition by partition, at the
source's offsets. TF restores the result (it checks every CRC-32C), and it
equals what the streaming path writes, tensor for tensor.

What `--link` means for the source, shown here: source and target data
files are one inode under two names. Deleting either checkpoint leaves the
other whole; neither TF nor this package writes into an existing data
file, and nothing may open one for writing, or both change.
"""

import hashlib
import json
import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import convert
from estimator_migrate.checkpoints import zero_copy
from estimator_migrate.checkpoints.bundle import index as index_lib
from tests import canned_harness
from tests import testing

_V1 = tf.compat.v1.train
_CONVERT = 'estimator_migrate/cli/convert_checkpoint.py'
_PREFIX = 'model.ckpt-2'
_ACCUMULATOR = (
    'training/Adagrad/dnn/input_from_feature_columns/input_layer/'
    'cat_embedding/embedding_weights/accumulator'
)


def _sha256(path: str) -> str:
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _state(directory: str) -> dict[str, tuple]:
  """(sha256, mtime, mode) of every file: what 'untouched' means."""
  out = {}
  for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    stat = os.stat(path)
    out[name] = (_sha256(path), stat.st_mtime_ns, stat.st_mode)
  return out


def _tensors(prefix: str) -> dict[str, np.ndarray]:
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def _data_files(prefix: str) -> list[str]:
  directory, base = os.path.split(prefix)
  return sorted(
      os.path.join(directory, n)
      for n in os.listdir(directory)
      if n.startswith(base + '.data-')
  )


class ZeroCopyTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # Adagrad on a partitioned embedding: every slot renamed, the
    # embedding's accumulator stored by v1 as one key per partition.
    test_tmpdir = absltest.get_default_test_tmpdir()
    os.makedirs(test_tmpdir, exist_ok=True)
    cls.root = tempfile.mkdtemp(dir=test_tmpdir)
    cls.model_dir = os.path.join(cls.root, 'v1')
    kwargs = canned_harness.dnn_kwargs(_V1.AdagradOptimizer(0.1), (4,))
    kwargs.update(
        feature_columns=canned_harness.embedding_columns(),
        input_layer_partitioner=tf.compat.v1.min_max_variable_partitioner(
            max_partitions=2, min_slice_size=16
        ),
    )
    tf.compat.v1.estimator.DNNClassifier(
        model_dir=cls.model_dir,
        config=tf.estimator.RunConfig(tf_random_seed=0),
        **kwargs,
    ).train(canned_harness.make_input_fn('Classifier', True), steps=2)
    cls.source = os.path.join(cls.model_dir, _PREFIX)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def target(self) -> str:
    return os.path.join(self.create_tempdir().full_path, _PREFIX)

  def test_renamed_tensors_are_never_reencoded(self):
    target = self.target()
    report = convert.convert_optimizer_checkpoint(
        self.model_dir, target, path='auto'
    )
    self.assertEqual(report.path, 'zero_copy')
    self.assertIn(report.transfer, ('kernel copy', 'stream'))
    sources = _data_files(self.source)
    targets = _data_files(target)
    self.assertLen(targets, len(sources) + 1)
    self.assertEqual(report.data_files, len(targets))
    # The source's data files, byte for byte, under -of-<N+1> names.
    for source_file, target_file in zip(sources, targets, strict=False):
      self.assertEqual(_sha256(source_file), _sha256(target_file))
    # The one new file holds the new tensors only: the constants.
    constants = {n for n, how in report.mapping if how.startswith('= ')}
    self.assertEqual(
        constants, {f'training/Adagrad/{h}' for h in ('decay', 'learning_rate')}
    )
    parsed = index_lib.read_index(target)
    new_shard = len(sources)
    in_new = {
        n
        for n, e in parsed.entries.items()
        if not e.slices and e.shard_id == new_shard
    }
    self.assertEqual(in_new, constants)
    self.assertEqual(os.path.getsize(targets[-1]), report.written_bytes)
    self.assertEqual(report.written_bytes, 8)  # two float32 scalars
    # The partition slots joined by `slices` over their existing bytes.
    source_index = index_lib.read_index(self.source)
    joined = parsed.slice_entries[_ACCUMULATOR]
    self.assertLen(parsed.entries[_ACCUMULATOR].slices, 2)
    partitions = sorted(
        n
        for n in source_index.slice_entries
        if n.endswith('/Adagrad') and 'embedding' in n
    )
    self.assertLen(partitions, 2)
    self.assertEqual(
        sorted((e.shard_id, e.offset, e.size, e.crc32c) for e in joined),
        sorted(
            (e.shard_id, e.offset, e.size, e.crc32c)
            for n in partitions
            for e in source_index.slice_entries[n]
        ),
    )
    # The same checkpoint as the streaming path's, tensor for tensor.
    streamed = self.target()
    convert.convert_optimizer_checkpoint(
        self.model_dir, streamed, path='stream'
    )
    ours, theirs = _tensors(target), _tensors(streamed)
    self.assertEqual(set(ours), set(theirs))
    for name, value in theirs.items():
      np.testing.assert_array_equal(ours[name], value, err_msg=name)

  def test_link_shares_the_source_files_and_leaves_them_untouched(self):
    source_dir = os.path.join(self.create_tempdir().full_path, 'v1')
    shutil.copytree(self.model_dir, source_dir)
    before = _state(source_dir)
    target = self.target()
    report = convert.convert_optimizer_checkpoint(source_dir, target, link=True)
    self.assertEqual((report.path, report.transfer), ('zero_copy', 'link'))
    self.assertIn('zero-copy (link)', report.summary())
    self.assertEqual(_state(source_dir), before)  # bytes, mtime, mode
    source_prefix = os.path.join(source_dir, _PREFIX)
    for source_file, target_file in zip(
        _data_files(source_prefix), _data_files(target), strict=False
    ):
      self.assertTrue(os.path.samefile(source_file, target_file))
      self.assertEqual(os.stat(target_file).st_nlink, 2)
    expected = _tensors(target)
    # Deleting the source leaves the target whole (and the other way round).
    shutil.rmtree(source_dir)
    restored = _tensors(target)
    for name, value in expected.items():
      np.testing.assert_array_equal(restored[name], value, err_msg=name)
    self.assertEqual(os.stat(_data_files(target)[0]).st_nlink, 1)

  def test_binary_flags(self):
    out = self.create_tempdir().full_path
    result = testing.run_binary(
        _CONVERT,
        f'--source={self.model_dir}',
        f'--target={out}/{_PREFIX}',
        '--link',
        f'--report={out}/report.json',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn('path: zero-copy (link)', result.stdout)
    with open(f'{out}/report.json') as f:
      report = json.load(f)
    self.assertEqual(
        (report['path'], report['transfer']), ('zero_copy', 'link')
    )
    help_text = testing.run_binary(_CONVERT, '--help').stdout
    for flag in ('--path', '--link', 'zero_copy', 'copy_file_range'):
      self.assertIn(flag, help_text)


def _plan(reused_bytes: int, source_bytes: int, refused: str = ''):
  return zero_copy.Plan(
      reused=('a target',) if reused_bytes else (),
      written=(),
      reused_bytes=reused_bytes,
      source_bytes=source_bytes,
      refused=refused,
  )


class ChoosePathTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('most_bytes_reused', 'auto', 90, 100, False, 'zero_copy'),
      ('half_reused', 'auto', 50, 100, False, 'zero_copy'),
      ('few_bytes_reused', 'auto', 10, 100, False, 'stream'),
      ('few_reused_but_linked', 'auto', 10, 100, True, 'zero_copy'),
      ('nothing_reused', 'auto', 0, 100, True, 'stream'),
      ('zero_copy_asked', 'zero_copy', 10, 100, False, 'zero_copy'),
      ('stream_asked', 'stream', 100, 100, True, 'stream'),
  )
  def test_choice(self, path, reused, total, link, chosen):
    self.assertEqual(
        convert.choose_path(path, _plan(reused, total), link)[0], chosen
    )

  def test_refused_zero_copy(self):
    plan = _plan(100, 100, refused='the source bundle is big-endian')
    self.assertEqual(convert.choose_path('auto', plan, False)[0], 'stream')
    with self.assertRaisesRegex(
        errors.CheckpointError, 'path=zero_copy cannot run: .*big-endian'
    ):
      convert.choose_path('zero_copy', plan, False)

  def test_unknown_path(self):
    with self.assertRaisesRegex(
        errors.CheckpointError, r"path='fast'; expected one of"
    ):
      convert.choose_path('fast', _plan(1, 1), False)


if __name__ == '__main__':
  absltest.main()
