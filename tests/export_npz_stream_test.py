"""weights.npz written and proven block by block (export/npz_stream.py)."""

import hashlib
import io
import os
import zipfile

from absl.testing import absltest
import numpy as np

from estimator_migrate.export import npz_stream


def _blocks(array: np.ndarray, calls: list | None = None) -> npz_stream.Blocks:
  def read(start, stop):
    if calls is not None:
      calls.append((start, stop))
    return array[start:stop]

  return npz_stream.Blocks(str(array.dtype), array.shape, read)


class NpzStreamTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.path = os.path.join(self.create_tempdir().full_path, 'weights.npz')
    rng = np.random.default_rng(0)
    self.arrays = {
        'dnn/hiddenlayer_0/kernel': rng.normal(size=(7, 5)).astype(np.float32),
        'global_step': np.int64(1234),
        'ids/vocabulary': (
            np.array([b'a', b'bc', b''], dtype=object).astype('S2')
        ),
        'empty': np.zeros((0, 3), np.float32),
        'flags': np.array([True, False]),
        'double': rng.normal(size=(3,)),
    }

  def test_np_load_reads_what_was_written(self):
    npz_stream.write(self.path, self.arrays)
    with np.load(self.path, allow_pickle=False) as f:
      self.assertCountEqual(f.files, self.arrays)
      for name, want in self.arrays.items():
        self.assertEqual(f[name].dtype, np.asarray(want).dtype, name)
        np.testing.assert_array_equal(f[name], want, err_msg=name)

  def test_same_header_and_bytes_as_np_savez_members(self):
    npz_stream.write(self.path, self.arrays)
    reference = self.path + '.savez.npz'
    np.savez(reference, **self.arrays)

    def parsed(blob):
      f = io.BytesIO(blob)
      major, _ = np.lib.format.read_magic(f)
      read = (
          np.lib.format.read_array_header_1_0
          if major == 1
          else np.lib.format.read_array_header_2_0
      )
      return read(f), f.read()

    with zipfile.ZipFile(self.path) as ours, zipfile.ZipFile(reference) as np_:
      for name in self.arrays:
        self.assertEqual(
            parsed(ours.read(name + '.npy')),
            parsed(np_.read(name + '.npy')),
            name,
        )

  def test_blocks_read_row_blocks_and_equal_the_array(self):
    table = np.arange(1000 * 8, dtype=np.float32).reshape(1000, 8)
    calls = []
    digests = npz_stream.write(
        self.path, {'table': _blocks(table, calls)}, block_bytes=32 * 100
    )
    self.assertEqual(calls[0], (0, 100))
    self.assertLen(calls, 10)  # 100 rows of 32 bytes per 3,200-byte block
    with np.load(self.path) as f:
      np.testing.assert_array_equal(f['table'], table)
    whole = npz_stream.write(self.path + '2.npz', {'table': table})
    self.assertEqual(digests, whole)

  def test_digest_is_the_files_as_written_and_read_back(self):
    written = npz_stream.write(self.path, self.arrays, block_bytes=16)
    with open(self.path, 'rb') as f:
      self.assertEqual(written, hashlib.sha256(f.read()).hexdigest())
    self.assertEqual(npz_stream.sha256(self.path, block_bytes=16), written)
    self.assertEqual(npz_stream.sha256(self.path), written)

  def test_a_changed_byte_is_caught(self):
    written = npz_stream.write(self.path, self.arrays)
    with open(self.path, 'r+b') as f:
      data = bytearray(f.read())
      at = data.find(self.arrays['dnn/hiddenlayer_0/kernel'].tobytes()) + 3
      data[at] ^= 0x10
      f.seek(0)
      f.write(data)
    self.assertNotEqual(npz_stream.sha256(self.path), written)

  def test_blocks_stay_within_stored_pieces(self):
    table = np.arange(100 * 4, dtype=np.float32).reshape(100, 4)
    calls = []
    blocks = npz_stream.Blocks(
        'float32', table.shape, _blocks(table, calls).read, (0, 30, 45, 100)
    )
    digest = npz_stream.write(self.path, {'t': blocks}, block_bytes=16 * 20)
    # 20 rows a block, cut where a piece begins (30, 45).
    self.assertEqual(
        calls, [(0, 20), (20, 30), (30, 45), (45, 65), (65, 85), (85, 100)]
    )
    self.assertEqual(digest, npz_stream.write(self.path + '2', {'t': table}))

  def test_blocks_with_the_wrong_rows_are_refused(self):
    table = np.ones((10, 2), np.float32)
    short = npz_stream.Blocks('float32', (12, 2), lambda a, b: table[a:b])
    with self.assertRaisesRegex(ValueError, '10 rows read for an array of'):
      npz_stream.write(self.path, {'t': short})
    wide = npz_stream.Blocks(
        'float32', (10, 3), lambda a, b: np.ones((b - a, 2), np.float32)
    )
    with self.assertRaisesRegex(ValueError, 'a block of shape'):
      npz_stream.write(self.path, {'t': wide})

  def test_a_scalar_blocks(self):
    step = npz_stream.Blocks('int64', (), lambda a, b: np.int64(7))
    npz_stream.write(self.path, {'global_step': step})
    with np.load(self.path) as f:
      self.assertEqual(f['global_step'], 7)
      self.assertEqual(f['global_step'].shape, ())


if __name__ == '__main__':
  absltest.main()
