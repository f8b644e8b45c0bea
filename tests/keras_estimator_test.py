"""to_estimator's early errors and check_input_fn."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import keras_estimator
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
        errors.ModelError, r"missing: \['image'\].*unknown: \['pixels'\]"
    ):
      keras_estimator.to_estimator(fx.compiled(), input_fn=wrong_keys)


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
