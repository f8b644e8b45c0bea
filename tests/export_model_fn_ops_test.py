"""Every op the model_fn exporter maps computes on Keras 3 what it did on TF 1.x.

One model_fn applies each op of `model_fn_graph`'s table to the output of a
small dense layer and predicts every result under the op's name; it is
trained one step, exported, and its predictions on held-out rows compared in
the modern environment (one subprocess): within 1e-5, dtypes and shapes
equal. `supported_ops()` must equal the ops this model builds, so a mapping
added without a test here fails.
"""

import os
import shutil
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate.export import model_fn_export
from estimator_migrate.export import model_fn_graph
from estimator_migrate.export import parity

TOLERANCE = 1e-5
_ROWS = 16


def _ops(x, ids, table):
  """Name -> the op applied (x: [batch, 4] positive and negative values)."""
  positive = tf.nn.softplus(x) + 0.5
  return {
      'Relu': tf.nn.relu(x),
      'Relu6': tf.nn.relu6(x * 4.0),
      'Elu': tf.nn.elu(x),
      'Selu': tf.nn.selu(x),
      'Sigmoid': tf.sigmoid(x),
      'Tanh': tf.tanh(x),
      'Softplus': positive,
      'Softsign': tf.nn.softsign(x),
      'Softmax': tf.nn.softmax(x),
      'LogSoftmax': tf.nn.log_softmax(x),
      'Exp': tf.exp(x),
      'Log': tf.math.log(positive),
      'Sqrt': tf.sqrt(positive),
      'Rsqrt': tf.math.rsqrt(positive),
      'Square': tf.square(x),
      'Neg': tf.negative(x),
      'Abs': tf.abs(x),
      'AddV2': x + 1.5,
      'Sub': 2.0 - x,
      'Mul': x * x,
      'RealDiv': x / positive,
      'Maximum': tf.maximum(x, 0.25),
      'Minimum': tf.minimum(x, positive),
      'Mean': tf.reduce_mean(x, axis=1, keepdims=True),
      'Sum': tf.reduce_sum(x, axis=-1),
      'Max': tf.reduce_max(x, axis=1),
      'Min': tf.reduce_min(x, axis=1, keepdims=True),
      'Identity': tf.identity(x),
      'StopGradient': tf.stop_gradient(x),
      'ArgMax': tf.argmax(x, axis=1),
      'Cast': tf.cast(x * 10.0, tf.int32),
      'ConcatV2': tf.concat([x, positive], axis=1),
      'ExpandDims': tf.expand_dims(x, 1),
      'Squeeze': tf.squeeze(tf.reshape(x, [-1, 1, 4]), axis=1),
      'MatMul': tf.matmul(x, [[1.0], [-2.0], [0.5], [3.0]]),
      'Add': tf.raw_ops.Add(x=x, y=positive),
      'Pack': tf.stack([x, positive], axis=1),
      'Reshape': tf.reshape(x, [-1, 2, 2]),
      'StridedSlice': x[:, 1:3, tf.newaxis],
      'ResourceGather': tf.nn.embedding_lookup(table, ids),
  }


def ops_model_fn(features, labels, mode, params):
  """A dense layer, then every mapped op on its output."""
  del params
  x = tf.compat.v1.layers.dense(features['x'], 4, name='dense')
  table = tf.compat.v1.get_variable('table', [5, 3])
  predictions = _ops(x, features['ids'], table)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions)
  loss = (
      tf.compat.v1.losses.mean_squared_error(labels, x[:, :1])
      + tf.reduce_sum(table) * 0.0
  )
  train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
      loss, global_step=tf.compat.v1.train.get_global_step()
  )
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


class OpsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    features = {
        'x': rng.normal(size=(_ROWS, 3)).astype(np.float32),
        'ids': rng.integers(0, 5, size=(_ROWS, 2)).astype(np.int64),
    }
    labels = rng.normal(size=(_ROWS, 1)).astype(np.float32)
    estimator = tf.estimator.Estimator(
        ops_model_fn, os.path.join(cls.root, 'model')
    )
    estimator.train(
        lambda: tf.data.Dataset.from_tensor_slices((features, labels)).batch(8),
        steps=1,
    )
    held_out = {
        'x': rng.normal(size=(_ROWS, 3)).astype(np.float32),
        'ids': rng.integers(0, 5, size=(_ROWS, 2)).astype(np.int64),
    }
    outputs = list(
        estimator.predict(
            lambda: tf.data.Dataset.from_tensor_slices(held_out).batch(_ROWS),
            yield_single_examples=False,
        )
    )
    cls.expected = outputs[0]
    result = model_fn_export.model_fn_to_keras(
        ops_model_fn, estimator.model_dir, features=features
    )
    cls.code = result.code
    target = os.path.join(cls.root, 'keras')
    result.save(target)
    (cls.actual,) = parity.modern_predict([(target, held_out)])

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def test_every_mapped_op_is_tested_here(self):
    self.assertCountEqual(model_fn_graph.supported_ops(), self.expected)

  def test_every_op_computes_what_tf_1_did(self):
    for name, want in self.expected.items():
      with self.subTest(op=name):
        got = self.actual[name]
        self.assertEqual(got.shape, want.shape)
        self.assertEqual(got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)

  def test_each_op_is_one_keras_ops_call(self):
    self.assertIn('keras.ops.log_softmax(', self.code)
    self.assertIn('keras.layers.Embedding(5, 3', self.code)
    self.assertIn("keras.layers.Dense(units=4, activation='linear'", self.code)


if __name__ == '__main__':
  absltest.main()
