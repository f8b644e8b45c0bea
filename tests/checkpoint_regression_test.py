"""Each defect of tensorflow_estimator's converter, run on it and on ours.

The upstream converter (`tools/checkpoint_converter.py`) is the anchor: every
test shows its defect and that this converter gets the same input right.
"""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow_estimator.python.estimator.tools import checkpoint_converter

from estimator_migrate.checkpoints import convert
from tests import canned_harness
from tests import checkpoint_harness
from tests import conversion_paths

_V1 = tf.compat.v1.train


def _train_v1(test, name, steps=2, **kwargs):
  model_dir = test.create_tempdir().full_path
  getattr(tf.compat.v1.estimator, name)(
      model_dir=model_dir,
      config=tf.estimator.RunConfig(tf_random_seed=0),
      **kwargs,
  ).train(canned_harness.make_input_fn('Classifier', True), steps=steps)
  return model_dir


def _upstream(test, kind, model_dir):
  target = os.path.join(test.create_tempdir().full_path, 'model.ckpt')
  with tf.Graph().as_default():
    checkpoint_converter.convert_checkpoint(
        kind,
        tf.train.latest_checkpoint(model_dir),
        os.path.join(model_dir, 'graph.pbtxt'),
        target,
    )
  return checkpoint_harness.read_all(os.path.dirname(target))


def _ours(test, model_dir, path):
  target = os.path.join(test.create_tempdir().full_path, 'model.ckpt')
  report = convert.convert_optimizer_checkpoint(model_dir, target, path=path)
  test.assertEqual(report.path, path)
  return checkpoint_harness.read_all(os.path.dirname(target))


def _dnn(optimizer, **extra):
  return canned_harness.dnn_kwargs(optimizer, hidden_units=(2,), **extra)


class UpstreamDefectsTest(parameterized.TestCase):

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_hyperparameters_come_from_the_graph(self, path):
    model_dir = _train_v1(
        self, 'DNNClassifier', **_dnn(_V1.AdamOptimizer(0.01, beta1=0.8))
    )
    upstream, ours = _upstream(self, 'dnn', model_dir), _ours(
        self, model_dir, path
    )
    self.assertAlmostEqual(
        float(upstream['training/Adam/learning_rate']), 0.001
    )  # Keras' default, not the model's
    self.assertAlmostEqual(float(ours['training/Adam/learning_rate']), 0.01)
    self.assertAlmostEqual(float(ours['training/Adam/beta_1']), 0.8, places=6)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_ftrl_l1_and_learning_rate_kept(self, path):
    model_dir = _train_v1(
        self,
        'LinearClassifier',
        feature_columns=canned_harness.dense_columns(),
        n_classes=canned_harness.N_CLASSES,
        optimizer=_V1.FtrlOptimizer(
            0.1, l1_regularization_strength=0.5, l2_regularization_strength=0.25
        ),
    )
    upstream, ours = _upstream(self, 'linear', model_dir), _ours(
        self, model_dir, path
    )
    self.assertEqual(
        float(upstream['training/Ftrl/l1_regularization_strength']), 0.0
    )
    self.assertAlmostEqual(float(ours['training/Ftrl/learning_rate']), 0.1)
    self.assertEqual(
        float(ours['training/Ftrl/l1_regularization_strength']), 0.5
    )
    self.assertEqual(
        float(ours['training/Ftrl/l2_regularization_strength']), 0.25
    )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_adam_betas_never_from_the_powers(self, path):
    # Upstream computes beta_1 = beta1_power ** (1 / step): inexact early,
    # 0 once 0.9^t underflows float32 (t ~ 829).
    model_dir = _train_v1(
        self, 'DNNClassifier', steps=2, **_dnn(_V1.AdamOptimizer(0.01))
    )
    upstream, ours = _upstream(self, 'dnn', model_dir), _ours(
        self, model_dir, path
    )
    self.assertGreater(abs(float(upstream['training/Adam/beta_1']) - 0.9), 0.01)
    self.assertAlmostEqual(float(ours['training/Adam/beta_1']), 0.9, places=6)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_feature_named_like_an_optimizer(self, path):
    columns = [tf.feature_column.numeric_column('x', shape=[3])]
    model_dir = _train_v1(
        self,
        'LinearClassifier',
        feature_columns=columns,
        n_classes=canned_harness.N_CLASSES,
        optimizer=_V1.AdamOptimizer(0.01),
    )
    # Rename x to Adam_clicks in a copy: the names are what matters.
    renamed = self.create_tempdir().full_path
    reader = tf.train.load_checkpoint(model_dir)
    with tf.Graph().as_default():
      variables = []
      for name in reader.get_variable_to_shape_map():
        new = name.replace('/x/', '/Adam_clicks/')
        variables.append(tf.Variable(reader.get_tensor(name), name=new))
      saver = tf.compat.v1.train.Saver({v.op.name: v for v in variables})
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        saver.save(session, os.path.join(renamed, 'model.ckpt'))
    ours = convert.convert_optimizer_checkpoint(
        os.path.join(renamed, 'model.ckpt'),
        os.path.join(self.create_tempdir().full_path, 'model.ckpt'),
        optimizers={'linear': _V1.AdamOptimizer(0.01)},
        path=path,
    )
    names = dict(ours.mapping)
    self.assertIn('linear/linear_model/Adam_clicks/weights', names)
    self.assertIn(
        'training/Adam/linear/linear_model/Adam_clicks/weights/m', names
    )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_momentum_slot_kept_and_scaled(self, path):
    model_dir = _train_v1(
        self, 'DNNClassifier', **_dnn(_V1.MomentumOptimizer(0.1, 0.9))
    )
    upstream, ours = _upstream(self, 'dnn', model_dir), _ours(
        self, model_dir, path
    )
    self.assertEqual(float(upstream['training/SGD/momentum']), 0.0)
    self.assertNotIn('training/SGD/dnn/logits/kernel/momentum', upstream)
    self.assertAlmostEqual(float(ours['training/SGD/momentum']), 0.9)
    source = tf.train.load_checkpoint(model_dir).get_tensor(
        'dnn/logits/kernel/t_0/Momentum'
    )
    np.testing.assert_allclose(
        ours['training/SGD/dnn/logits/kernel/momentum'],
        -0.1 * source,
        rtol=1e-6,
    )

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_partitioned_variables(self, path):
    kwargs = _dnn(_V1.AdagradOptimizer(0.1))
    kwargs.update(
        feature_columns=canned_harness.embedding_columns(),
        input_layer_partitioner=tf.compat.v1.min_max_variable_partitioner(
            max_partitions=2, min_slice_size=16
        ),
    )
    model_dir = _train_v1(self, 'DNNClassifier', **kwargs)
    with self.assertRaisesRegex(ValueError, 'sufficient slices'):
      _upstream(self, 'dnn', model_dir)
    name = (
        'training/Adagrad/dnn/input_from_feature_columns/input_layer/'
        'cat_embedding/embedding_weights/accumulator'
    )
    self.assertEqual(_ours(self, model_dir, path)[name].shape, (4, 2))

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_combined_with_the_same_optimizer_twice(self, path):
    model_dir = _train_v1(
        self,
        'DNNLinearCombinedClassifier',
        dnn_hidden_units=[2],
        dnn_feature_columns=canned_harness.dense_columns(),
        linear_feature_columns=canned_harness.sparse_columns(),
        n_classes=canned_harness.N_CLASSES,
        dnn_optimizer=_V1.AdagradOptimizer(0.05),
        linear_optimizer=_V1.AdagradOptimizer(0.1),
    )
    upstream, ours = (
        _upstream(self, 'combined', model_dir),
        _ours(self, model_dir, path),
    )
    self.assertFalse(any(n.startswith('training/Adagrad_1/') for n in upstream))
    self.assertAlmostEqual(float(ours['training/Adagrad/learning_rate']), 0.05)
    self.assertAlmostEqual(float(ours['training/Adagrad_1/learning_rate']), 0.1)
    self.assertEqual(int(ours['training/Adagrad_1/iter']), 2)

  @parameterized.named_parameters(*conversion_paths.PATHS)
  def test_no_graph_pbtxt_needed(self, path):
    model_dir = _train_v1(
        self, 'DNNClassifier', **_dnn(_V1.AdamOptimizer(0.01))
    )
    os.remove(os.path.join(model_dir, 'graph.pbtxt'))
    self.assertAlmostEqual(
        float(_ours(self, model_dir, path)['training/Adam/learning_rate']), 0.01
    )


if __name__ == '__main__':
  absltest.main()
