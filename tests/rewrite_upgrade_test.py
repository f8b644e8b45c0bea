"""The rewrite with TensorFlow's upgrader folded in, and tf_upgrade_v2's forms.

One pass: TensorFlow's own upgrader (its rename tables, less its canned
rules) and the toolkit's tables; one report. tf_upgrade_v2's output forms
are finished as the v1 call they were; the other order (rewrite, then
tf_upgrade_v2) fails loudly and a second rewrite repairs it.
"""

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2

from estimator_migrate.rewrite import transformer
from estimator_migrate.rewrite import upgrader

_TF1 = """\
import tensorflow as tf


def build(model_dir, cols):
  tf.logging.set_verbosity(tf.logging.INFO)
  if not tf.gfile.Exists(model_dir):
    tf.gfile.MakeDirs(model_dir)
  config = tf.estimator.RunConfig(
      session_config=tf.ConfigProto(intra_op_parallelism_threads=1)
  )
  est = tf.estimator.DNNRegressor(
      hidden_units=[4],
      feature_columns=cols,
      optimizer=tf.train.AdagradOptimizer(0.1),
      config=config,
  )
  hook = tf.train.LoggingTensorHook(['global_step'], every_n_iter=10)
  return est, hook


def export(est, fn):
  est.export_savedmodel('out', fn, strip_default_attrs=True)
"""


def _tf_upgrade_v2(source: str) -> str:
  """The real tf_upgrade_v2 (its engine, every rule) on `source`."""
  engine = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
  _, text, _, _ = engine.update_string_pasta(source, 'x.py')
  return text


def _rewrite(source: str, **options) -> tuple[str, tuple]:
  return transformer.rewrite_source(
      source, 'x.py', transformer.Options(**options)
  )


class OnePassTest(absltest.TestCase):

  def test_everything_else_upgraded_with_tensorflows_tables(self):
    new, edits = _rewrite(_TF1)
    for v1_only in (
        'tf.logging.',
        'tf.gfile.',
        'tf.ConfigProto',
        'tf.train.',
        'export_savedmodel',
    ):
      self.assertNotIn(v1_only, new)
    self.assertIn('tf.compat.v1.ConfigProto(', new)
    self.assertIn('tf.io.gfile.exists(model_dir)', new)
    self.assertIn('tf.estimator.LoggingTensorHook(', new)
    self.assertIn("est.export_saved_model('out', fn)", new)
    rows = {(e.argument, e.before) for e in edits}
    self.assertIn(('tf_upgrade_v2', 'tf.ConfigProto'), rows)
    self.assertIn(('tf_upgrade_v2', 'tf.gfile.Exists'), rows)
    self.assertIn(
        ('optimizer', 'tf.compat.v1.train.AdagradOptimizer(0.1)'), rows
    )
    # The toolkit's row supersedes the upgrader's about the same optimizer.
    self.assertNotIn(('tf_upgrade_v2', 'tf.train.AdagradOptimizer'), rows)
    self.assertEqual([e for e in edits if not e.applied], [])
    # The upgrader's rules for canned estimators are out of its pass.
    self.assertNotIn('tf.compat.v1.estimator', new)
    compile(new, 'x.py', 'exec')
    self.assertEqual(_rewrite(new)[0], new)

  def test_upgrade_option_off_leaves_the_rest(self):
    new, edits = _rewrite(_TF1, upgrade=False)
    self.assertIn('tf.ConfigProto(', new)
    self.assertNotIn('tf_upgrade_v2', {e.argument for e in edits})

  def test_upgrader_alone_keeps_canned_constructions_as_written(self):
    upgraded = upgrader.upgrade(_TF1, 'x.py')
    self.assertIn('tf.estimator.DNNRegressor(', upgraded.text)
    self.assertNotIn('loss_reduction', upgraded.text)
    self.assertTrue(all(n.line > 0 for n in upgraded.notes))

  def test_compat_v1_import_left_and_said(self):
    source = 'import tensorflow.compat.v1 as tf\nx = tf.ConfigProto()\n'
    new, edits = _rewrite(source)
    self.assertEqual(new, source)
    self.assertEqual(len(edits), 1)
    self.assertFalse(edits[0].applied)
    self.assertIn(upgrader.NOT_UPGRADING, edits[0].why)

  def test_export_savedmodel_keeping_default_attributes_is_left(self):
    source = (
        'def f(est, fn):\n'
        '  est.export_savedmodel("d", fn, strip_default_attrs=False)\n'
    )
    new, edits = _rewrite(source)
    self.assertEqual(new, source)
    self.assertEqual(
        [(e.argument, e.applied) for e in edits], [('export_savedmodel', False)]
    )


class TfUpgradeV2FormsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('optimizer_given', 'optimizer=tf.train.AdagradOptimizer(0.1)'),
      ('default_optimizer', ''),
      ('string_optimizer', "optimizer='Adagrad'"),
  )
  def test_its_output_rewrites_to_the_rewrite_of_the_original(self, optimizer):
    source = (
        'import tensorflow as tf\n'
        'est = tf.estimator.DNNRegressor(\n'
        f'    hidden_units=[4], feature_columns=[], {optimizer}\n'
        ')\n'
    )
    upgraded = _tf_upgrade_v2(source)
    self.assertIn('loss_reduction=tf.keras.losses.Reduction.SUM', upgraded)
    direct, _ = _rewrite(source)
    after, edits = _rewrite(upgraded)
    self.assertEqual(after, direct)
    self.assertIn('epsilon=1e-30', after)  # v1's Adagrad, not Keras' 1e-7
    (reduction,) = [e for e in edits if e.argument == 'loss_reduction']
    self.assertIn('tf_upgrade_v2', reduction.why)

  def test_other_keras_reductions_still_mark_v2_code(self):
    source = (
        'import tensorflow as tf\n'
        'est = tf.estimator.DNNRegressor(hidden_units=[4], feature_columns=[],'
        ' loss_reduction=tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE)\n'
    )
    self.assertEqual(_rewrite(source)[0], source)

  def test_the_other_order_fails_loudly_and_a_second_rewrite_repairs(self):
    rewritten, _ = _rewrite(_TF1)
    after = _tf_upgrade_v2(rewritten)
    self.assertIn('tf.compat.v1.estimator.DNNRegressor(', after)
    namespace = {}
    exec(compile(after, 'x.py', 'exec'), namespace)  # noqa: S102
    with self.assertRaisesRegex(ValueError, 'Invalid loss_reduction'):
      namespace['build'](
          self.create_tempdir().full_path,
          [tf.feature_column.numeric_column('x')],
      )
    self.assertEqual(_rewrite(after)[0], rewritten)


class ContribHeadsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (
          'regression_default',
          'regression_head(label_dimension=2)',
          'tf.estimator.RegressionHead(label_dimension=2,'
          ' loss_reduction=tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE)',
      ),
      (
          'multi_class_positional_sum',
          'multi_class_head(3, loss_reduction=tf.losses.Reduction.SUM)',
          'tf.estimator.MultiClassHead(n_classes=3,'
          ' loss_reduction=tf.keras.losses.Reduction.SUM)',
      ),
      (
          'binary',
          "binary_classification_head(weight_column='w')",
          "tf.estimator.BinaryClassHead(weight_column='w',"
          ' loss_reduction=tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE)',
      ),
  )
  def test_contrib_head_becomes_its_v2_head(self, call, expected):
    source = (
        'import tensorflow as tf\n'
        'def build(cols):\n'
        f'  return tf.estimator.DNNEstimator(head=tf.contrib.estimator.{call},'
        ' hidden_units=[4], feature_columns=cols)\n'
    )
    new, edits = _rewrite(source)
    self.assertNotIn('contrib', new)
    (head,) = [e for e in edits if e.argument == 'head']
    self.assertEqual(' '.join(head.after.split()), expected)
    self.assertTrue(head.exact)
    self.assertEqual([e for e in edits if not e.applied], [])
    namespace = {}
    exec(compile(new, 'x.py', 'exec'), namespace)  # noqa: S102
    namespace['build']([tf.feature_column.numeric_column('x')])

  def test_reduction_dividing_by_weights_is_left(self):
    source = (
        'import tensorflow as tf\n'
        "h = tf.contrib.estimator.regression_head(weight_column='w',"
        ' loss_reduction=tf.losses.Reduction.MEAN)\n'
        'e = tf.estimator.DNNEstimator(head=h, hidden_units=[4],'
        ' feature_columns=[])\n'
    )
    new, edits = _rewrite(source)
    self.assertIn('tf.contrib.estimator.regression_head', new)
    left = [e for e in edits if not e.applied and e.argument == 'DNNEstimator']
    self.assertLen(left, 1)
    self.assertIn('sum of weights', left[0].why)


class KerasExitTest(absltest.TestCase):

  def test_runtime_translation_says_there_is_no_exit(self):
    source = (
        'import tensorflow as tf\n'
        'def build(opt, cols):\n'
        '  return tf.estimator.DNNClassifier([4], cols, optimizer=opt)\n'
    )
    _, edits = _rewrite(source, runtime_translate=True, to_keras=True)
    (exit_row,) = [e for e in edits if e.argument == 'to_keras']
    self.assertFalse(exit_row.applied)
    self.assertIn('translated at run time', exit_row.why)
    self.assertIn('estimator-migrate-export', exit_row.why)

  def test_combined_with_columns_from_a_function_gets_its_exit(self):
    source = (
        'import tensorflow as tf\n'
        'from trainer import columns\n'
        'def build(model_dir):\n'
        '  wide, deep = columns.build()\n'
        '  return tf.estimator.DNNLinearCombinedClassifier(\n'
        '      model_dir=model_dir, linear_feature_columns=wide,\n'
        '      dnn_feature_columns=deep, dnn_hidden_units=[4])\n'
    )
    new, edits = _rewrite(source, to_keras=True)
    self.assertEqual([e for e in edits if not e.applied], [])
    self.assertIn('estimator.to_keras = functools.partial(', new)
    self.assertEqual(new.count('min(0.005, 1 / math.sqrt(len(wide)))'), 2)


if __name__ == '__main__':
  absltest.main()
