"""The exported model as a user's artifact: checked when loaded, a Keras model.

An export's `integrity.json` (sha256 of every file, written last) is checked
by `load()` in the modern environment (TensorFlow 2.21, Keras 3) before it
reads anything else: each tampered copy of a canned and a custom export is
refused with one `IntegrityError` naming the file and saying to re-export,
and a custom export's edited builder reference is refused before the
module it names is imported. `load()` then prints no Keras warning, and a
model the user compiles with their own optimizer trains every weight as a
plain Keras model does. One modern subprocess serves every case.
"""

import ast
import json
import os
import shutil
import subprocess
import tempfile

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import codegen
from estimator_migrate.export import custom
from estimator_migrate.export import integrity
from estimator_migrate.export import modern
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.export import target as target_lib
from estimator_migrate.tf2 import model_fn
from tests import export_custom_builders

fc = tf.feature_column
_BATCH = 8
_N = 4 * _BATCH
_EPOCHS = 2
# The user's compile+fit and plain Keras fit run the same ops on the same
# batches; measured max |difference| 0. The bound leaves room
# for other CPUs' reduction orders.
TOLERANCE = 1e-6
# SealTest writes no checkpoint: a prefix its targets never lie beside.
_ELSEWHERE = os.path.join(os.sep, 'no-model-dir', 'model.ckpt-1')
_EVIL = 'estimator_migrate_trust_evil'

# In the modern environment: every case's load(), the fine-tuning runs.
_SCRIPT = """
import warnings
import keras
config = json.loads(sys.argv[1])
result = {'loads': {}}
for index, (name, directory) in enumerate(sorted(config['loads'].items())):
  module = load_export(directory, index)
  try:
    module.load(directory)
    result['loads'][name] = ['ok', '']
  except Exception as e:
    result['loads'][name] = [type(e).__name__, str(e)]

directory = config['canned']
module = load_export(directory, 'fit')
with np.load(config['features']) as f:
  features = {k: f[k] for k in f.files}
labels = {'logits': np.load(config['labels'])}


def compiled(model):
  model.compile(
      optimizer=keras.optimizers.Adam(0.05),
      loss={'logits': keras.losses.SparseCategoricalCrossentropy(
          from_logits=True)},
  )
  return model


def fit(model):
  x = module.select_features(model, features)
  model.fit(x, labels, batch_size=config['batch'], epochs=config['epochs'],
            shuffle=False, verbose=0)
  return weights(model)


def weights(model):
  return {v.path: np.asarray(v.numpy()).tolist()
          for v in model.trainable_weights}


loaded = module.load(directory)
result['loaded'] = weights(loaded)
result['user'] = fit(compiled(loaded))
# The estimator's compile, then the user's own: the user's optimizer wins.
result['recompiled'] = fit(compiled(module.load(directory, compile=True)))
reference = module.load(directory)
plain = keras.Model(reference.input, reference.output)
result['plain'] = fit(compiled(plain))
"""


def _canned_kwargs() -> dict:
  # Vocabulary columns without out-of-vocabulary buckets: their layers used
  # to warn on every load() that build() was missing.
  word = fc.categorical_column_with_vocabulary_list('word', ['a', 'b', 'c'])
  code = fc.categorical_column_with_vocabulary_list('code', [3, 5, 7])
  x = fc.numeric_column('x', shape=(2,))
  return dict(
      n_classes=3,
      dnn_hidden_units=[4],
      dnn_optimizer='Adam',
      dnn_feature_columns=[x, fc.embedding_column(word, 2)],
      linear_feature_columns=[word, code, x],
  )


def _flip(path: str, old: bytes, new: bytes, after: bytes = b'') -> None:
  """Replaces the first `old` (after `after`) in `path` with `new`."""
  with open(path, 'rb') as f:
    data = f.read()
  start = data.index(after) + len(after) if after else 0
  at = data.index(old, start)
  with open(path, 'wb') as f:
    f.write(data[:at] + new + data[at + len(old) :])


def _flip_byte(path: str) -> None:
  with open(path, 'r+b') as f:
    f.seek(os.path.getsize(path) // 2)
    byte = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte[0] ^ 0x01]))


def _edit_json(path: str, edit) -> None:
  with open(path) as f:
    data = json.load(f)
  edit(data)
  with open(path, 'w') as f:
    json.dump(data, f)


def _edit_record(directory: str, edit) -> None:
  _edit_json(os.path.join(directory, integrity.RECORD), edit)


def _builder_to_evil(directory: str, evil_dir: str) -> None:
  """spec.json's builder reference edited to a module that marks its import."""
  path = os.path.join(directory, 'spec.json')
  with open(path) as f:
    text = f.read()
  spec = json.loads(text)
  text = text.replace(spec['builder'], f'{_EVIL}:dense')
  text = text.replace(json.dumps(spec['builder_path']), json.dumps(evil_dir))
  with open(path, 'w') as f:
    f.write(text)


def _spec_edited(directory: str, edit) -> None:
  """spec.json edited, its record written again (as another version's)."""
  _edit_json(os.path.join(directory, spec_lib.SPEC_FILE), edit)
  integrity.write_record(directory)


class ExportModelTrustTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(5)
    features = {
        'x': rng.normal(size=(_N, 2)).astype(np.float32),
        'word': rng.choice(np.array(['a', 'b', 'c', 'z', '']), size=(_N, 2)),
        'code': rng.choice([3, 5, 7, 9, -1], size=(_N, 1)).astype(np.int64),
    }
    labels = rng.integers(0, 3, size=(_N, 1))

    def input_fn():
      return tf.data.Dataset.from_tensor_slices((features, labels)).batch(
          _BATCH
      )

    kwargs = _canned_kwargs()
    model_dir = os.path.join(cls.root, 'canned')
    estimator = tf.estimator.DNNLinearCombinedClassifier(
        model_dir=model_dir, **kwargs
    )
    estimator.train(input_fn, steps=2)
    cls.canned_result = export.canned_to_keras(
        tf.estimator.DNNLinearCombinedClassifier, model_dir=model_dir, **kwargs
    )
    cls.canned = cls.canned_result.save(os.path.join(cls.root, 'canned_keras'))

    custom_dir = os.path.join(cls.root, 'custom')
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    tf.estimator.Estimator(
        model_fn.make_model_fn(
            export_custom_builders.dense, loss=loss, optimizer='Adam'
        ),
        model_dir=custom_dir,
        params={},
    ).train(
        lambda: tf.data.Dataset.from_tensor_slices(
            ({'x': rng.normal(size=(_N, 3)).astype(np.float32)}, labels)
        ).batch(_BATCH),
        steps=1,
    )
    cls.custom = export.keras_model_to_keras(
        custom_dir, 'tests.export_custom_builders:dense', params={}
    ).save(os.path.join(cls.root, 'custom_keras'))

    cls.evil_dir = os.path.join(cls.root, 'evil')
    os.makedirs(cls.evil_dir)
    cls.marker = os.path.join(cls.root, 'evil_module_was_imported')
    with open(os.path.join(cls.evil_dir, f'{_EVIL}.py'), 'w') as f:
      f.write(
          f'open({cls.marker!r}, "w").close()\n'
          'from tests.export_custom_builders import dense  # noqa\n'
      )

    cases = {
        'canned_untouched': (cls.canned, None),
        'custom_untouched': (cls.custom, None),
        'canned_pycache_added': (
            cls.canned,
            lambda d: os.makedirs(os.path.join(d, '__pycache__')),
        ),
        'spec_vocabulary_entry': (
            cls.canned,
            lambda d: _flip(
                os.path.join(d, 'spec.json'), b'"b"', b'"d"', b'"vocabulary"'
            ),
        ),
        'weights_byte': (
            cls.canned,
            lambda d: _flip_byte(os.path.join(d, 'weights.npz')),
        ),
        'model_py_character': (
            cls.canned,
            lambda d: _flip(
                os.path.join(d, 'model.py'),
                b'canned estimator',
                b'canned Estimator',
            ),
        ),
        'custom_builder_reference': (
            cls.custom,
            lambda d: _builder_to_evil(d, cls.evil_dir),
        ),
        'custom_weights_byte': (
            cls.custom,
            lambda d: _flip_byte(os.path.join(d, 'weights.npz')),
        ),
        'record_missing': (
            cls.canned,
            lambda d: os.remove(os.path.join(d, integrity.RECORD)),
        ),
        'record_other_format': (
            cls.canned,
            lambda d: _edit_record(d, lambda r: r.update(format=2)),
        ),
        'record_outside_path': (
            cls.canned,
            lambda d: _edit_record(
                d, lambda r: r['files'].update({'../canned/x': '0' * 64})
            ),
        ),
        'report_edited': (
            cls.canned,
            lambda d: _flip(
                os.path.join(d, 'report.md'), b'Keras 3', b'Keras 2'
            ),
        ),
        'weights_missing': (
            cls.canned,
            lambda d: os.remove(os.path.join(d, 'weights.npz')),
        ),
        # As estimator_migrate 0.1 wrote spec.json: no schema_version.
        'canned_unversioned': (
            cls.canned,
            lambda d: _spec_edited(d, lambda s: s.pop('schema_version')),
        ),
        'custom_unversioned': (
            cls.custom,
            lambda d: _spec_edited(d, lambda s: s.pop('schema_version')),
        ),
        'canned_newer_version': (
            cls.canned,
            lambda d: _spec_edited(d, lambda s: s.update(schema_version=4)),
        ),
        'custom_newer_version': (
            cls.custom,
            lambda d: _spec_edited(d, lambda s: s.update(schema_version=4)),
        ),
        'canned_unversioned_other_keys': (
            cls.canned,
            lambda d: _spec_edited(
                d, lambda s: (s.pop('schema_version'), s.update(extra={}))
            ),
        ),
    }
    loads = {}
    for name, (source, tamper) in cases.items():
      target = os.path.join(cls.root, 'loads', name)
      shutil.copytree(source, target)
      if tamper is not None:
        tamper(target)
      loads[name] = target
    cls.directories = loads
    np.savez(os.path.join(cls.root, 'features.npz'), **features)
    np.save(os.path.join(cls.root, 'labels.npy'), labels)
    config = {
        'loads': loads,
        'canned': cls.canned,
        'features': os.path.join(cls.root, 'features.npz'),
        'labels': os.path.join(cls.root, 'labels.npy'),
        'batch': _BATCH,
        'epochs': _EPOCHS,
    }
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    env.pop('PYTHONPATH', None)  # as modern.run: Keras 3, not the TF 2.15 tree
    completed = subprocess.run(
        [
            modern.find_python(),
            '-c',
            modern.LOAD_EXPORT + _SCRIPT + modern.result_line(),
            json.dumps(config),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if completed.returncode:
      raise AssertionError(completed.stderr[-3000:])
    (line,) = [
        line
        for line in completed.stdout.splitlines()
        if line.startswith('ESTIMATOR_MIGRATE_RESULT=')
    ]
    cls.result = json.loads(line.split('=', 1)[1])
    cls.stderr = completed.stderr

  @parameterized.named_parameters(
      ('canned', 'canned_untouched'),
      ('custom', 'custom_untouched'),
      ('files_added_later', 'canned_pycache_added'),
      ('canned_unversioned', 'canned_unversioned'),
      ('custom_unversioned', 'custom_unversioned'),
  )
  def test_untouched_export_loads(self, name):
    self.assertEqual(self.result['loads'][name], ['ok', ''])

  @parameterized.named_parameters(
      ('canned_newer', 'canned_newer_version', '4'),
      ('custom_newer', 'custom_newer_version', '4'),
      ('unversioned_other_keys', 'canned_unversioned_other_keys', 'unknown'),
  )
  def test_other_schema_version_is_refused(self, name, version):
    kind, message = self.result['loads'][name]
    self.assertEqual(kind, 'ValueError', message)
    path = os.path.join(self.directories[name], spec_lib.SPEC_FILE)
    self.assertIn(f'{path} is of spec schema version {version};', message)
    self.assertIn(
        'export the model again with a matching estimator_migrate', message
    )
    self.assertNotIn('\n', message)

  @parameterized.named_parameters(
      ('spec_vocabulary_entry', 'spec_vocabulary_entry', 'spec.json'),
      ('weights_byte', 'weights_byte', 'weights.npz'),
      ('model_py_character', 'model_py_character', 'model.py'),
      ('custom_builder_reference', 'custom_builder_reference', 'spec.json'),
      ('custom_weights_byte', 'custom_weights_byte', 'weights.npz'),
      ('record_missing', 'record_missing', 'integrity.json'),
      ('record_other_format', 'record_other_format', 'integrity.json'),
      ('record_outside_path', 'record_outside_path', 'integrity.json'),
      ('report_edited', 'report_edited', 'report.md'),
      ('weights_missing', 'weights_missing', 'weights.npz'),
  )
  def test_tampered_export_is_refused(self, name, file):
    kind, message = self.result['loads'][name]
    self.assertEqual(kind, 'IntegrityError', message)
    self.assertIn(os.path.join(self.directories[name], file), message)
    self.assertIn('Export the model again', message)
    self.assertNotIn('\n', message)

  def test_edited_builder_is_not_imported(self):
    self.assertEqual(
        self.result['loads']['custom_builder_reference'][0], 'IntegrityError'
    )
    self.assertFalse(os.path.exists(self.marker))

  def test_load_prints_no_warning(self):
    self.assertNotIn('build()', self.stderr)
    self.assertNotIn('unbuilt state', self.stderr)
    self.assertNotIn('Warning', self.stderr)

  @parameterized.named_parameters(
      ('compile_false', 'user'), ('after_compile_true', 'recompiled')
  )
  def test_users_compile_trains_every_weight_as_keras(self, run):
    got = self.result[run]
    want = self.result['plain']
    self.assertCountEqual(got, self.result['loaded'])
    self.assertCountEqual(got, want)
    gap = max(float(np.max(np.abs(np.subtract(got[n], want[n])))) for n in got)
    logging.info('%s: max |user fit - plain Keras fit| %.3g', run, gap)
    for name in got:
      np.testing.assert_allclose(
          got[name], want[name], rtol=0, atol=TOLERANCE, err_msg=name
      )

  def test_users_fit_moves_every_weight(self):
    before, after = self.result['loaded'], self.result['user']
    self.assertLen(before, 9)  # DNN: embedding, 2 Dense; linear: 3, bias
    for name in before:
      # Far beyond the agreement bound, so agreement is not vacuous.
      moved = float(np.max(np.abs(np.subtract(after[name], before[name]))))
      self.assertGreater(moved, 100 * TOLERANCE, name)


class SealTest(absltest.TestCase):
  """The export reads back what it wrote before it is moved into place."""

  _SPEC = {'estimator': 'x', 'vocabulary': ['a', 'b']}
  _ARRAYS = {'w': np.arange(6, dtype=np.float32).reshape(2, 3)}

  def _write(self, then=None) -> str:
    parent = self.create_tempdir().full_path
    target = os.path.join(parent, 'keras')
    target_lib.write_directory(
        target,
        {'model.py': '', 'spec.json': spec_lib.dumps(self._SPEC)},
        self._ARRAYS,
        integrity.sealing(self._SPEC, then=then),
        checkpoint_prefix=_ELSEWHERE,
    )
    return target

  def test_record_covers_every_file_and_is_written_last(self):
    target = self._write(
        then=lambda d: open(os.path.join(d, 'added'), 'w').close()
    )
    with open(os.path.join(target, integrity.RECORD)) as f:
      record = json.load(f)
    self.assertEqual(record['format'], integrity.FORMAT)
    self.assertEqual(
        sorted(record['files']),
        ['added', 'model.py', 'spec.json', 'weights.npz'],
    )
    integrity.check_record(target)

  def test_spec_read_back_different_is_refused(self):
    def corrupt(directory):
      _flip(os.path.join(directory, 'spec.json'), b'"b"', b'"c"')

    parent = self.create_tempdir().full_path
    target = os.path.join(parent, 'keras')
    with self.assertRaisesRegex(errors.MigrationError, r'spec\.json'):
      target_lib.write_directory(
          target,
          {'model.py': '', 'spec.json': spec_lib.dumps(self._SPEC)},
          self._ARRAYS,
          lambda d, written: (
              corrupt(d),
              integrity.seal(d, self._SPEC, written),
          ),
          checkpoint_prefix=_ELSEWHERE,
      )
    self.assertEqual(os.listdir(parent), [])

  def test_weights_read_back_different_is_refused(self):
    parent = self.create_tempdir().full_path
    target = os.path.join(parent, 'keras')
    with self.assertRaisesRegex(errors.MigrationError, r'weights\.npz: '):
      target_lib.write_directory(
          target,
          {'model.py': '', 'spec.json': spec_lib.dumps(self._SPEC)},
          self._ARRAYS,
          lambda d, written: (
              _flip(
                  os.path.join(d, 'weights.npz'),
                  self._ARRAYS['w'].tobytes()[:8],
                  b'\x00' * 8,
              ),
              integrity.seal(d, self._SPEC, written),
          ),
          checkpoint_prefix=_ELSEWHERE,
      )
    self.assertEqual(os.listdir(parent), [])

  def test_file_changed_after_the_record_is_refused(self):
    parent = self.create_tempdir().full_path
    target = os.path.join(parent, 'keras')
    with self.assertRaisesRegex(
        errors.MigrationError, r'weights\.npz: has a sha256 other'
    ):
      target_lib.write_directory(
          target,
          {'model.py': '', 'spec.json': spec_lib.dumps(self._SPEC)},
          self._ARRAYS,
          integrity.sealing(
              self._SPEC,
              then=lambda d: _flip_byte(os.path.join(d, 'weights.npz')),
          ),
          checkpoint_prefix=_ELSEWHERE,
      )
    self.assertEqual(os.listdir(parent), [])


class TemplatesTest(absltest.TestCase):
  """Both generated model.py files check the record integrity.py writes."""

  _NAMES = (
      'INTEGRITY',
      'INTEGRITY_FORMAT',
      'INTEGRITY_REQUIRED',
      'SCHEMA_VERSION',
      'SPEC',
      'WEIGHTS',
      'RESTORE_BLOCK_BYTES',
  )
  _CHECK = (
      'IntegrityError',
      '_sha256',
      'verify_integrity',
      'read_spec',
      '_array_header',
      '_restore',
      '_restore_optimizer',
  )

  def _definitions(self, path: str) -> dict:
    with open(path, encoding='utf-8') as f:
      source = f.read()
    out = {}
    for node in ast.parse(source).body:
      if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        out[node.targets[0].id] = node.value
      elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        out[node.name] = node
    return out

  def test_templates_share_the_check_and_the_format(self):
    canned = self._definitions(codegen.TEMPLATE)
    other = self._definitions(custom.TEMPLATE)
    for name in self._CHECK + self._NAMES:
      self.assertEqual(ast.dump(canned[name]), ast.dump(other[name]), name)
    self.assertEqual(ast.literal_eval(canned['INTEGRITY']), integrity.RECORD)
    self.assertEqual(
        ast.literal_eval(canned['INTEGRITY_FORMAT']), integrity.FORMAT
    )
    self.assertEqual(
        ast.literal_eval(canned['INTEGRITY_REQUIRED']), integrity.REQUIRED
    )


if __name__ == '__main__':
  absltest.main()
