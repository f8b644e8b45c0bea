"""Custom exports restore each weight to its own layer on Keras 3.

Keras 2 and Keras 3 order some models' weights differently: outputs in an
OrderedDict are flattened by sorted key on Keras 2, in insertion order on
Keras 3, so two heads of equal shape swap places. The export records each
weight's Keras 2 path (`weight_paths`, spec schema version 3) as a fresh
process names it, model.py builds the model with fresh name counters and
matches by layer: named, unnamed and mixed (a user's own `dense_5` beside
unnamed Dense layers).

Each case trains a custom estimator a few steps, exports it, and on Keras 3
(one modern subprocess, every export loaded twice, so that later loads
follow layers built before): predictions equal the estimator's head by
head, and after M more steps on both sides every weight agrees. Without the
layer match both fail (heads differ by ~1). `InSpecOrderTest` tests the
matching rules on their own.
"""

import importlib.util
import os
import tempfile
import types
import warnings

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import export
from estimator_migrate.export import custom_parity
from estimator_migrate.tf2 import keras_estimator
from estimator_migrate.tf2 import model_fn
from tests import export_custom_builders
from tests import export_testing

# As tests/export_custom_test.py: estimator vs Keras 3, float32.
PARITY_TOLERANCE = 1e-5
TOLERANCE = 1e-6
_BATCH = 8
_STEPS = 3
_MORE = 2
_N = _BATCH * (_STEPS + _MORE)
_KEYS = ('zeta', 'alpha')  # the OrderedDict's order, as Keras 3 flattens it
_MODULE = 'tests.export_custom_builders'

# name: (how the estimator is built, builder)
_CASES = {
    'model_fn_named': ('model_fn', 'sibling_heads'),
    'to_estimator_named': ('to_estimator', 'sibling_heads'),
    'model_fn_unnamed': ('model_fn', 'sibling_heads_unnamed'),
    'to_estimator_unnamed': ('to_estimator', 'sibling_heads_unnamed'),
    'model_fn_mixed': ('model_fn', 'sibling_heads_mixed'),
    'to_estimator_mixed': ('to_estimator', 'sibling_heads_mixed'),
}
# Each builder's layers in Keras 2's weight order (hidden, then the heads
# by sorted key: alpha, zeta), named as a fresh process names them.
_KERAS2_LAYERS = {
    'sibling_heads': ['hidden', 'alpha', 'zeta'],
    'sibling_heads_unnamed': ['dense', 'dense_2', 'dense_1'],
    'sibling_heads_mixed': ['dense_5', 'dense_1', 'dense'],
}


def _adam():
  return tf.keras.optimizers.legacy.Adam(0.05)


def _estimator(how: str, builder: str, model_dir: str):
  """The estimator, and its Keras 2 output names' OrderedDict keys.

  The estimator keys labels and predictions by Keras 2's output names,
  which are the output layers' names, ordered by the sorted keys.
  """
  build = getattr(export_custom_builders, builder)
  optimizer = _adam
  if how == 'model_fn':
    with tf.Graph().as_default():  # as the model_fn builds it
      names = build({}).output_names
    estimator = tf.estimator.Estimator(
        model_fn.make_model_fn(build, loss='mse', optimizer=optimizer()),
        model_dir=model_dir,
        params={},
    )
  else:
    model = build({})
    model.compile(optimizer=optimizer(), loss='mse')
    names = model.output_names
    estimator = keras_estimator.to_estimator(model, model_dir=model_dir)
  return estimator, dict(zip(names, sorted(_KEYS), strict=True))


class ExportCustomOrderTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))
    rng = np.random.default_rng(5)
    cls.x = rng.normal(size=(_N, 3)).astype(np.float32)
    y = {k: rng.normal(size=(_N, 2)).astype(np.float32) for k in _KEYS}
    split = _BATCH * _STEPS

    def input_fn(start, stop, labels):
      return lambda: (
          tf.data.Dataset.from_tensor_slices(({'x': cls.x}, labels))
          .skip(start)
          .take(stop - start)
          .batch(_BATCH)
      )

    cls.results, cls.predicted, cls.trained, jobs = {}, {}, {}, []
    for name, (how, builder) in _CASES.items():
      model_dir = os.path.join(cls.root, name)
      estimator, key_of = _estimator(how, builder, model_dir)
      labels = {n: y[k] for n, k in key_of.items()}
      estimator.train(input_fn(0, split, labels), steps=_STEPS)
      result = export.keras_model_to_keras(
          model_dir, f'{_MODULE}:{builder}', loss='mse', optimizer=_adam
      )
      target = result.save(os.path.join(cls.root, name + '_keras'))
      (rows,) = estimator.predict(
          lambda: tf.data.Dataset.from_tensor_slices({'x': cls.x}).batch(_N),
          yield_single_examples=False,
      )
      cls.predicted[name] = {key_of[n]: v for n, v in rows.items()}
      estimator.train(input_fn(split, _N, labels), steps=_MORE)
      cls.trained[name] = export_testing.checkpoint_weights(result, model_dir)
      cls.results[name] = result
      jobs += [
          (target, {'x': cls.x}, None, _BATCH),
          (target, {'x': cls.x}, None, _BATCH),
          (
              target,
              {'x': cls.x[split:]},
              {k: y[k][split:] for k in _KEYS},
              _BATCH,
          ),
      ]
    outputs = custom_parity.modern_run(jobs)
    cls.keras_predicted = {
        name: outputs[3 * i : 3 * i + 2] for i, name in enumerate(_CASES)
    }
    cls.keras_trained = dict(zip(_CASES, outputs[2::3], strict=True))

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_recorded_paths_are_keras_2_order_and_fresh_names(self, name):
    # What makes the case: Keras 3 orders zeta's weights before alpha's.
    # The to_estimator models were built eagerly after others (dense_7 ...)
    # and are recorded under a fresh graph's names all the same.
    paths = self.results[name].spec.model.weight_paths
    self.assertEqual(
        list(paths),
        [
            f'{layer}/{weight}'
            for layer in _KERAS2_LAYERS[_CASES[name][1]]
            for weight in ('kernel', 'bias')
        ],
    )

  def test_builder_that_runs_eagerly_only_records_its_eager_names(self):
    # to_estimator's checkpoint is matched eagerly; the names come from one
    # more build in a fresh graph, which this builder refuses: the export
    # goes on with the eager names (load() warns if they are not Keras 3's).
    with self.assertLogs(level='WARNING') as logs:
      result = export.keras_model_to_keras(
          os.path.join(self.root, 'to_estimator_named'),
          f'{_MODULE}:sibling_heads_eager_only',
          loss='mse',
          optimizer=_adam,
      )
    self.assertIn('builder does not build in a graph', '\n'.join(logs.output))
    self.assertEqual(
        result.spec.model.weight_paths,
        self.results['to_estimator_named'].spec.model.weight_paths,
    )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_each_head_predicts_as_the_estimators(self, name):
    for load, got in enumerate(self.keras_predicted[name]):
      for i, key in enumerate(_KEYS):
        np.testing.assert_allclose(
            got[f'output_{i}'],
            self.predicted[name][key],
            rtol=0,
            atol=PARITY_TOLERANCE,
            err_msg=f'{key}, load {load + 1}',
        )

  @parameterized.named_parameters((name, name) for name in _CASES)
  def test_weights_agree_after_training_on(self, name):
    for variable, want in self.trained[name].items():
      np.testing.assert_allclose(
          self.keras_trained[name][variable],
          want,
          rtol=0,
          atol=TOLERANCE,
          err_msg=variable,
      )


def _template():
  """keras3/custom_model.py, the template model.py is (its pure helpers)."""
  path = os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
      'estimator_migrate',
      'keras3',
      'custom_model.py',
  )
  spec = importlib.util.spec_from_file_location('custom_model_template', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _model(trainable, non_trainable=()):
  weight = lambda path: types.SimpleNamespace(path=path)  # noqa: E731
  return types.SimpleNamespace(
      trainable_weights=[weight(p) for p in trainable],
      non_trainable_weights=[weight(p) for p in non_trainable],
  )


def _spec(paths, trainable):
  return {'builder': 'm:build', 'weight_paths': paths, 'trainable': trainable}


class InSpecOrderTest(absltest.TestCase):
  """model.py's match of Keras 3 weights to the spec's, by layer."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.template = _template()

  def order(self, model, spec):
    kinds = self.template._in_spec_order(model, spec)  # pylint: disable=protected-access
    return [[v.path for v in kind] for kind in kinds]

  def test_layers_are_matched_by_name_not_position(self):
    # Keras 3 lists the second head first; names as a fresh process gives
    # them, a user's own `dense_5` among them.
    model = _model(['dense_5/kernel', 'dense_1/kernel', 'dense/kernel'])
    paths = ['dense_5/kernel', 'dense/kernel', 'dense_1/kernel']
    self.assertEqual(
        self.order(model, _spec(paths, ['a', 'b', 'c'])),
        [['dense_5/kernel', 'dense/kernel', 'dense_1/kernel'], []],
    )

  def test_names_numbered_on_are_not_guessed_at(self):
    # A model built after others (dense_7 ...), were it not built with
    # fresh counters: a user's `dense_5` must not be taken for `dense`.
    model = _model(['dense_5/kernel', 'dense_7/kernel', 'dense_8/kernel'])
    paths = ['dense_5/kernel', 'dense/kernel', 'dense_1/kernel']
    with self.assertWarnsRegex(UserWarning, 'dense_7/kernel.*by position'):
      got = self.order(model, _spec(paths, [1, 2, 3]))
    self.assertEqual(
        got[0], ['dense_5/kernel', 'dense_7/kernel', 'dense_8/kernel']
    )

  def test_a_wrapper_is_matched_through_its_inner_layer(self):
    # Keras 2: `time_distributed/kernel`; Keras 3 adds the wrapped layer's
    # name. The plain `dense` is paired once the wrapper's kernel is.
    model = _model(
        [
            'dense/kernel',
            'time_distributed/dense/kernel',
            'time_distributed/dense/bias',
        ]
    )
    paths = [
        'time_distributed/kernel',
        'time_distributed/bias',
        'dense/kernel',
    ]
    with warnings.catch_warnings():
      warnings.simplefilter('error')
      got = self.order(model, _spec(paths, [1, 2, 3]))
    self.assertEqual(
        got[0],
        [
            'time_distributed/dense/kernel',
            'time_distributed/dense/bias',
            'dense/kernel',
        ],
    )

  def test_named_layers_and_kinds_are_matched_apart(self):
    model = _model(
        ['zeta/kernel', 'norm/gamma', 'alpha/kernel'],
        ['norm/moving_variance', 'norm/moving_mean'],
    )
    paths = [
        'alpha/kernel',
        'norm/gamma',
        'zeta/kernel',
        'norm/moving_mean',
        'norm/moving_variance',
    ]
    self.assertEqual(
        self.order(model, _spec(paths, ['a', 'g', 'z'])),
        [
            ['alpha/kernel', 'norm/gamma', 'zeta/kernel'],
            ['norm/moving_mean', 'norm/moving_variance'],
        ],
    )

  def test_outer_scopes_do_not_matter(self):
    # Keras 3 puts a Sequential's name before its layers' (`sequential/`).
    model = _model(['sequential/dense_1/kernel', 'sequential/dense/kernel'])
    self.assertEqual(
        self.order(model, _spec(['dense/kernel', 'dense_1/kernel'], [1, 2])),
        [['sequential/dense/kernel', 'sequential/dense_1/kernel'], []],
    )

  def test_without_paths_weights_are_matched_by_position(self):
    model = _model(['b/kernel', 'a/kernel'])
    with warnings.catch_warnings():
      warnings.simplefilter('error')  # no warning: version 1 and 2 specs
      got = self.order(model, {'builder': 'm:b', 'trainable': [1, 2]})
    self.assertEqual(got, [['b/kernel', 'a/kernel'], []])

  def test_paths_of_other_layers_warn_and_match_by_position(self):
    for paths, named in (
        (['a/kernel', 'c/kernel'], 'b/kernel'),  # another layer
        (['a/kernel', 'b/kernel', 'b/bias'], 'b/bias'),  # more weights
    ):
      with self.subTest(named=named):
        model = _model(['b/kernel', 'a/kernel'])
        with self.assertWarnsRegex(UserWarning, 'm:build.*by position'):
          got = self.order(model, _spec(paths, [1, 2]))
        self.assertEqual(got, [['b/kernel', 'a/kernel'], []])

  def test_two_layers_of_one_name_warn_and_match_by_position(self):
    # Two sub-models each with a `dense`: the layer names are not enough.
    model = _model(['left/dense/kernel', 'right/dense/kernel'])
    with self.assertWarnsRegex(UserWarning, 'left/dense/kernel'):
      got = self.order(model, _spec(['dense/kernel', 'dense/kernel'], [1, 2]))
    self.assertEqual(got, [['left/dense/kernel', 'right/dense/kernel'], []])


if __name__ == '__main__':
  absltest.main()
