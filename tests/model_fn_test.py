"""make_model_fn and to_estimator train exactly as Keras fit does."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.tf2 import keras_estimator
from estimator_migrate.tf2 import model_fn
from tests import keras_fixtures as fx

# Same float32 ops in the same order; measured: weights identical, BatchNorm
# moving statistics within 2e-7, eval loss within 1e-7.
RTOL = 1e-5
ATOL = 1e-6


def _model_fn_estimator(model_dir, optimizer=None, **kwargs):
  return tf.estimator.Estimator(
      model_fn.make_model_fn(
          fx.build,
          loss='sparse_categorical_crossentropy',
          optimizer=optimizer
          or tf.keras.optimizers.legacy.SGD(fx.LEARNING_RATE),
          metrics=['accuracy'],
          **kwargs,
      ),
      model_dir=model_dir,
  )


class EquivalenceTest(tf.test.TestCase, parameterized.TestCase):

  def test_fit_to_estimator_and_model_fn_agree(self):
    keras = fx.compiled()
    keras.fit(
        fx.train_input_fn(), steps_per_epoch=fx.STEPS, epochs=1, verbose=0
    )
    fit_loss, fit_accuracy = keras.evaluate(fx.eval_input_fn(), verbose=0)
    want = {w.name.split(':')[0]: w.numpy() for w in keras.weights}

    wrapped = keras_estimator.to_estimator(
        fx.compiled(), model_dir=self.create_tempdir().full_path
    )
    custom = _model_fn_estimator(self.create_tempdir().full_path)
    for estimator in (wrapped, custom):
      estimator.train(fx.train_input_fn, steps=fx.STEPS)
    got_wrapped = {}
    for index, layer in enumerate(fx.WEIGHTED_LAYERS):
      for name in {w.split('/', 1)[1] for w in want if w.startswith(layer)}:
        got_wrapped[f'{layer}/{name}'] = wrapped.get_variable_value(
            f'layer_with_weights-{index}/{name}/.ATTRIBUTES/VARIABLE_VALUE'
        )
    got_custom = {n: custom.get_variable_value(n) for n in want}
    self.assertIn('bn/moving_mean', want)
    self.assertNotAllClose(want['bn/moving_mean'], 0.0)  # it did update
    for got in (got_wrapped, got_custom):
      for name, value in want.items():
        self.assertAllClose(got[name], value, rtol=RTOL, atol=ATOL, msg=name)
    for estimator in (wrapped, custom):
      metrics = estimator.evaluate(fx.eval_input_fn)
      self.assertAllClose(metrics['loss'], fit_loss, rtol=RTOL)
      self.assertAllClose(metrics['accuracy'], fit_accuracy, rtol=RTOL)

  @parameterized.named_parameters(
      (
          'v1_optimizer',
          lambda: tf.compat.v1.train.GradientDescentOptimizer(0.1),
          0.1,
      ),
      ('class_name', lambda: 'SGD', 0.01),  # Keras' default rate
      ('callable', lambda: lambda: tf.keras.optimizers.legacy.SGD(0.1), 0.1),
  )
  def test_every_optimizer_form_trains_as_fit(self, optimizer, rate):
    # Reference: Keras fit of the same model, same batches, SGD at `rate`.
    # Measured: every weight within 6e-8 of fit (RTOL/ATOL above), while
    # the kernels moved 4e-3 to 7e-2: a wrong rate or a lost step fails.
    steps = 2
    keras = fx.build()
    keras.compile(
        tf.keras.optimizers.legacy.SGD(rate), 'sparse_categorical_crossentropy'
    )
    initial = {w.name.split(':')[0]: w.numpy() for w in keras.weights}
    keras.fit(fx.train_input_fn(), steps_per_epoch=steps, epochs=1, verbose=0)
    want = {w.name.split(':')[0]: w.numpy() for w in keras.weights}

    estimator = _model_fn_estimator(
        self.create_tempdir().full_path, optimizer=optimizer()
    )
    estimator.train(fx.train_input_fn, steps=steps)
    self.assertEqual(estimator.get_variable_value('global_step'), steps)
    for name, value in want.items():
      got = estimator.get_variable_value(name)
      self.assertAllClose(got, value, rtol=RTOL, atol=ATOL, msg=name)
    # It trained: the kernels moved by far more than the tolerance.
    for name in ('conv/kernel', 'probs/kernel'):
      self.assertGreater(np.max(np.abs(want[name] - initial[name])), 1e-4)


class NaiveModelFnPitfallTest(tf.test.TestCase):

  def test_without_updates_batchnorm_never_moves(self):
    # The guide's first model_fn: loss and minimize, nothing else.
    def naive_model_fn(features, labels, mode):
      model = fx.build()
      outputs = model(features['image'], training=True)
      loss = tf.reduce_mean(
          tf.keras.losses.sparse_categorical_crossentropy(labels, outputs)
      )
      train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
          loss, tf.compat.v1.train.get_or_create_global_step()
      )
      return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    naive = tf.estimator.Estimator(
        naive_model_fn, model_dir=self.create_tempdir().full_path
    )
    naive.train(fx.train_input_fn, steps=5)
    self.assertAllEqual(
        naive.get_variable_value('bn/moving_mean'), np.zeros(4, np.float32)
    )
    self.assertEmpty(
        tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    )
    templated = _model_fn_estimator(self.create_tempdir().full_path)
    templated.train(fx.train_input_fn, steps=5)
    self.assertNotAllClose(
        templated.get_variable_value('bn/moving_mean'), np.zeros(4, np.float32)
    )


class SavedModelTest(tf.test.TestCase):

  def test_serving_signature_equals_predict(self):
    estimator = _model_fn_estimator(self.create_tempdir().full_path)
    estimator.train(fx.train_input_fn, steps=3)

    def serving_input():
      image = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 1], 'image')
      return tf.estimator.export.ServingInputReceiver(
          {'image': image}, {'image': image}
      )

    export_dir = estimator.export_saved_model(
        self.create_tempdir().full_path, serving_input
    )
    loaded = tf.saved_model.load(export_dir)
    served = loaded.signatures['serving_default'](
        image=tf.constant(fx.IMAGES[:16])
    )
    predicted = list(
        estimator.predict(
            lambda: tf.data.Dataset.from_tensor_slices(
                {'image': fx.IMAGES[:16]}
            ).batch(16)
        )
    )
    self.assertAllClose(
        served['probabilities'].numpy(),
        np.stack([p['probabilities'] for p in predicted]),
        rtol=1e-6,
    )
    self.assertAllEqual(
        served['class_ids'].numpy()[:, 0],
        [p['class_ids'][0] for p in predicted],
    )


class MultiInputOutputTest(tf.test.TestCase):

  def test_dict_features_and_per_output_losses_and_metrics(self):
    def build(params):
      del params
      a = tf.keras.Input((3,), name='a')
      b = tf.keras.Input((2,), name='b')
      joined = tf.keras.layers.Concatenate()([a, b])
      score = tf.keras.layers.Dense(1, name='score')(joined)
      kind = tf.keras.layers.Dense(3, activation='softmax', name='kind')(joined)
      return tf.keras.Model({'a': a, 'b': b}, [score, kind])

    def input_fn():
      rng = np.random.RandomState(1)
      features = {
          'a': rng.normal(size=(32, 3)).astype(np.float32),
          'b': rng.normal(size=(32, 2)).astype(np.float32),
      }
      labels = {
          'score': rng.normal(size=(32, 1)).astype(np.float32),
          'kind': rng.randint(0, 3, (32, 1)).astype(np.int64),
      }
      return tf.data.Dataset.from_tensor_slices((features, labels)).batch(8)

    estimator = tf.estimator.Estimator(
        model_fn.make_model_fn(
            build,
            loss={'score': 'mse', 'kind': 'sparse_categorical_crossentropy'},
            optimizer='Adam',
            metrics={'kind': ['accuracy'], 'score': ['mae']},
        ),
        model_dir=self.create_tempdir().full_path,
    )
    estimator.train(input_fn, steps=4)
    metrics = estimator.evaluate(input_fn)
    self.assertIn('kind_accuracy', metrics)
    self.assertIn('score_mae', metrics)
    predictions = next(
        iter(
            estimator.predict(
                lambda: input_fn().map(lambda features, labels: features)
            )
        )
    )
    self.assertEqual(set(predictions), {'score', 'kind'})


if __name__ == '__main__':
  absltest.main()
