"""A Keras-built custom export serves its estimator's own signatures.

Each estimator (`make_model_fn` or `to_estimator` around a Keras model from
tests/export_custom_builders.py) trains a few steps on TF 2.15 and exports
its own SavedModel with a receiver; `keras_model_to_keras(...,
serving_input_receiver_fn=...)` writes `saved_model/` from the same receiver
and the estimator's PREDICT `export_outputs`: make_model_fn's default
(probabilities and class ids of a classifier, predictions of a regressor) or
declared ones (`predictions=` and `export_outputs=` functions), to_estimator's
default (every output by name) or declared (`export_outputs=` classes). On
TF 2.21 (`serving_parity`, one subprocess) both SavedModels are called on the
same serialized tf.Examples (a missing feature: its parse default) or raw
tensors: signature defs, `saved_model_cli` listings and TensorFlow Serving's
Classify / Regress / Predict answers identical, floats within 1e-6.
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
from estimator_migrate.export import model_fn_trace
from estimator_migrate.export import serving
from estimator_migrate.export import serving_parity
from estimator_migrate.export import signatures
from estimator_migrate.tf2 import keras_estimator
from estimator_migrate.tf2 import model_fn as model_fn_lib
from tests import export_custom_builders
from tests import export_testing
from tests import fault_harness
from tests import testing

TOLERANCE = 1e-6
_N = 12
_STEPS = 3
_PARAMS = {'units': 5, 'classes': 3}
_MODULE = 'tests.export_custom_builders'
_BINARY = 'estimator_migrate/cli/export.py'


def _loss():
  return tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def declared_predictions(outputs):
  """A classifier's predictions from its logits, as users write them."""
  (logits,) = outputs.values()
  probabilities = tf.nn.softmax(logits)
  return {
      'probabilities': probabilities,
      'class_ids': tf.argmax(logits, axis=1),
      'top': probabilities[:, 1:2],
  }


def declared_export_outputs(predictions):
  return {
      'serving_default': tf.estimator.export.ClassificationOutput(
          scores=predictions['probabilities']
      ),
      'regression': tf.estimator.export.RegressionOutput(predictions['top']),
      'predict': tf.estimator.export.PredictOutput(predictions),
  }


# Module level, as users keep the model_fn their estimator was built with.
default_model_fn = model_fn_lib.make_model_fn(
    export_custom_builders.dense, loss=_loss(), optimizer='Adam'
)
declared_model_fn = model_fn_lib.make_model_fn(
    export_custom_builders.dense,
    loss=_loss(),
    optimizer='Adam',
    predictions=declared_predictions,
    export_outputs=declared_export_outputs,
)
ordered_model_fn = model_fn_lib.make_model_fn(
    export_custom_builders.ordered_heads, loss='mse', optimizer='Adam'
)
regressor_model_fn = model_fn_lib.make_model_fn(
    export_custom_builders.regressor, loss='mse', optimizer='SGD'
)


def _two_heads_loss():
  return [_loss(), tf.keras.losses.BinaryCrossentropy()]


def x_raw_receiver_fn():
  x = tf.compat.v1.placeholder(tf.float32, [None, 3], name='x')
  return tf.estimator.export.ServingInputReceiver({'x': x}, {'x': x})


def x_parsing_receiver_fn():
  spec = {'x': tf.io.FixedLenFeature([3], tf.float32, [0.5, -1.0, 2.0])}
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()


def ab_raw_receiver_fn():
  a = tf.compat.v1.placeholder(tf.float32, [None, 2], name='a')
  b = tf.compat.v1.placeholder(tf.float32, [None, 1], name='b')
  return tf.estimator.export.ServingInputReceiver(
      {'a': a, 'b': b}, {'a': a, 'b': b}
  )


def ab_parsing_receiver_fn():
  spec = {
      'a': tf.io.FixedLenFeature([2], tf.float32),
      'b': tf.io.FixedLenFeature([1], tf.float32, [0.25]),
  }
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()


def var_len_receiver_fn():
  spec = {'x': tf.io.VarLenFeature(tf.float32)}
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()


def top_k_model_fn(features, labels, mode, params):
  """A model_fn serving an op the exporter does not map (TopKV2)."""
  del labels
  model = export_custom_builders.dense(params)
  logits = model(features['x'])
  top = tf.math.top_k(logits, k=2).values
  return tf.estimator.EstimatorSpec(
      mode,
      predictions={'top': top},
      export_outputs={
          'serving_default': tf.estimator.export.PredictOutput({'top': top})
      },
  )


def no_keras_model_fn(features, labels, mode, params):
  """A TF 1.x model_fn without a Keras model."""
  del labels, params
  logits = tf.compat.v1.layers.dense(features['x'], 3, name='logits')
  return tf.estimator.EstimatorSpec(mode, predictions={'logits': logits})


# name: (how, builder, receiver, estimator's model_fn or to_estimator's
# export_outputs, inputs kind)
_CASES = {
    'model_fn_default_raw': (
        'model_fn',
        'dense',
        x_raw_receiver_fn,
        default_model_fn,
        'x',
    ),
    'model_fn_default_parsing': (
        'model_fn',
        'dense',
        x_parsing_receiver_fn,
        default_model_fn,
        'x',
    ),
    'model_fn_declared_parsing': (
        'model_fn',
        'dense',
        x_parsing_receiver_fn,
        declared_model_fn,
        'x',
    ),
    'model_fn_declared_raw': (
        'model_fn',
        'dense',
        x_raw_receiver_fn,
        declared_model_fn,
        'x',
    ),
    # Two outputs in an OrderedDict out of key order: served by name.
    'model_fn_ordered_outputs_raw': (
        'model_fn',
        'ordered_heads',
        x_raw_receiver_fn,
        ordered_model_fn,
        'x',
    ),
    'model_fn_regressor_parsing': (
        'model_fn',
        'regressor',
        x_parsing_receiver_fn,
        regressor_model_fn,
        'x',
    ),
    # tensorflow_estimator's keras_lib_test exports a Sequential model of
    # both checkpoint formats through a parsing receiver.
    'to_estimator_sequential_parsing': (
        'to_estimator',
        'dense',
        x_parsing_receiver_fn,
        None,
        'x',
    ),
    'to_estimator_sequential_saver_parsing': (
        'to_estimator',
        'dense',
        x_parsing_receiver_fn,
        None,
        'x',
    ),
    'to_estimator_default_raw': (
        'to_estimator',
        'two_heads',
        ab_raw_receiver_fn,
        None,
        'ab',
    ),
    'to_estimator_declared_parsing': (
        'to_estimator',
        'two_heads',
        ab_parsing_receiver_fn,
        {
            'logits': tf.estimator.export.ClassificationOutput,
            'score': tf.estimator.export.RegressionOutput,
        },
        'ab',
    ),
    'to_estimator_declared_raw': (
        'to_estimator',
        'two_heads',
        ab_raw_receiver_fn,
        {'score': tf.estimator.export.PredictOutput},
        'ab',
    ),
}


def _estimator(name, how, builder, given, model_dir):
  """`given`: make_model_fn's model_fn, or to_estimator's export_outputs."""
  if how == 'model_fn':
    return tf.estimator.Estimator(given, model_dir=model_dir, params=_PARAMS)
  # The layer names of a fresh process: to_estimator serves the outputs by
  # name, and `dense` does not name its layers (docs/serving.md).
  tf.keras.backend.clear_session()
  model = getattr(export_custom_builders, builder)(_PARAMS)
  model.compile(
      optimizer=tf.keras.optimizers.legacy.Adam(0.01),
      loss=_two_heads_loss() if builder == 'two_heads' else _loss(),
  )
  return keras_estimator.to_estimator(
      model,
      model_dir=model_dir,
      export_outputs=given,
      checkpoint_format='saver' if 'saver' in name else 'checkpoint',
  )


def _rows(rng, kind, rows):
  if kind == 'x':
    return {'x': rng.normal(size=(rows, 3)).astype(np.float32)}
  return {
      'a': rng.normal(size=(rows, 2)).astype(np.float32),
      'b': rng.normal(size=(rows, 1)).astype(np.float32),
  }


def _labels(rng, builder, rows):
  if builder == 'regressor':
    return rng.normal(size=(rows, 1)).astype(np.float32)
  if builder == 'ordered_heads':
    return {
        'alpha': rng.normal(size=(rows, 2)).astype(np.float32),
        'zeta': rng.normal(size=(rows, 3)).astype(np.float32),
    }
  classes = rng.integers(0, 3, size=(rows, 1))
  if builder == 'two_heads':  # by output name
    return {
        'logits': classes,
        'score': rng.integers(0, 2, size=(rows, 1)).astype(np.float32),
    }
  return classes


def _train(estimator, features, labels):
  estimator.train(
      lambda: tf.data.Dataset.from_tensor_slices((features, labels)).batch(8),
      steps=_STEPS,
  )


class ExportCustomServingTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(5)
    cls.results, jobs = {}, []
    for name, (how, builder, receiver_fn, given, kind) in _CASES.items():
      model_dir = os.path.join(cls.root, name)
      estimator = _estimator(name, how, builder, given, model_dir)
      _train(estimator, _rows(rng, kind, 24), _labels(rng, builder, 24))
      own = estimator.export_saved_model(
          os.path.join(cls.root, name + '_estimator'), receiver_fn
      )
      kwargs = {'model_fn': given} if how == 'model_fn' else {}
      if how == 'to_estimator' and given is not None:
        kwargs = {'export_outputs': given}
      result = export.keras_model_to_keras(
          model_dir,
          f'{_MODULE}:{builder}',
          params=_PARAMS,
          serving_input_receiver_fn=receiver_fn,
          **kwargs,
      )
      target = result.save(os.path.join(cls.root, name + '_keras'))
      cls.results[name] = result
      rows = _rows(rng, kind, _N)
      if receiver_fn in (x_parsing_receiver_fn, ab_parsing_receiver_fn):
        examples = []
        for i in range(_N):
          values = {k: v[i] for k, v in rows.items()}
          if i % 4 == 0:  # a missing feature: its parse default, or none
            values.pop('x' if kind == 'x' else 'b')
          examples.append(export_testing.example(values))
        inputs = {'examples': np.array(examples, dtype=bytes)}
      else:
        inputs = rows
      jobs.append(
          (
              own.decode() if isinstance(own, bytes) else own,
              os.path.join(target, serving.DIRECTORY),
              inputs,
          )
      )
    serving.write_saved_models([os.path.dirname(j[1]) for j in jobs])
    compared = serving_parity.compare_saved_models(jobs)
    cls.proof = dict(zip(_CASES, compared, strict=True))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @parameterized.named_parameters((n, n) for n in _CASES)
  def test_signatures_and_listing_identical(self, name):
    proof = self.proof[name]
    ours = {
        k: v
        for k, v in proof.signatures['ours'].items()
        if k not in (signatures.RAW, '__saved_model_init_op')
    }
    self.assertEqual(ours, proof.signatures['estimator'])
    self.assertEqual(proof.listings['ours'], proof.listings['estimator'])

  @parameterized.named_parameters((n, n) for n in _CASES)
  def test_outputs_and_client_answers_identical(self, name):
    served = dict(self.proof[name].outputs)
    worst = export_testing.served_alike(self, served, TOLERANCE, _N)
    # Every signature answered, directly and through a Serving client.
    answered = {k.split('/')[1] for k in served if k.startswith('estimator/')}
    self.assertEqual(answered, set(self.results[name].spec.serving.signatures))
    self.assertTrue(any(k.startswith('client/estimator/') for k in served))
    logging.info('serving %s: max |estimator - export| %.3g', name, worst)
    errors_seen = self.proof[name].errors
    self.assertEqual(errors_seen['ours'], errors_seen['estimator'])

  @parameterized.named_parameters(
      (
          'model_fn_declared_parsing',
          'model_fn_declared_parsing',
          ['predict', 'regression', 'serving_default'],
      ),
      ('model_fn_declared_raw', 'model_fn_declared_raw', ['predict']),
      (
          'to_estimator_declared_parsing',
          'to_estimator_declared_parsing',
          ['logits', 'score', 'serving_default'],
      ),
      (
          'to_estimator_declared_raw',
          'to_estimator_declared_raw',
          ['score', 'serving_default'],
      ),
  )
  def test_declared_signatures_kept_where_the_receiver_allows(self, name, keys):
    self.assertEqual(list(self.results[name].spec.serving.signatures), keys)

  def test_both_checkpoint_formats(self):
    formats = {
        name: self.results[name].spec.model.checkpoint_format
        for name in (
            'to_estimator_sequential_parsing',
            'to_estimator_sequential_saver_parsing',
        )
    }
    self.assertEqual(
        formats,
        {
            'to_estimator_sequential_parsing': 'object-based',
            'to_estimator_sequential_saver_parsing': 'named',
        },
    )

  def test_spec_and_report_name_what_is_served(self):
    result = self.results['model_fn_declared_parsing']
    data = json.loads(result.spec.to_json())
    self.assertEqual(
        data['serving']['signatures']['regression']['outputs'],
        {'outputs': 'top'},
    )
    self.assertIn('def serving_model(model):', result.code)
    self.assertIn('keras.ops.softmax', result.code)
    report = result.report()
    self.assertIn(
        "## Serving (saved_model/): the estimator's signatures", report
    )
    self.assertIn('regression | regress | outputs <- top', report)

  def test_without_a_receiver_nothing_is_served(self):
    model_dir = os.path.join(self.root, 'model_fn_default_raw')
    result = export.keras_model_to_keras(
        model_dir, f'{_MODULE}:dense', params=_PARAMS
    )
    self.assertIsNone(result.spec.serving)
    self.assertEqual(result.code, '')
    self.assertNotIn('serving', json.loads(result.spec.to_json()))

  @parameterized.named_parameters(
      (
          'unmapped_op',
          dict(model_fn=top_k_model_fn),
          model_fn_trace.ModelFnError,
          r"TopKV2 'TopKV2'.*export_custom_serving_test\.py:\d+",
      ),
      (
          'no_keras_model',
          dict(model_fn=no_keras_model_fn),
          model_fn_trace.ModelFnError,
          'serves no output of a Keras model',
      ),
      (
          'var_len_receiver',
          dict(
              model_fn=default_model_fn,
              serving_input_receiver_fn=var_len_receiver_fn,
          ),
          signatures.ServingError,
          "parses feature 'x' as a VarLenFeature",
      ),
      (
          'model_fn_and_export_outputs',
          dict(
              model_fn=default_model_fn,
              export_outputs={'dense_1': tf.estimator.export.PredictOutput},
          ),
          signatures.ServingError,
          "export_outputs is to_estimator's argument",
      ),
      (
          'export_outputs_not_an_output',
          dict(export_outputs={'logit': tf.estimator.export.PredictOutput}),
          signatures.ServingError,
          r"export_outputs key 'logit' is not an output",
      ),
      (
          'export_outputs_not_classes',
          dict(export_outputs={'dense_1': 'classify'}),
          signatures.ServingError,
          'output name -> ExportOutput class',
      ),
      (
          'model_fn_without_receiver',
          dict(model_fn=default_model_fn, serving_input_receiver_fn=None),
          errors.MigrationError,
          'model_fn is read only to serve',
      ),
  )
  def test_refused_before_anything_is_read_or_written(
      self, kwargs, error, message
  ):
    model_dir = os.path.join(self.root, 'model_fn_default_raw')
    before = fault_harness.digests(model_dir)
    kwargs = {'serving_input_receiver_fn': x_raw_receiver_fn, **kwargs}
    # Before the checkpoint is read: the same refusal without one.
    for directory in (model_dir, os.path.join(self.root, 'no_such_model')):
      with self.assertRaisesRegex(error, message):
        export.keras_model_to_keras(
            directory, f'{_MODULE}:dense', params=_PARAMS, **kwargs
        )
    self.assertEqual(fault_harness.digests(model_dir), before)

  def test_make_model_fn_refuses_export_outputs_that_are_not_a_function(self):
    with self.assertRaisesRegex(errors.ModelError, 'give a function'):
      model_fn_lib.make_model_fn(
          export_custom_builders.dense,
          loss=_loss(),
          optimizer='Adam',
          export_outputs={'serving_default': None},
      )

  def test_binary_serves_with_the_receiver_and_model_fn_of_config(self):
    # From another directory, relative paths; the config imports a module
    # beside it, as `python proj/export_config.py` would.
    root = tempfile.mkdtemp(dir=self.root)
    os.mkdir(os.path.join(root, 'proj'))
    with open(os.path.join(root, 'proj', 'receivers.py'), 'w') as f:
      f.write(
          'from tests import export_custom_serving_test as cases\n'
          'receiver = cases.x_parsing_receiver_fn\n'
      )
    with open(os.path.join(root, 'proj', 'export_config.py'), 'w') as f:
      f.write(
          'import receivers\n'
          'from tests import export_custom_serving_test as cases\n'
          'def kwargs():\n'
          "  return dict(params={'units': 5, 'classes': 3},"
          ' model_fn=cases.declared_model_fn)\n'
          'receiver = receivers.receiver\n'
      )
    run = testing.run_binary(
        _BINARY,
        f'--build_model={_MODULE}:dense',
        '--model_dir=../model_fn_declared_parsing',
        '--config=proj/export_config.py:kwargs',
        '--serving_input_receiver_fn=proj/export_config.py:receiver',
        '--target=keras',
        cwd=root,
    )
    self.assertEqual(run.returncode, 0, run.stderr[-2000:])
    target = os.path.join(root, 'keras')
    with open(os.path.join(target, 'spec.json')) as f:
      spec = json.load(f)
    self.assertEqual(
        sorted(spec['serving']['signatures']),
        ['predict', 'regression', 'serving_default'],
    )
    with open(os.path.join(target, 'model.py')) as f:
      self.assertIn('def serving_model(model):', f.read())
    # Without the receiver: refused, naming --config (which gave model_fn),
    # not --model_fn (the model_fn exit's flag).
    refused = testing.run_binary(
        _BINARY,
        f'--build_model={_MODULE}:dense',
        '--model_dir=../model_fn_declared_parsing',
        '--config=proj/export_config.py:kwargs',
        '--target=keras_2',
        cwd=root,
    )
    self.assertEqual(refused.returncode, 2, refused.stderr[-2000:])
    last = refused.stderr.strip().splitlines()[-1]
    self.assertIn(
        "error: --config 'proj/export_config.py:kwargs': model_fn", last
    )
    self.assertNotIn('--model_fn', last)
    self.assertFalse(os.path.exists(os.path.join(root, 'keras_2')))


if __name__ == '__main__':
  absltest.main()
