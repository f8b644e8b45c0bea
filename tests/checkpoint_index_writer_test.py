"""index_writer against TensorFlow: the bytes TF writes, and TF's reader.

Every bundle here is written by TF (`SaveV2`, `MergeV2Checkpoints`, canned
estimators); the writer must reproduce its `.index` byte for byte from the
parsed entries, and TF must read every tensor back through an index the
writer wrote over TF's data files, under new names.
"""

import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors
from estimator_migrate.checkpoints.bundle import format as bundle_format
from estimator_migrate.checkpoints.bundle import index
from estimator_migrate.checkpoints.bundle import index_writer
from tests import canned_harness

# Every dtype SaveV2 stores as raw bytes, and strings (lengths + bytes).
_DTYPES = (
    'float16',
    'bfloat16',
    'float32',
    'float64',
    'int8',
    'int16',
    'int32',
    'int64',
    'uint8',
    'uint16',
    'uint32',
    'uint64',
    'bool',
    'complex64',
    'complex128',
)
_FULL = np.arange(60, dtype=np.float32).reshape(10, 6)


def _save(prefix: str, items) -> str:
  """SaveV2 of (name, shape_and_slice, value) triples; returns `prefix`."""
  names, specs, values = zip(*items, strict=True)
  tf.raw_ops.SaveV2(
      prefix=prefix,
      tensor_names=tf.constant([n.encode('utf-8') for n in names]),
      shape_and_slices=list(specs),
      tensors=list(values),
  )
  return prefix


def _value(dtype: str, shape=(2, 3)):
  rng = np.random.default_rng(len(dtype))
  if dtype == 'bool':
    return tf.constant(rng.integers(0, 2, shape).astype(bool))
  if dtype.startswith('complex'):
    return tf.constant(
        rng.normal(size=shape) + 1j * rng.normal(size=shape), dtype
    )
  return tf.cast(tf.constant(rng.normal(size=shape) * 50), dtype)


def _every_dtype(prefix: str) -> str:
  items = [(f'dtype/{d}', '', _value(d)) for d in _DTYPES]
  items += [
      ('string/scalar', '', tf.constant(b'')),
      (
          'string/matrix',
          '',
          tf.constant([[b'a', b'\x00\xff'], [b'xyz' * 99, b'']]),
      ),
      ('empty/float', '', tf.zeros([0, 4])),
      ('empty/string', '', tf.constant([], tf.string)),
      ('scalar/int64', '', tf.constant(7, tf.int64)),
  ]
  return _save(prefix, items)


def _partitioned(prefix: str) -> str:
  return _save(
      prefix,
      [
          ('rows', '10 6 0,3:-', _FULL[:3]),
          ('rows', '10 6 3,4:-', _FULL[3:7]),
          ('rows', '10 6 7,3:-', _FULL[7:]),
          ('cols', '10 6 -:0,2', _FULL[:, :2]),
          ('cols', '10 6 -:2,4', _FULL[:, 2:]),
          ('both', '10 6 0,5:0,6', _FULL[:5]),
          ('both', '10 6 5,5:-', _FULL[5:]),
          ('whole', '', _FULL),
      ],
  )


def _many_blocks(prefix: str) -> str:
  # ~190-byte keys differing early (no prefix to share): ~1300 a block.
  long = '/hidden' * 24
  return _save(
      prefix,
      [
          (f'{i:04d}{long}/kernel', '', tf.fill([2], float(i)))
          for i in range(3000)
      ],
  )


def _names(prefix: str) -> str:
  """Names whose bytes need care: UTF-8, a NUL (escaped in slice keys)."""
  return _save(
      prefix,
      [
          ('é/中/kernel', '', tf.constant([1.0])),
          ('a\x00b', '10 6 0,5:-', _FULL[:5]),
          ('a\x00b', '10 6 5,5:-', _FULL[5:]),
          ('a', '', tf.constant(2)),
          ('a/', '', tf.constant(3)),
          ('\x7f', '', tf.constant(4)),
      ],
  )


def _random_names(prefix: str) -> str:
  """300 seeded names over several scripts, sharing prefixes; some sliced."""
  rng = np.random.default_rng(12)
  alphabet = list('ab/_09.') + ['é', 'ß', 'Ж', '中', '文', '😀', '\x7f', ' ']
  stems = [''.join(rng.choice(alphabet, rng.integers(1, 6))) for _ in range(20)]
  names = sorted(
      {
          rng.choice(stems) + ''.join(rng.choice(alphabet, rng.integers(0, 12)))
          for _ in range(300)
      }
  )
  items = []
  for i, name in enumerate(names):
    if i % 7:
      items.append((name, '', tf.constant([float(i)])))
    else:  # rows cut at a seeded point
      cut = int(rng.integers(1, 10))
      items.append((name, f'10 6 0,{cut}:-', _FULL[:cut]))
      items.append((name, f'10 6 {cut},{10 - cut}:-', _FULL[cut:]))
  return _save(prefix, items)


_FAR = (100, 0x424242, 1 << 40)  # OrderedCode of 2, 4 and 7 bytes


def _large_extents(prefix: str) -> str:
  """Slices starting far into a huge tensor: multi-byte slice-key numbers.

  Only the slices are stored (the tensor is never whole), so TF reads them
  with RestoreV2 and a slice spec, not as a whole tensor.
  """
  rows = 1 << 41
  return _save(
      prefix,
      [
          ('far', f'{rows} 3 {start},2:-', _FULL[:2, :3] + i)
          for i, start in enumerate(_FAR)
      ],
  )


def _merged(prefix: str) -> str:
  """Two bundles merged: two shards, one tensor's slices in each."""
  first = _save(
      prefix + '_part0',
      [('w', '10 6 0,4:-', _FULL[:4]), ('x', '', tf.constant(1.0))],
  )
  second = _save(
      prefix + '_part1',
      [('w', '10 6 4,6:-', _FULL[4:]), ('y', '', tf.constant([True]))],
  )
  tf.raw_ops.MergeV2Checkpoints(
      checkpoint_prefixes=[second, first],
      destination_prefix=prefix,
      delete_old_dirs=False,
  )
  return prefix


def _single(prefix: str) -> str:
  return _save(prefix, [('only', '', tf.constant(1.5))])


# (test name, bundle); canned-estimator bundles are trained once per class.
_BUNDLES = (
    ('single', _single),
    ('every_dtype', _every_dtype),
    ('partitioned', _partitioned),
    ('many_blocks', _many_blocks),
    ('names', _names),
    ('random_names', _random_names),
    ('merged_shards', _merged),
    ('canned_v1_partitioned', 'canned_v1'),
    ('canned_v2_adam', 'canned_v2'),
)


def _canned_v1(model_dir: str) -> str:
  """A v1 wide-and-deep checkpoint: partitioned layers, Adagrad and Ftrl."""
  estimator = tf.compat.v1.estimator.DNNLinearCombinedClassifier(
      model_dir=model_dir,
      linear_feature_columns=canned_harness.sparse_columns(),
      dnn_feature_columns=(
          canned_harness.dense_columns() + canned_harness.embedding_columns()
      ),
      dnn_hidden_units=[4],
      n_classes=canned_harness.N_CLASSES,
      # Two partitions of the embedding (4 x 2 floats), one of the bias.
      input_layer_partitioner=tf.compat.v1.min_max_variable_partitioner(
          max_partitions=2, min_slice_size=16
      ),
      config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  estimator.train(canned_harness.make_input_fn('Classifier', True), steps=1)
  return estimator.latest_checkpoint()


def _canned_v2(model_dir: str) -> str:
  """A v2 DNN checkpoint: Keras Adam's slots and hyperparameters."""
  estimator = tf.estimator.DNNClassifier(
      model_dir=model_dir,
      hidden_units=[4],
      feature_columns=canned_harness.dense_columns(),
      n_classes=canned_harness.N_CLASSES,
      optimizer='Adam',
      config=tf.estimator.RunConfig(tf_random_seed=0),
  )
  estimator.train(
      canned_harness.make_input_fn('Classifier', True, False), steps=1
  )
  return estimator.latest_checkpoint()


def _copy_renamed(source: str, target: str, rename) -> index.Index:
  """Copies `source`'s data files to `target`; its index, names renamed."""
  parsed = index.read_index(source)
  for path in tf.io.gfile.glob(source + '.data-*'):
    shutil.copyfile(path, target + path[len(source) :])
  renamed = index.Index(
      parsed.header,
      {rename(n): e for n, e in parsed.entries.items()},
      {rename(n): s for n, s in parsed.slice_entries.items()},
  )
  index_writer.write_index(target, renamed)
  return renamed


def _read_all(prefix: str) -> dict[str, np.ndarray]:
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


class IndexWriterTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    root = tempfile.mkdtemp(dir=absltest.get_default_test_tmpdir())
    cls._canned = {
        'canned_v1': _canned_v1(os.path.join(root, 'v1')),
        'canned_v2': _canned_v2(os.path.join(root, 'v2')),
    }

  def _bundle(self, make) -> str:
    if isinstance(make, str):
      return self._canned[make]
    return make(os.path.join(self.create_tempdir().full_path, 'ckpt'))

  @parameterized.named_parameters(*_BUNDLES, ('large_extents', _large_extents))
  def test_same_bytes_as_tf(self, make):
    prefix = self._bundle(make)
    with open(prefix + '.index', 'rb') as f:
      written_by_tf = f.read()

    ours, _ = index_writer.encode_index(index.read_index(prefix))

    self.assertEqual(ours, written_by_tf)

  def test_canned_bundles_hold_what_they_stand_for(self):
    v1 = index.read_index(self._canned['canned_v1'])
    v2 = index.read_index(self._canned['canned_v2'])

    embedding = 'dnn/input_from_feature_columns/input_layer/cat_embedding/'
    self.assertLen(
        v1.entries[embedding + 'embedding_weights/Adagrad'].slices, 2
    )
    self.assertLen(v1.entries['linear/linear_model/cat/weights/Ftrl'].slices, 2)
    self.assertIn('training/Adam/dnn/logits/kernel/m', v2.entries)
    self.assertIn('training/Adam/beta_1', v2.entries)
    self.assertIn('global_step', v2.entries)

  def test_many_blocks_spans_several_blocks(self):
    prefix = _many_blocks(os.path.join(self.create_tempdir().full_path, 'm'))

    _, blocks = index_writer.encode_index(index.read_index(prefix))

    self.assertGreaterEqual(blocks, 3)

  @parameterized.named_parameters(*_BUNDLES)
  def test_tf_reads_every_tensor_renamed(self, make):
    prefix = self._bundle(make)
    target = os.path.join(self.create_tempdir().full_path, 'renamed')

    _copy_renamed(prefix, target, lambda n: 'new/' + n)

    want = _read_all(prefix)
    got = _read_all(target)
    self.assertCountEqual(got, ['new/' + n for n in want])
    for name, value in want.items():
      self.assertAllEqual(got['new/' + name], value, msg=name)

  @parameterized.named_parameters(
      ('rows', 'rows', '10 6 2,6:-', _FULL[2:8]),
      ('cols', 'cols', '10 6 -:1,4', _FULL[:, 1:5]),
      ('both', 'both', '10 6 3,4:2,3', _FULL[3:7, 2:5]),
  )
  def test_restore_v2_reads_slices_across_partitions(self, name, spec, want):
    prefix = _partitioned(os.path.join(self.create_tempdir().full_path, 'p'))
    target = os.path.join(self.create_tempdir().full_path, 'renamed')
    _copy_renamed(prefix, target, lambda n: n + '_renamed')

    (got,) = tf.raw_ops.RestoreV2(
        prefix=target,
        tensor_names=[name + '_renamed'],
        shape_and_slices=[spec],
        dtypes=[tf.float32],
    )

    self.assertAllEqual(got, want)

  def test_restore_v2_reads_far_slices_renamed(self):
    prefix = _large_extents(os.path.join(self.create_tempdir().full_path, 'f'))
    target = os.path.join(self.create_tempdir().full_path, 'renamed')
    _copy_renamed(prefix, target, lambda n: 'near')

    for i, start in enumerate(_FAR):
      (got,) = tf.raw_ops.RestoreV2(
          prefix=target,
          tensor_names=['near'],
          shape_and_slices=[f'{1 << 41} 3 {start},2:-'],
          dtypes=[tf.float32],
      )
      self.assertAllEqual(got, _FULL[:2, :3] + i)

  @parameterized.named_parameters(
      ('block_64', 64, 16),
      ('block_1_restart_1', 1, 1),
      ('restart_2', 256, 2),
  )
  def test_tf_reads_other_block_layouts(self, block_size, restart_interval):
    # Small blocks exercise every table path: separators, entries of twice
    # the block size or more (a block of their own), restarts in a block.
    prefix = _every_dtype(os.path.join(self.create_tempdir().full_path, 'd'))
    parsed = index.read_index(prefix)
    items = [(b'', parsed.header.SerializeToString())] + sorted(
        (n.encode(), e.SerializeToString()) for n, e in parsed.entries.items()
    )
    data, blocks = index_writer.encode_table(
        items, block_size=block_size, restart_interval=restart_interval
    )
    with open(prefix + '.index', 'wb') as f:
      f.write(data)

    got = _read_all(prefix)

    self.assertGreater(blocks, 1)
    self.assertCountEqual(got, parsed.entries)
    self.assertAllEqual(got['dtype/int64'], _value('int64'))

  def test_header_only_index_opens_empty(self):
    prefix = os.path.join(self.create_tempdir().full_path, 'empty')
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
    header.version.producer = 1
    with open(prefix + '.data-00000-of-00001', 'wb'):
      pass

    written = index_writer.write_index(prefix, index.Index(header, {}, {}))

    self.assertEqual(
        tf.train.load_checkpoint(prefix).get_variable_to_shape_map(), {}
    )
    self.assertEqual((written.tensors, written.blocks), (0, 1))  # the header

  def test_masked_crc_is_the_one_tf_stores(self):
    prefix = _every_dtype(os.path.join(self.create_tempdir().full_path, 'd'))
    entry = index.read_index(prefix).entries['dtype/float64']
    with open(prefix + '.data-00000-of-00001', 'rb') as f:
      f.seek(entry.offset)
      data = f.read(entry.size)

    crc = bundle_format.crc32c(data)

    self.assertEqual(bundle_format.mask(crc), entry.crc32c)
    self.assertEqual(bundle_format.unmask(entry.crc32c), crc)

  def test_writes_through_gfile(self):
    source = _partitioned(os.path.join(self.create_tempdir().full_path, 'p'))
    parsed = index.read_index(source)

    written = index_writer.write_index('ram://index_writer/p', parsed)

    self.assertEqual(index.read_index('ram://index_writer/p'), parsed)
    self.assertEqual(written.path, 'ram://index_writer/p.index')
    self.assertEqual((written.tensors, written.slices), (4, 7))


class IndexWriterErrorTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.prefix = _partitioned(
        os.path.join(self.create_tempdir().full_path, 'p')
    )
    self.parsed = index.read_index(self.prefix)

  def _with(self, entries=None, slice_entries=None, shards=None):
    header = tensor_bundle_pb2.BundleHeaderProto()
    header.CopyFrom(self.parsed.header)
    if shards is not None:
      header.num_shards = shards
    return index.Index(
        header,
        self.parsed.entries if entries is None else entries,
        self.parsed.slice_entries if slice_entries is None else slice_entries,
    )

  def test_refuses_existing_index(self):
    with self.assertRaisesRegex(
        errors.CheckpointError, r'prefix: .*p\.index exists.*overwrite'
    ):
      index_writer.write_index(self.prefix, self.parsed)

  def test_overwrite_replaces_and_leaves_no_temporary(self):
    index_writer.write_index(self.prefix, self.parsed, overwrite=True)

    self.assertEqual(
        sorted(os.listdir(os.path.dirname(self.prefix))),
        ['p.data-00000-of-00001', 'p.index'],
    )

  def test_empty_name_collides_with_header(self):
    entries = dict(self.parsed.entries, **{'': self.parsed.entries['whole']})
    with self.assertRaisesRegex(errors.CheckpointError, "named ''.*header"):
      index_writer.encode_index(self._with(entries=entries))

  def test_missing_stored_slice(self):
    slices = dict(
        self.parsed.slice_entries, rows=self.parsed.slice_entries['rows'][:2]
    )
    with self.assertRaisesRegex(
        errors.CheckpointError, r"'rows' lists 3 slices.*holds 2"
    ):
      index_writer.encode_index(self._with(slice_entries=slices))

  def test_stored_slices_out_of_order(self):
    rows = self.parsed.slice_entries['rows']
    slices = dict(self.parsed.slice_entries, rows=[rows[1], rows[0], rows[2]])
    with self.assertRaisesRegex(
        errors.CheckpointError, r"slice of 'rows'.*shape \[4, 6\].*\[3, 6\]"
    ):
      index_writer.encode_index(self._with(slice_entries=slices))

  def test_slices_of_an_unsliced_tensor(self):
    slices = dict(
        self.parsed.slice_entries, whole=[self.parsed.entries['whole']]
    )
    with self.assertRaisesRegex(
        errors.CheckpointError, r"\['whole'\].*not list as sliced"
    ):
      index_writer.encode_index(self._with(slice_entries=slices))

  def test_shard_outside_header(self):
    entry = tensor_bundle_pb2.BundleEntryProto()
    entry.CopyFrom(self.parsed.entries['whole'])
    entry.shard_id = 1
    entries = dict(self.parsed.entries, whole=entry)
    with self.assertRaisesRegex(
        errors.CheckpointError, r"'whole' is in shard 1.*num_shards=1"
    ):
      index_writer.encode_index(self._with(entries=entries))

  def test_table_keys_must_increase(self):
    with self.assertRaisesRegex(ValueError, 'increase bytewise'):
      index_writer.encode_table([(b'b', b''), (b'a', b'')])
    with self.assertRaisesRegex(ValueError, 'increase bytewise'):
      index_writer.encode_table([(b'a', b''), (b'a', b'')])


if __name__ == '__main__':
  absltest.main()
