"""A model_fn's export serves the estimator's own signatures (drop-in serving).

Each model_fn is trained on TF 2.15; the estimator exports its SavedModel with
a receiver, and `model_fn_to_keras(..., serving_input_receiver_fn=...)`
writes `saved_model/` from the same receiver and the model_fn's PREDICT
`export_outputs` (the default `serving_default` predict signature, or the
declared Classification / Regression / Predict outputs). On TF 2.21
(`serving_parity`, one subprocess) both SavedModels are called on the
same serialized tf.Examples (unseen strings, missing features) or raw
tensors: signature defs, `saved_model_cli` listings and TensorFlow Serving's
Classify / Regress / Predict answers identical, floats within 1e-6.
"""

import os
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.export import model_fn_export
from estimator_migrate.export import serving
from estimator_migrate.export import serving_parity
from tests import export_testing
from tests import model_fn_cases

TOLERANCE = 1e-6
_N = 12
_COLORS = ('red', 'green', 'blue')
_fc = tf.compat.v1.feature_column


def declared_columns():
  return [
      _fc.numeric_column('x', shape=(2,)),
      _fc.indicator_column(
          _fc.categorical_column_with_vocabulary_list('color', _COLORS)
      ),
  ]


def declared_model_fn(features, labels, mode, params):
  """A binary classifier declaring its own export_outputs."""
  del params
  net = _fc.input_layer(features, declared_columns())
  net = tf.compat.v1.layers.dense(net, 4, activation=tf.nn.relu, name='hidden')
  logits = tf.compat.v1.layers.dense(net, 2, name='logits')
  probabilities = tf.nn.softmax(logits)
  score = probabilities[:, 1:]
  predictions = {
      'probabilities': probabilities,
      'class_ids': tf.argmax(logits, axis=1),
  }
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(
        mode,
        predictions=predictions,
        export_outputs={
            'serving_default': tf.estimator.export.ClassificationOutput(
                scores=probabilities
            ),
            'regression': tf.estimator.export.RegressionOutput(score),
            'predict': tf.estimator.export.PredictOutput(predictions),
        },
    )
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  train_op = tf.compat.v1.train.AdamOptimizer(0.01).minimize(
      loss, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def declared_parsing_receiver_fn():
  spec = _fc.make_parse_example_spec(declared_columns())
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()


def declared_raw_receiver_fn():
  x = tf.compat.v1.placeholder(tf.float32, [None, 2], name='x')
  color = tf.compat.v1.placeholder(tf.string, [None, 1], name='color')
  return tf.estimator.export.ServingInputReceiver(
      {'x': x, 'color': color}, {'x': x, 'color': color}
  )


def mlp_parsing_receiver_fn():
  case = {c.name: c for c in model_fn_cases.CASES}['premade_mlp']
  spec = _fc.make_parse_example_spec(case.params['feature_columns'])
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()


def _declared_rows(rng, rows):
  return {
      'x': rng.normal(size=(rows, 2)).astype(np.float32),
      'color': rng.choice(np.array(_COLORS, dtype=object), size=(rows, 1)),
  }


class ModelFnServingTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    rng = np.random.default_rng(3)
    mlp = {c.name: c for c in model_fn_cases.CASES}['premade_mlp']
    declared = model_fn_cases.Case(
        name='declared',
        model_fn=declared_model_fn,
        params={},
        train_features=_declared_rows(rng, 64),
        train_labels=rng.integers(0, 2, size=64).astype(np.int64),
        held_out={},
        batch_size=16,
        optimizers=('AdamOptimizer',),
    )
    # Unseen strings and a missing string feature (its parse default). No
    # '' value: numpy's bytes arrays, which carry the examples to TF 2.21,
    # drop an example's trailing zero byte, which '' last would be.
    colors = ['red', 'purple', 'blue', 'green', 'Red']
    declared_examples = [
        export_testing.example(
            {
                'x': rng.normal(size=2),
                'color': [] if i % 4 == 0 else [colors[i % len(colors)]],
            }
        )
        for i in range(_N)
    ]
    mlp_examples = [
        export_testing.example(
            {k: rng.normal(size=1) for k in model_fn_cases.IRIS_COLUMNS}
        )
        for _ in range(_N)
    ]
    raw = {
        'x': rng.normal(size=(_N, 2)).astype(np.float32),
        'color': (
            np.array([[colors[i % len(colors)]] for i in range(_N)]).astype(
                bytes
            )
        ),
    }
    cases = {
        'mlp_default_signature': (
            mlp,
            mlp_parsing_receiver_fn,
            {'examples': np.array(mlp_examples, dtype=bytes)},
        ),
        'declared_parsing': (
            declared,
            declared_parsing_receiver_fn,
            {'examples': np.array(declared_examples, dtype=bytes)},
        ),
        'declared_raw': (declared, declared_raw_receiver_fn, raw),
    }
    cls.results, jobs = {}, []
    for name, (case, receiver_fn, inputs) in cases.items():
      model_dir = os.path.join(cls.root, case.name)
      if not os.path.exists(model_dir):
        model_fn_cases.train(case, model_dir, 8)
      own = model_fn_cases.estimator(case, model_dir).export_saved_model(
          os.path.join(cls.root, name + '_estimator'), receiver_fn
      )
      result = model_fn_export.model_fn_to_keras(
          case.model_fn,
          model_dir,
          features=model_fn_cases.one_batch(case),
          params=case.params,
          serving_input_receiver_fn=receiver_fn,
      )
      target = os.path.join(cls.root, name + '_keras')
      result.save(target)
      cls.results[name] = result
      jobs.append(
          (
              own.decode() if isinstance(own, bytes) else own,
              os.path.join(target, serving.DIRECTORY),
              inputs,
          )
      )
    serving.write_saved_models([os.path.dirname(j[1]) for j in jobs])
    compared = serving_parity.compare_saved_models(jobs)
    cls.proof, cls.served = {}, {}
    for name, served in zip(cases, compared, strict=True):
      cls.proof[name] = {
          'signatures': served.signatures,
          'listing': served.listings,
          'errors': served.errors,
      }
      cls.served[name] = dict(served.outputs)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  @parameterized.named_parameters(
      (n, n)
      for n in ('mlp_default_signature', 'declared_parsing', 'declared_raw')
  )
  def test_signatures_and_listing_identical(self, name):
    signatures = self.proof[name]['signatures']
    ours = {
        k: v
        for k, v in signatures['ours'].items()
        if k not in ('serving_raw', '__saved_model_init_op')
    }
    self.assertEqual(ours, signatures['estimator'])
    listing = self.proof[name]['listing']
    self.assertEqual(listing['ours'], listing['estimator'])

  @parameterized.named_parameters(
      (n, n)
      for n in ('mlp_default_signature', 'declared_parsing', 'declared_raw')
  )
  def test_outputs_and_client_answers_identical(self, name):
    export_testing.served_alike(self, self.served[name], TOLERANCE)
    errors = self.proof[name]['errors']
    self.assertEqual(errors['ours'], errors['estimator'])

  def test_declared_signatures_kept_where_the_receiver_allows(self):
    parsing = self.results['declared_parsing'].spec.serving.signatures
    self.assertEqual(
        {k: s.method for k, s in parsing.items()},
        {
            'predict': 'predict',
            'regression': 'regress',
            'serving_default': 'classify',
        },
    )
    # Raw tensors: only predict, as the estimator's export keeps.
    raw = self.results['declared_raw'].spec.serving.signatures
    self.assertEqual(list(raw), ['predict'])
    served = self.served['declared_parsing']
    self.assertIn('ours/serving_default/scores', served)
    self.assertIn('client/ours/serving_default/scores', served)


if __name__ == '__main__':
  absltest.main()
