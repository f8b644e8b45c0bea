"""load() restores large variables block by block, exactly (issue #26).

The canned model.py restores a variable (a weight or, with compile=True, an
optimizer slot) larger than `RESTORE_BLOCK_BYTES` block by block, in place;
here that bound is lowered to a few rows so that every variable of a small
trained estimator takes the block path, and the result must equal the
one-piece restore bit for bit. `load(compile=False)` must not read an
optimizer slot at all. `predict_function` predicts as the model does.
"""

import functools
import json
import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import modern
from estimator_migrate.export import npz_stream
from estimator_migrate.export import weights as weights_lib

fc = tf.feature_column

# In the modern environment: the same export loaded with the default block
# size and with blocks of 40 bytes; which members each load() reads.
_SCRIPT = """
def plain(value):  # JSON: a classifier's string keys (classes) as str
  value = np.asarray(value)
  if value.dtype.kind in 'OS':
    value = value.astype(bytes).astype(str)
  return value.tolist()

directory = sys.argv[1]
result = {}
for name, block, compile in (('whole', None, True), ('blocks', 40, True),
                             ('plain', 40, False)):
  module = load_export(directory, name)
  if block is not None:
    module.RESTORE_BLOCK_BYTES = block
  read = []
  restore = module._restore
  def recording(variable, archive, key, restore=restore, read=read, **kw):
    read.append(key)
    return restore(variable, archive, key, **kw)
  module._restore = recording
  model = module.load(directory, compile=compile)
  values = {v.path: np.asarray(v.numpy()).tolist() for v in model.weights}
  if compile:
    for i, (optimizer, _) in enumerate(getattr(model, 'groups', ())):
      values.update({f'{i}/{v.name}': np.asarray(v.numpy()).tolist()
                     for v in optimizer.variables})
  result[name] = {'values': values, 'read': read}
  if name == 'plain':  # model.py's predict_function, at two batch sizes
    predicted = {}
    predict = module.predict_function(model)
    for batch in (1, 3):
      features = {'word': np.array([['w1'], ['w7'], ['']][:batch]),
                  'x': np.linspace(-1, 1, 3 * batch, dtype=np.float32
                                   ).reshape(batch, 3)}
      inputs = module.select_features(model, features)
      direct, traced = model(inputs, training=False), predict(inputs)
      predicted[batch] = {k: [plain(direct[k]), plain(traced[k])]
                          for k in direct}
    result['predicted'] = predicted
"""


@functools.cache
def _trained_model() -> tuple[str, dict]:
  """A small wide & deep classifier trained 3 steps: (model_dir, kwargs)."""
  words = fc.categorical_column_with_hash_bucket('word', 50)
  kwargs = dict(
      linear_feature_columns=[words, fc.numeric_column('x', shape=(3,))],
      dnn_feature_columns=[fc.embedding_column(words, 6)],
      dnn_hidden_units=[5],
      n_classes=3,
      dnn_optimizer='Adagrad',
      linear_optimizer='Ftrl',
  )
  model_dir = os.path.join(
      tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value), 'model'
  )
  estimator = tf.estimator.DNNLinearCombinedClassifier(
      model_dir=model_dir, **kwargs
  )
  rng = np.random.default_rng(0)

  def input_fn():
    features = {
        'word': np.array([[f'w{i}'] for i in rng.integers(0, 99, 16)]),
        'x': rng.normal(size=(16, 3)).astype(np.float32),
    }
    labels = rng.integers(0, 3, (16, 1))
    return tf.data.Dataset.from_tensors((features, labels)).repeat(3)

  estimator.train(input_fn)
  return model_dir, kwargs


class RestoreTest(absltest.TestCase):
  maxDiff = None

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model_dir, cls.kwargs = _trained_model()
    cls.target = os.path.join(
        tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value), 'restore_export'
    )
    export.canned_to_keras(
        'DNNLinearCombinedClassifier', model_dir=cls.model_dir, **cls.kwargs
    ).save(cls.target)
    cls.result = modern.run(
        modern.LOAD_EXPORT + _SCRIPT + modern.result_line(), cls.target
    )
    with np.load(os.path.join(cls.target, 'weights.npz')) as f:
      cls.members = {k: f[k] for k in f.files}

  def test_blocks_restore_exactly_what_one_piece_restores(self):
    whole, blocks = self.result['whole'], self.result['blocks']
    self.assertCountEqual(whole['values'], blocks['values'])
    self.assertGreater(len(whole['values']), 10)  # weights and slots
    for name, value in whole['values'].items():
      np.testing.assert_array_equal(
          np.asarray(blocks['values'][name]), np.asarray(value), err_msg=name
      )

  def test_every_member_is_read_once_with_compile(self):
    read = self.result['blocks']['read']
    self.assertLen(read, len(set(read)))
    self.assertCountEqual(read, [k for k in self.members if k != 'global_step'])

  def test_plain_load_reads_no_optimizer_slot(self):
    read = self.result['plain']['read']
    self.assertNotEmpty(read)
    self.assertEmpty([k for k in read if k.startswith('optimizer/')])
    with open(os.path.join(self.target, 'spec.json')) as f:
      spec = json.load(f)
    weights = [n for names in spec['weights'].values() for n in names]
    self.assertCountEqual(read, weights)

  def test_predict_function_predicts_as_the_model(self):
    for batch, outputs in self.result['predicted'].items():
      self.assertIn('probabilities', outputs)
      for key, (direct, traced) in outputs.items():
        self.assertLen(direct, int(batch), key)
        np.testing.assert_allclose(
            np.asarray(traced, float),
            np.asarray(direct, float),
            rtol=1e-6,
            atol=1e-7,
            err_msg=f'{key} at batch {batch}',
        )

  def test_restored_values_are_the_checkpoints(self):
    values = self.result['plain']['values']
    table = 'dnn/input_from_feature_columns/input_layer/word_embedding/embedding_weights'
    (restored,) = [v for k, v in values.items() if 'word_embedding' in k]
    np.testing.assert_array_equal(np.asarray(restored), self.members[table])


class LazyExportTest(absltest.TestCase):
  """Tensors above weights.LAZY_BYTES are read while weights.npz is written.

  The bound is lowered to 16 bytes so that every tensor of a small
  estimator takes that path; the file must equal the one-piece export.
  """

  def test_lazy_tensors_write_the_same_weights(self):
    model_dir, kwargs = _trained_model()
    whole = os.path.join(self.create_tempdir().full_path, 'whole')
    export.canned_to_keras(
        'DNNLinearCombinedClassifier', model_dir=model_dir, **kwargs
    ).save(whole)
    with np.load(os.path.join(whole, 'weights.npz')) as f:
      members = {k: f[k] for k in f.files}
    with mock.patch.object(weights_lib, 'LAZY_BYTES', 16):
      result = export.canned_to_keras(
          'DNNLinearCombinedClassifier', model_dir=model_dir, **kwargs
      )
      lazy = [
          k
          for k, v in result.arrays.items()
          if isinstance(v, npz_stream.Blocks)
      ]
      self.assertGreater(len(lazy), 5)  # weights and optimizer slots
      target = os.path.join(self.create_tempdir().full_path, 'lazy')
      result.save(target)
    with np.load(os.path.join(target, 'weights.npz')) as f:
      written = {k: f[k] for k in f.files}
    self.assertCountEqual(written, members)
    for name, value in members.items():
      np.testing.assert_array_equal(written[name], value, err_msg=name)
    # The 0.1 API: a lazy array still reads whole where code asks for one.
    name = lazy[0]
    np.testing.assert_array_equal(
        np.asarray(result.arrays[name]), members[name]
    )

  def test_corrupt_lazy_tensor_fails_the_save_and_writes_nothing(self):
    model_dir = os.path.join(self.create_tempdir().full_path, 'model')
    source, kwargs = _trained_model()
    shutil.copytree(source, model_dir)
    prefix = tf.train.latest_checkpoint(model_dir)
    table = (
        'dnn/input_from_feature_columns/input_layer/word_embedding/'
        'embedding_weights'
    )
    value = tf.train.load_checkpoint(prefix).get_tensor(table)
    (data,) = tf.io.gfile.glob(prefix + '.data-*')
    with open(data, 'rb') as f:
      blob = f.read()
    at = blob.index(value.tobytes()[:64]) + 40
    with open(data, 'r+b') as f:
      f.seek(at)
      f.write(bytes([blob[at] ^ 0x01]))
    parent = self.create_tempdir().full_path
    with mock.patch.object(weights_lib, 'LAZY_BYTES', 16):
      result = export.canned_to_keras(
          'DNNLinearCombinedClassifier',
          model_dir=model_dir,
          **kwargs,
      )
      with self.assertRaisesRegex(
          errors.CheckpointError, 'CRC|checksum|corrupt'
      ):
        result.save(os.path.join(parent, 'keras'))
    self.assertEqual(os.listdir(parent), [])


if __name__ == '__main__':
  absltest.main()
