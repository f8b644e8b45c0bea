"""Custom estimators out: `keras_model_to_keras` proven on Keras 3.

Each case trains a small custom estimator (a Keras Dense model inside
`make_model_fn` or `to_estimator`) a few steps on the TF 2.15 stack, exports
it with `export.keras_model_to_keras`, then trains the estimator M more
steps while the export, `load(compile=True)` in the modern environment
(TensorFlow 2.21, Keras 3), `fit`s the same M batches (`shuffle=False`).
Predictions before and every weight after must agree. One modern subprocess
serves every case (one more writes the saved_model/).
"""

import json
import os
import shutil
import tempfile

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import export
from estimator_migrate.export import custom_parity
from estimator_migrate.export import integrity
from estimator_migrate.export import modern
from estimator_migrate.export import spec as spec_lib
from estimator_migrate.tf2 import keras_estimator
from estimator_migrate.tf2 import model_fn
from tests import export_custom_builders
from tests import export_testing
from tests import testing

# estimator.predict vs Keras 3 (and saved_model/), float32: measured max
# 1.8e-7 (docs/export.md).
PARITY_TOLERANCE = 1e-5
# Max |estimator - Keras 3| after M steps: measured 0 for both optimizers
# (Keras 3's Adam and SGD momentum apply Keras 2's update to dense
# gradients), at most 1.5e-8 with BatchNormalization and 6.0e-8 on its
# moving statistics; the bound leaves room for other CPUs' float rounding.
TOLERANCE = {'Adam': 1e-6, 'SGD': 1e-6}
_BATCH = 8
_STEPS = 3  # before the export
_MORE = 4  # M: after it, on both sides
_N = _BATCH * (_STEPS + _MORE)
_PARAMS = {'units': 5, 'classes': 3}
_BUILDER = 'tests.export_custom_builders:dense'
_MODULE = 'tests.export_custom_builders'
_BINARY = 'estimator_migrate/cli/export.py'
_CONFIG = """
def export_kwargs():
  return dict(
      params={'units': 5, 'classes': 3},
      loss='sparse_categorical_crossentropy',
      optimizer='Adam',
  )
"""


# In the modern environment: load() of a directory whose builder differs.
_LOAD_FAILS = """
directory = sys.argv[1]
module = load_export(directory, 0)
try:
  module.load(directory)
  result = None
except ValueError as e:
  result = str(e)
"""


def _loss():
  return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _sgd():
  return tf.keras.optimizers.legacy.SGD(0.05, momentum=0.9)


def _adam():
  return tf.keras.optimizers.legacy.Adam(0.01)


# name: (how the estimator is built, optimizer factory, Keras class, builder)
_CASES = {
    'model_fn_adam': ('model_fn', _adam, 'Adam', 'dense'),
    'model_fn_sgd_momentum': ('model_fn', _sgd, 'SGD', 'dense'),
    'to_estimator_adam': ('to_estimator', _adam, 'Adam', 'dense'),
    'to_estimator_sgd_momentum': ('to_estimator', _sgd, 'SGD', 'dense'),
    'model_fn_batch_norm_adam': ('model_fn', _adam, 'Adam', 'batch_norm'),
    'to_estimator_batch_norm_sgd': ('to_estimator', _sgd, 'SGD', 'batch_norm'),
    # Trained with `unbuilt` (no Input: built by its first call, the
    # migration guide's model_fn's Sequential, so its weights are
    # `sequential/dense/...`), exported with `dense`, the same model built.
    'model_fn_unbuilt_adam': ('model_fn', _adam, 'Adam', 'dense'),
}
# Cases trained with another builder than the one exported with.
_TRAINED_WITH = {'model_fn_unbuilt_adam': 'unbuilt_dense'}
_SAVED_MODEL_CASE = 'model_fn_adam'


def _estimator(
    how: str, optimizer, builder: str, model_dir: str
) -> tf.estimator.Estimator:
  build = getattr(export_custom_builders, builder)
  if how == 'model_fn':
    return tf.estimator.Estimator(
        model_fn.make_model_fn(build, loss=_loss(), optimizer=optimizer),
        model_dir=model_dir,
        params=_PARAMS,
    )
  model = build(_PARAMS)
  model.compile(optimizer=optimizer(), loss=_loss())
  return keras_estimator.to_estimator(model, model_dir=model_dir)


def _predict(estimator, x: np.ndarray) -> np.ndarray:
  """The estimator's prediction of the model's raw output (the logits)."""

  def input_fn():
    return tf.data.Dataset.from_tensor_slices({'x': x}).batch(64)

  rows = list(estimator.predict(input_fn, yield_single_examples=False))
  # make_model_fn names a 3-wide output `probabilities` (here: the logits);
  # to_estimator names it by the output layer.
  (key,) = [k for k in rows[0] if k != 'class_ids']
  return np.concatenate([r[key] for r in rows])


class ExportCustomTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(3)
    cls.x = rng.normal(size=(_N, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=(_N, 1))
    split = _BATCH * _STEPS

    def input_fn(start, stop):
      return lambda: (
          tf.data.Dataset.from_tensor_slices(({'x': cls.x}, y))
          .skip(start)
          .take(stop - start)
          .batch(_BATCH)
      )

    cls.results, cls.model_dirs, cls.predicted, cls.trained = {}, {}, {}, {}
    jobs = []
    for name, (how, optimizer, _, builder) in _CASES.items():
      model_dir = os.path.join(cls.root, name)
      estimator = _estimator(
          how, optimizer, _TRAINED_WITH.get(name, builder), model_dir
      )
      estimator.train(input_fn(0, split), steps=_STEPS)
      result = export.keras_model_to_keras(
          model_dir,
          f'{_MODULE}:{builder}',
          params=_PARAMS,
          loss=_loss(),
          optimizer=optimizer,
      )
      target = result.save(
          os.path.join(cls.root, name + '_keras'),
          saved_model=name == _SAVED_MODEL_CASE,
      )
      cls.predicted[name] = _predict(estimator, cls.x)
      estimator.train(input_fn(split, _N), steps=_MORE)
      cls.trained[name] = export_testing.checkpoint_weights(result, model_dir)
      cls.results[name] = result
      cls.model_dirs[name] = model_dir
      jobs.append((target, {'x': cls.x}, None, _BATCH))
      jobs.append((target, {'x': cls.x[split:]}, y[split:], _BATCH))
    outputs = custom_parity.modern_run(jobs)
    cls.keras_predicted = dict(zip(_CASES, outputs[0::2], strict=True))
    cls.keras_trained = dict(zip(_CASES, outputs[1::2], strict=True))

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_predictions_equal(self, name):
    got = self.keras_predicted[name]['output_0']
    gap = float(np.max(np.abs(got - self.predicted[name])))
    logging.info('custom parity %s: max |estimator - Keras 3| %.3g', name, gap)
    np.testing.assert_allclose(
        got, self.predicted[name], rtol=0, atol=PARITY_TOLERANCE
    )

  def test_saved_model_serves_the_same(self):
    got = self.keras_predicted[_SAVED_MODEL_CASE]['saved_model/output_0']
    gap = float(np.max(np.abs(got - self.predicted[_SAVED_MODEL_CASE])))
    logging.info('custom parity saved_model: %.3g', gap)
    np.testing.assert_allclose(
        got, self.predicted[_SAVED_MODEL_CASE], rtol=0, atol=PARITY_TOLERANCE
    )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_weights_agree_after_training_on(self, name):
    klass = _CASES[name][2]
    (entry,) = self.results[name].spec.training.optimizers
    self.assertEqual(entry.keras_class, klass)
    self.assertEqual(entry.iterations, _STEPS)
    moving = self.results[name].spec.model.non_trainable
    gaps = {
        n: float(np.max(np.abs(self.keras_trained[name][n] - w)))
        for n, w in self.trained[name].items()
    }
    logging.info(
        'custom continue %s: max |estimator - Keras 3| %.3g trainable,'
        ' %.3g moving statistics',
        name,
        max(g for n, g in gaps.items() if n not in moving),
        max([g for n, g in gaps.items() if n in moving], default=0.0),
    )
    for variable, want in self.trained[name].items():
      np.testing.assert_allclose(
          self.keras_trained[name][variable],
          want,
          rtol=0,
          atol=TOLERANCE[klass],
          err_msg=variable,
      )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_training_moved_the_weights(self, name):
    moved = max(
        np.max(np.abs(w - self.results[name].arrays[n]))
        for n, w in self.trained[name].items()
    )
    self.assertGreater(moved, 1e-3)

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_spec_json_reads_back_as_the_spec(self, name):
    path = os.path.join(self.root, name + '_keras', spec_lib.SPEC_FILE)
    with open(path) as f:
      spec = spec_lib.from_json(f.read())
    self.assertIsInstance(spec, spec_lib.CustomSpec)
    self.assertEqual(spec, self.results[name].spec)

  @parameterized.named_parameters(
      ('model_fn', 'model_fn_adam', 'dense/kernel'),
      ('to_estimator', 'to_estimator_sgd_momentum', 'layer_with_weights-0'),
  )
  def test_model_that_does_not_match_is_refused(self, case, weight):
    with self.assertRaisesRegex(errors.CheckpointError, 'position 0') as raised:
      export.keras_model_to_keras(
          self.model_dirs[case],
          'tests.export_custom_builders:wider',
          params=_PARAMS,
      )
    message = str(raised.exception)
    self.assertIn(weight, message)
    self.assertIn('[3, 7] in the model, [3, 5] in the checkpoint', message)
    self.assertIn('build_model does not build the model', message)

  def test_load_refuses_a_keras3_model_that_does_not_match(self):
    target = os.path.join(self.root, 'mismatch_keras')
    shutil.copytree(os.path.join(self.root, 'model_fn_adam_keras'), target)
    with open(os.path.join(target, 'spec.json')) as f:
      spec = json.load(f)
    spec['builder'] = f'{_MODULE}:wider'
    with open(os.path.join(target, 'spec.json'), 'w') as f:
      json.dump(spec, f)
    # As if the builder had changed since the export: the record still fits.
    integrity.write_record(target)
    message = modern.run(
        modern.LOAD_EXPORT + _LOAD_FAILS + modern.result_line(), target
    )
    self.assertIn('trainable weight 0', message)
    self.assertIn(
        "is [3, 7] on Keras 3, the checkpoint's dense/kernel", message
    )

  @parameterized.named_parameters(
      ('lambda', lambda params: None, 'cannot be imported by reference'),
      ('no_function', 'tests.export_custom_builders:nope', 'no function'),
      ('no_module', 'no_such_module_xyz:build', 'cannot import'),
      # The migration guide's Sequential([Dense(1)]): built only by a call.
      (
          'unbuilt',
          'tests.export_custom_builders:unbuilt',
          'a model without weights: build it',
      ),
  )
  def test_unusable_builder_is_refused(self, builder, expected):
    with self.assertRaisesRegex(errors.ModelError, expected):
      export.keras_model_to_keras(
          self.model_dirs['model_fn_adam'], builder, params=_PARAMS
      )

  def test_model_built_by_its_first_call_is_matched_under_its_name(self):
    result = self.results['model_fn_unbuilt_adam']
    self.assertEqual(
        result.checkpoint_keys,
        {
            'dense/kernel': 'sequential/dense/kernel',
            'dense/bias': 'sequential/dense/bias',
            'dense_1/kernel': 'sequential/dense_1/kernel',
            'dense_1/bias': 'sequential/dense_1/bias',
        },
    )
    self.assertIn(
        '| trainable | 0 | `dense/kernel` | sequential/dense/kernel | 3x5 |',
        result.report(),
    )
    (optimizer,) = result.spec.training.optimizers
    self.assertEqual(optimizer.keras_class, 'Adam')

  @parameterized.named_parameters(('adam', 'adam'), ('Adam', 'Adam'))
  def test_optimizer_named_as_compile_takes_it(self, name):
    # An object-based checkpoint (to_estimator's) is read by the class.
    result = export.keras_model_to_keras(
        self.model_dirs['to_estimator_adam'],
        _BUILDER,
        params=_PARAMS,
        loss=_loss(),
        optimizer=name,
    )
    self.assertIsNone(result.spec.training.compile_unavailable)
    (optimizer,) = result.spec.training.optimizers
    self.assertEqual(optimizer.keras_class, 'Adam')

  def test_binary_exports_custom_estimator(self):
    config = os.path.join(self.root, 'config.py')
    with open(config, 'w') as f:
      f.write(_CONFIG)
    target = os.path.join(self.create_tempdir().full_path, 'keras')
    result = testing.run_binary(
        _BINARY,
        f'--build_model={_BUILDER}',
        f'--model_dir={self.model_dirs["model_fn_adam"]}',
        f'--config={config}:export_kwargs',
        f'--target={target}',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertCountEqual(
        os.listdir(target),
        [
            'model.py',
            'spec.json',
            'weights.npz',
            'report.md',
            'integrity.json',
        ],
    )
    self.assertIn(
        '| trainable | 0 | `dense/kernel` | dense/kernel | 3x5 |', result.stdout
    )

  @parameterized.named_parameters(
      ('other_model', 'tests.export_custom_builders:wider', '--build_model'),
      ('both', None, '--estimator'),
  )
  def test_binary_bad_input_exits_2(self, builder, expected):
    flags = [
        f'--model_dir={self.model_dirs["model_fn_adam"]}',
        f'--target={os.path.join(self.create_tempdir().full_path, "k")}',
    ]
    if builder:
      flags.append(f'--build_model={builder}')
    else:
      flags += [f'--build_model={_BUILDER}', '--estimator=DNNClassifier']
    result = testing.run_binary(_BINARY, *flags)
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn(expected, result.stderr)
    self.assertNotIn('Traceback', result.stderr)


if __name__ == '__main__':
  absltest.main()
