"""Custom TF 1.x model_fns leave for Keras 3 with no hand-written twin.

Every case of `model_fn_cases` (the premade-estimator tutorial's MLP, the
guide's CNN, BatchNorm + dropout, get_variable tables, two heads, a custom
wide & deep with two optimizers, Keras layers inside a model_fn, conv1d, the
demo's own model_fn) is trained on TF 2.15, exported by
`model_fn_to_keras`, and checked in the modern environment (TensorFlow 2.21,
Keras 3), one subprocess for all:

- every PREDICT key within 1e-5 of `estimator.predict` on held-out rows
  (unseen strings, `''` and -1 ids), every `saved_model/` too;
- `load(compile=True)` then `fit` on the batches the estimator continues
  training on ends with every weight within the canned exit's tolerance
  (cases with dropout run with rate 0 there: each side draws its own masks).

`REFUSALS` are refused before anything is written, naming the op and its
scope; the binary says so in one line and exits 2.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.export import model_fn_export
from estimator_migrate.export import parity
from estimator_migrate.export import serving
from tests import fault_harness
from tests import model_fn_cases

# max |estimator - Keras 3| of a prediction (float32 rounding of the same
# ops in another order).
PREDICTION_TOLERANCE = 1e-5
# max |estimator - Keras 3| of a weight after the continued training, as the
# canned exit's export_continue_test (per optimizer).
WEIGHT_TOLERANCE = {
    'Adam': 1e-5,
    'Adagrad': 1e-6,
    'Ftrl': 1e-6,
    'SGD': 1e-6,
    'RMSprop': 1e-6,
}
_STEPS = 12  # before the export
_MORE = 4  # after it, on both sides
_CASES = {case.name: case for case in model_fn_cases.CASES}
# The Keras 3 optimizer each v1 optimizer continues as.
_KERAS3_CLASS = {
    'AdagradOptimizer': 'Adagrad',
    'AdamOptimizer': 'Adam',
    'FtrlOptimizer': 'Ftrl',
    'GradientDescentOptimizer': 'SGD',
    'MomentumOptimizer': 'SGD',
    'RMSPropOptimizer': 'RMSprop',
}
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _labels_by_output(spec, labels) -> dict:
  """The Keras 3 labels: each loss output gets its label."""
  return {
      loss.output: np.asarray(
          labels if loss.label is None else labels[loss.label]
      )
      for loss in spec.losses
  }


def _saveable(features) -> dict:
  """Features as np.savez stores them without pickling (strings as str)."""
  return {
      k: v.astype(bytes).astype(str) if v.dtype == object else v
      for k, v in features.items()
  }


def _stack(batches):
  features = {
      k: np.concatenate([f[k] for f, _ in batches]) for k in batches[0][0]
  }
  first = batches[0][1]
  if isinstance(first, dict):
    labels = {k: np.concatenate([y[k] for _, y in batches]) for k in first}
  else:
    labels = np.concatenate([y for _, y in batches])
  return features, labels


class ModelFnExportTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.expected, cls.exports, cls.results = {}, {}, {}
    cls.continued, cls.fits, cls.figures = {}, {}, {}
    predict_jobs, fit_jobs = [], []
    for name, case in _CASES.items():
      # Predictions, on the case as it is (dropout and all).
      model_dir = os.path.join(cls.root, name)
      model_fn_cases.train(case, model_dir, _STEPS)
      cls.expected[name] = model_fn_cases.predict(case, model_dir)
      labels = model_fn_cases.batches(case, 1)[0][1]
      result = model_fn_export.model_fn_to_keras(
          case.model_fn,
          model_dir,
          features=model_fn_cases.one_batch(case),
          params=case.params,
          labels=labels,
      )
      target = os.path.join(cls.root, f'{name}_keras')
      result.save(target)
      cls.results[name] = result
      cls.exports[name] = target
      predict_jobs.append((target, _saveable(case.held_out)))
      # Continued training, without dropout.
      quiet = model_fn_cases.without_dropout(case)
      model_dir = os.path.join(cls.root, f'{name}_continued')
      model_fn_cases.train(quiet, model_dir, _STEPS)
      result = model_fn_export.model_fn_to_keras(
          quiet.model_fn,
          model_dir,
          features=model_fn_cases.one_batch(quiet),
          params=quiet.params,
          labels=labels,
      )
      target = os.path.join(cls.root, f'{name}_continued_keras')
      result.save(target)
      features, batch_labels = _stack(model_fn_cases.batches(quiet, _MORE))
      model_fn_cases.train(quiet, model_dir, _MORE)
      cls.continued[name] = (model_dir, result)
      fit_jobs.append(
          (
              target,
              _saveable(features),
              _labels_by_output(result.spec, batch_labels),
              quiet.batch_size,
          )
      )
    # Every export's saved_model/, in one modern-environment process.
    serving.write_saved_models(list(cls.exports.values()))
    # The estimator's input_fn may yield scalars: [batch] features, which
    # select_features takes as feature columns do.
    mlp = _CASES['premade_mlp']
    predict_jobs.append(
        (
            cls.exports['premade_mlp'],
            {k: v[:, 0] for k, v in mlp.held_out.items()},
        )
    )
    *predicted, cls.rank_one = parity.modern_predict(predict_jobs)
    cls.predicted = dict(zip(_CASES, predicted, strict=True))
    cls.fits = dict(zip(_CASES, parity.modern_continue(fit_jobs), strict=True))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    # The figures docs/export.md quotes (run with -s to see them).
    print(
        '\n| case | max prediction diff | max weight diff after fit |',
        file=sys.stderr,
    )
    for name in _CASES:
      prediction, weight = cls.figures.get(name, (None, None))
      print(f'| {name} | {prediction} | {weight} |', file=sys.stderr)
    super().tearDownClass()

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_predictions_match_the_estimator(self, name):
    expected, got = self.expected[name], self.predicted[name]
    self.figures[name] = (
        max(
            float(np.max(np.abs(got[p + k] - want.astype(got[p + k].dtype))))
            for k, want in expected.items()
            for p in ('', 'saved_model/')
        ),
        self.figures.get(name, (None, None))[1],
    )
    self.assertCountEqual(
        [k for k in got if not k.startswith('saved_model/')],
        [*expected, *self.results[name].spec.model.outputs[len(expected) :]],
    )
    for key, want in expected.items():
      with self.subTest(key=key):
        self.assertEqual(got[key].shape, want.shape)
        self.assertEqual(got[key].dtype, want.dtype)
        np.testing.assert_allclose(
            got[key], want, rtol=0, atol=PREDICTION_TOLERANCE
        )
        np.testing.assert_allclose(
            got[f'saved_model/{key}'],
            want,
            rtol=0,
            atol=PREDICTION_TOLERANCE,
        )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_continued_training_matches_the_estimator(self, name):
    model_dir, result = self.continued[name]
    training = result.spec.training
    self.assertIsNone(training.compile_unavailable)
    self.assertCountEqual(
        [o.keras_class for o in training.optimizers],
        [_KERAS3_CLASS[o] for o in _CASES[name].optimizers],
    )
    reader = tf.train.load_checkpoint(model_dir)
    weights = self.fits[name]
    tolerance = max(
        WEIGHT_TOLERANCE[o.keras_class] for o in training.optimizers
    )
    moved = 0
    for variable, got in weights.items():
      with self.subTest(variable=variable):
        want = reader.get_tensor(variable)
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)
        before = result.arrays[variable]
        moved += not np.array_equal(np.asarray(before), want)
    self.assertGreater(moved, 0)  # the M steps trained something
    self.figures[name] = (
        self.figures.get(name, (None, None))[0],
        max(
            float(np.max(np.abs(got - reader.get_tensor(v))))
            for v, got in weights.items()
        ),
    )

  def test_features_of_rank_one_predict_alike(self):
    for key, want in self.expected['premade_mlp'].items():
      np.testing.assert_array_equal(self.rank_one[key], want, key)

  def test_report_names_every_layer_and_line(self):
    report = self.results['premade_mlp'].report()
    self.assertIn('tf.compat.v1.layers.Dense', report)
    self.assertIn('model_fn_cases.py:', report)
    self.assertIn('feature_column.input_layer', report)

  def test_model_py_is_readable_keras_3(self):
    with open(os.path.join(self.exports['guide_cnn'], 'model.py')) as f:
      code = f.read()
    self.assertIn('keras.layers.Conv2D(', code)
    self.assertIn('keras.layers.MaxPooling2D(', code)
    self.assertIn('keras.layers.Dropout(rate=0.4', code)
    self.assertIn("name='conv1'", code)  # named after its variable scope


class RefusalTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (refusal.name, refusal) for refusal in model_fn_cases.REFUSALS
  )
  def test_refused_naming_the_op_and_scope(self, refusal):
    with self.assertRaises(model_fn_export.ModelFnError) as raised:
      model_fn_export.model_fn_to_keras(
          refusal.model_fn,
          '/nonexistent/model_dir',  # refused before the checkpoint is read
          features=refusal.features,
          params=refusal.params,
      )
    message = str(raised.exception)
    for word in refusal.op_words:
      self.assertIn(word, message)
    self.assertIn('model_fn_cases.py:', message)  # the user's line

  def test_binary_refuses_in_one_line_and_writes_nothing(self):
    root = self.create_tempdir().full_path
    case = _CASES['premade_mlp']
    model_dir = os.path.join(root, 'model')
    model_fn_cases.train(case, model_dir, 2)
    before = fault_harness.digests(model_dir)
    with open(os.path.join(root, 'config.py'), 'w') as f:
      f.write(
          'from tests import model_fn_cases\n'
          'def batch():\n'
          "  refusal = {r.name: r for r in model_fn_cases.REFUSALS}['svd']\n"
          "  return {'features': refusal.features, 'params': {}}\n"
      )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([_ROOT, *sys.path]),
        TF_CPP_MIN_LOG_LEVEL='3',
    )
    run = subprocess.run(
        [
            sys.executable,
            '-m',
            'estimator_migrate.cli.export',
            '--model_fn=tests.model_fn_cases:svd_model_fn',
            f'--model_dir={model_dir}',
            '--config=config.py:batch',
            '--target=out',
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    self.assertEqual(run.returncode, 2, run.stderr)
    errors = [
        line
        for line in run.stderr.splitlines()
        if re.match(r'\S+: error: ', line) or 'Traceback' in line
    ]
    self.assertLen(errors, 1, run.stderr)
    self.assertIn("Svd 'spectrum/Svd'", errors[0])
    self.assertIn('--model_fn', errors[0])
    self.assertFalse(os.path.exists(os.path.join(root, 'out')))
    self.assertCountEqual(
        set(os.listdir(root)) - {'__pycache__'}, {'model', 'config.py'}
    )
    self.assertEqual(fault_harness.digests(model_dir), before)


if __name__ == '__main__':
  absltest.main()
