"""to_estimator's early errors and check_input_fn."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.tf2 import keras_estimator
from tests import keras_fixtures as fx


class Subclassed(tf.keras.Model):
  """A subclassed model whose constructor argument Keras cannot serialize.

  Keras 2.15 records simple constructor arguments as the config; for a plain
  object it falls back to an empty config.
  """

  def __init__(self, helper=None):
    super().__init__()
    self.helper = helper
    self.dense = tf.keras.layers.Dense(1)

  def call(self, inputs):
    return self.dense(inputs)


class ToEstimatorAcceptsTest(absltest.TestCase):
  """Uses model_to_estimator runs, which to_estimator used to refuse."""

  def test_tf_optimizer_compiled_in_graph_mode(self):
    with tf.Graph().as_default():
      model = fx.build()
      model.compile(
          tf.compat.v1.train.GradientDescentOptimizer(0.1),
          'sparse_categorical_crossentropy',
          ['accuracy'],
      )
      self.assertEqual(type(model.optimizer).__name__, 'TFOptimizer')
      self.assertEqual(
          keras_estimator.compiled_metric_names(model), ['accuracy']
      )
      estimator = keras_estimator.to_estimator(
          model,
          model_dir=self.create_tempdir().full_path,
          metric_names_map={'accuracy': 'acc'},
          input_fn=fx.train_input_fn,
      )
      estimator.train(fx.train_input_fn, steps=1)
      self.assertIn('acc', estimator.evaluate(fx.eval_input_fn))

  def test_keras_model_path_is_loaded_then_checked(self):
    path = self.create_tempfile('model.h5').full_path
    inputs = tf.keras.Input((2,), name='a')
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, name='c')(inputs))
    model.compile(tf.keras.optimizers.legacy.SGD(), 'mse', ['mae'])
    model.save(path)
    with self.assertRaisesRegex(errors.ModelError, 'metric_names_map keys'):
      keras_estimator.to_estimator(
          keras_model_path=path, metric_names_map={'c_mae': 'a'}
      )
    with self.assertRaisesRegex(errors.ModelError, 'input is a tuple of 2'):
      keras_estimator.to_estimator(
          keras_model_path=path, input_fn=_fn((_A, _A), _Y)
      )
    estimator = keras_estimator.to_estimator(
        keras_model_path=path,
        model_dir=self.create_tempdir().full_path,
        metric_names_map={'mae': 'error'},
        input_fn=_fn(_A, _Y),
    )
    results = estimator.evaluate(_fn(_A, _Y), steps=1)
    self.assertIn('error', results)

  def test_missing_keras_model_path(self):
    with self.assertRaisesRegex(errors.ModelError, 'keras_model_path=.*nope'):
      keras_estimator.to_estimator(keras_model_path='/nope/model.h5')


class CompiledMetricNamesTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('list', ['mse', 'mae'], None, ['c_mse', 'c_mae', 'd_mse', 'd_mae']),
      ('dict', {'d': 'mse'}, None, ['d_mse']),
      ('list_of_lists', [['mse'], ['mae']], None, ['c_mse', 'd_mae']),
      ('weighted', ['mse'], ['mse'], ['c_mse', 'c_mse_1', 'd_mse', 'd_mse_1']),
      (
          'objects',
          [tf.keras.metrics.MeanSquaredError(name='m')],
          None,
          ['c_m', 'd_m'],
      ),
  )
  def test_names_as_model_to_estimator_gives_them(
      self, metrics, weighted, names
  ):
    model = _two_inputs_two_outputs()
    model.compile(
        tf.keras.optimizers.legacy.SGD(),
        'mse',
        metrics=metrics,
        weighted_metrics=weighted,
    )
    self.assertEqual(keras_estimator.compiled_metric_names(model), names)
    estimator = tf.keras.estimator.model_to_estimator(
        model, model_dir=self.create_tempdir().full_path
    )
    results = estimator.evaluate(_fn((_A, _B), (_Y, _Y)), steps=1)
    self.assertContainsSubset(names, results)


class ToEstimatorErrorsTest(absltest.TestCase):

  def test_not_compiled(self):
    with self.assertRaisesRegex(errors.ModelError, 'not compiled.*legacy'):
      keras_estimator.to_estimator(fx.build())

  def test_new_style_optimizer_in_graph_mode(self):
    with tf.Graph().as_default():
      model = fx.build()
      model.compile(tf.keras.optimizers.Adam(), 'mse')
      with self.assertRaisesRegex(
          errors.ModelError, r'tf\.keras\.optimizers\.legacy\.Adam'
      ):
        keras_estimator.to_estimator(model)

  def test_subclassed_with_checkpoint_format(self):
    model = Subclassed(helper=object())
    model.compile(tf.keras.optimizers.legacy.SGD(), 'mse')
    with self.assertRaisesRegex(errors.ModelError, "checkpoint_format='saver'"):
      keras_estimator.to_estimator(model)
    with self.assertRaisesRegex(errors.ModelError, 'get_config'):
      keras_estimator.to_estimator(model, checkpoint_format='saver')

  def test_metric_names_map_must_match(self):
    with self.assertRaisesRegex(
        errors.ModelError, r"\['acc'\].*\['accuracy'\]"
    ):
      keras_estimator.to_estimator(
          fx.compiled(), metric_names_map={'acc': 'my_accuracy'}
      )

  def test_metric_names_map_renames(self):
    estimator = keras_estimator.to_estimator(
        fx.compiled(),
        model_dir=self.create_tempdir().full_path,
        metric_names_map={'accuracy': 'my_accuracy'},
    )
    estimator.train(fx.train_input_fn, steps=1)
    self.assertIn('my_accuracy', estimator.evaluate(fx.eval_input_fn))

  def test_export_outputs_must_be_outputs(self):
    with self.assertRaisesRegex(
        errors.ModelError, r"\['logits'\].*\['probs'\]"
    ):
      keras_estimator.to_estimator(
          fx.compiled(),
          export_outputs={'logits': tf.estimator.export.PredictOutput},
      )

  def test_bad_input_fn_found_before_training(self):
    def wrong_keys():
      return tf.data.Dataset.from_tensor_slices(
          ({'pixels': fx.IMAGES}, fx.LABELS)
      ).batch(4)

    with self.assertRaisesRegex(
        errors.ModelError, r"keys \['pixels'\].*missing: \['image'\]"
    ):
      keras_estimator.to_estimator(fx.compiled(), input_fn=wrong_keys)


def _two_inputs_two_outputs():
  a = tf.keras.Input((2,), name='a')
  b = tf.keras.Input((3,), name='b')
  merged = tf.keras.layers.concatenate([a, b])
  return tf.keras.Model(
      [a, b],
      [
          tf.keras.layers.Dense(1, name='c')(merged),
          tf.keras.layers.Dense(1, name='d')(merged),
      ],
  )


def _fn(features, labels=None):
  def input_fn():
    data = (features, labels) if labels is not None else features
    return tf.data.Dataset.from_tensor_slices(data).batch(2)

  return input_fn


_A = np.zeros((4, 2), np.float32)
_B = np.zeros((4, 3), np.float32)
_Y = np.zeros((4, 1), np.float32)


class SimpleSubclassed(tf.keras.Model):
  """No input or output names, ever (not even after fit)."""

  def __init__(self):
    super().__init__()
    self.dense = tf.keras.layers.Dense(1)

  def call(self, inputs):
    return self.dense(inputs)

  def get_config(self):
    return {}

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls()


class CheckInputFnStructureTest(parameterized.TestCase):
  """Features and labels are matched the way model_to_estimator maps them."""

  @parameterized.named_parameters(
      ('tuples', _fn((_A, _B), (_Y, _Y))),
      ('lists_not_a_dataset', lambda: ([_A, _B], [_Y, _Y])),
      ('dicts', _fn({'a': _A, 'b': _B}, {'c': _Y, 'd': _Y})),
      ('tuple_features_dict_labels', _fn((_A, _B), {'c': _Y, 'd': _Y})),
  )
  def test_fits(self, input_fn):
    check = keras_estimator.check_input_fn(_two_inputs_two_outputs(), input_fn)
    self.assertEqual(check.problems, ())
    self.assertEqual(check.output_names, ('c', 'd'))

  def test_extra_keys_are_notes_not_problems(self):
    check = keras_estimator.check_input_fn(
        _two_inputs_two_outputs(),
        _fn({'a': _A, 'b': _B, 'id': _Y}, {'c': _Y, 'd': _Y, 'w': _Y}),
    )
    self.assertTrue(check.ok, check.problems)
    self.assertLen(check.notes, 2)
    self.assertIn("['id']", check.notes[0])
    self.assertIn('ignores', check.notes[0])

  @parameterized.named_parameters(
      ('too_few_features', (_A,), (_Y, _Y), 'input is a tuple of 1'),
      ('single_label', (_A, _B), _Y, 'output is a single tensor'),
      ('missing_key', {'a': _A}, (_Y, _Y), r"missing: \['b'\]"),
      ('wrong_width', (_B, _B), (_Y, _Y), 'weights of other shapes'),
  )
  def test_problems(self, features, labels, problem):
    check = keras_estimator.check_input_fn(
        _two_inputs_two_outputs(), _fn(features, labels)
    )
    self.assertLen(check.problems, 1)
    self.assertRegex(check.problems[0], problem)

  @parameterized.named_parameters(
      ('tuple', (_Y, _Y), None),
      ('dict_subset', {'c': _Y}, None),
      ('single_tensor', _Y, 'single tensor but the model has 2 outputs'),
      ('too_many', (_Y, _Y, _Y), 'a tuple of 3 but the model has 2'),
      ('unknown_key', {'e': _Y}, r"keys \['e'\] are not model outputs"),
  )
  def test_sample_weights(self, weights, problem):
    check = keras_estimator.check_input_fn(
        _two_inputs_two_outputs(),
        _fn({'features': (_A, _B), 'sample_weights': weights}, (_Y, _Y)),
    )
    if problem is None:
      self.assertTrue(check.ok, check.problems)
    else:
      self.assertRegex(' '.join(check.problems), problem)

  @parameterized.named_parameters(
      ('unbuilt', False),
      ('after_fit', True),
  )
  def test_subclassed_model_is_called_not_named(self, fit):
    model = SimpleSubclassed()
    model.compile(tf.keras.optimizers.legacy.SGD(), 'mse')
    if fit:
      model.fit(_A, _Y, verbose=0)
    self.assertIsNone(model.input_names)
    check = keras_estimator.check_input_fn(model, _fn(_A, {'output_1': _Y}))
    self.assertTrue(check.ok, check.problems)
    self.assertEqual(check.output_names, ('output_1',))
    check = keras_estimator.check_input_fn(model, _fn({'x': _A}, _Y))
    self.assertRegex(check.problems[0], r'SimpleSubclassed\.call\(\) fails')


class CheckInputFnTest(absltest.TestCase):

  def test_fitting_input(self):
    check = keras_estimator.check_input_fn(fx.build(), fx.train_input_fn)
    self.assertTrue(check.ok, check.problems)

  def test_sample_weights_form(self):
    def weighted():
      return tf.data.Dataset.from_tensor_slices(
          (
              {
                  'features': {'image': fx.IMAGES},
                  'sample_weights': np.ones(64, np.float32),
              },
              fx.LABELS,
          )
      ).batch(4)

    self.assertTrue(keras_estimator.check_input_fn(fx.build(), weighted).ok)

  def test_multi_output_labels_must_be_a_dict(self):
    inputs = tf.keras.Input((2,), name='x')
    model = tf.keras.Model(
        inputs,
        [
            tf.keras.layers.Dense(1, name='a')(inputs),
            tf.keras.layers.Dense(1, name='b')(inputs),
        ],
    )

    def tensor_labels():
      return tf.data.Dataset.from_tensor_slices(
          ({'x': np.zeros((4, 2), np.float32)}, np.zeros((4, 1)))
      ).batch(2)

    check = keras_estimator.check_input_fn(model, tensor_labels)
    self.assertLen(check.problems, 1)
    self.assertIn("outputs ['a', 'b']", check.problems[0])


if __name__ == '__main__':
  absltest.main()
