"""Golden tests: every corpus file rewrites to its expected output, once.

`tests/rewrite_corpus/before/` holds v1 files; `after/` the expected default
rewrite, `after_exact/` with exact=True, `after_runtime/` with
runtime_translate=True, `after_to_keras/` with to_keras=True. A second rewrite of the output changes nothing.
"""

import inspect
import math
import os

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf
from tensorflow_estimator.python.estimator.canned import (
    dnn_linear_combined as combined_v1,
)
from tensorflow_estimator.python.estimator.canned import linear as linear_v1

from estimator_migrate import errors
from estimator_migrate.rewrite import files
from estimator_migrate.rewrite import transformer
from estimator_migrate.tables import optimizers

CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
_VARIANTS = {
    'after': transformer.Options(),
    'after_exact': transformer.Options(exact=True),
    'after_runtime': transformer.Options(runtime_translate=True),
    'after_to_keras': transformer.Options(to_keras=True),
}


def _read(*parts: str) -> str:
  with open(os.path.join(CORPUS, *parts)) as f:
    return f.read()


def _cases():
  for variant in sorted(_VARIANTS):
    for name in sorted(os.listdir(os.path.join(CORPUS, variant))):
      yield f'{variant}_{name[:-3]}', variant, name


class GoldenTest(parameterized.TestCase):

  @parameterized.named_parameters(_cases())
  def test_rewrites_to_expected_and_is_idempotent(self, variant, name):
    options = _VARIANTS[variant]
    new, edits = transformer.rewrite_source(
        _read('before', name), name, options
    )
    self.assertEqual(new, _read(variant, name))
    compile(new, name, 'exec')
    again, second = transformer.rewrite_source(new, name, options)
    self.assertEqual(again, new)
    self.assertEqual([e for e in second if e.applied], [])
    for edit in edits:
      self.assertGreater(edit.line, 0)
      self.assertTrue(edit.why)

  def test_every_corpus_file_has_its_default_golden(self):
    self.assertEqual(
        sorted(os.listdir(os.path.join(CORPUS, 'before'))),
        sorted(os.listdir(os.path.join(CORPUS, 'after'))),
    )


class FilesTest(absltest.TestCase):

  def test_writes_nothing_without_in_place(self):
    tree = self.create_tempdir()
    source = _read('before', 'baseline.py')
    path = tree.create_file('pkg/model.py', source).full_path
    result = files.rewrite_paths([tree.full_path])
    self.assertEqual(result.files[0].new, _read('after', 'baseline.py'))
    with open(path) as f:
      self.assertEqual(f.read(), source)
    self.assertIn('+++ b/', files.diff(result))

  def test_bad_paths_name_the_path(self):
    tree = self.create_tempdir()
    text = tree.create_file('notes.txt', 'x').full_path
    for path in (text, os.path.join(tree.full_path, 'missing.py')):
      with self.assertRaisesRegex(errors.TranslationError, path):
        files.python_files([path])

  def test_rewrites_tf_upgrade_v2_output_as_the_original(self):
    # tf_upgrade_v2's output (compat.v1 class + Keras SUM, which v1 rejects)
    # becomes what the original would have: only the docstrings differ.
    upgraded = _read('after', 'after_tf_upgrade_v2.py').splitlines()
    original = _read('after', 'dnn_classifier_partitioned.py').splitlines()
    self.assertEqual(upgraded[1:], original[1:])


class EditsTest(parameterized.TestCase):

  def _edits(self, name, **options):
    return transformer.rewrite_source(
        _read('before', name), name, transformer.Options(**options)
    )[1]

  def test_report_names_line_before_after_and_why(self):
    edits = self._edits('dnn_classifier_partitioned.py')
    by_argument = {e.argument: e for e in edits}
    optimizer = by_argument['optimizer']
    self.assertEqual(optimizer.line, 16)
    self.assertIn(
        'AdamOptimizer(learning_rate=0.01, epsilon=1e-6)', optimizer.before
    )
    self.assertIn('epsilon=1e-06', optimizer.after)
    self.assertTrue(optimizer.exact)
    partitioner = by_argument['input_layer_partitioner']
    self.assertEqual((partitioner.line, partitioner.after), (17, '(removed)'))
    self.assertIn('ParameterServerStrategy', partitioner.why)
    self.assertIn('SUM', by_argument['loss_reduction'].after)

  def test_values_not_in_the_source_are_left_and_reported(self):
    edits = self._edits('params_kwargs.py')
    self.assertEqual(
        [(e.line, e.applied) for e in edits], [(7, False), (10, False)]
    )
    self.assertIn('--runtime_translate', edits[0].why)
    self.assertIn('`optimizer`', edits[1].why)

  def test_optimizer_variable_used_elsewhere_is_left(self):
    source = (
        'import tensorflow.compat.v1 as tf\n'
        'opt = tf.train.AdamOptimizer(0.01)\n'
        'est = tf.estimator.DNNClassifier([4], cols, optimizer=opt)\n'
        "custom = tf.estimator.Estimator(model_fn, params={'opt': opt})\n"
    )
    new, edits = transformer.rewrite_source(source)
    self.assertEqual(new, source)
    edits = [e for e in edits if e.argument != 'tf_upgrade_v2']
    self.assertEqual([(e.line, e.applied) for e in edits], [(3, False)])
    self.assertIn('also used outside', edits[0].why)

  def test_learning_rate_capped_by_uncounted_columns_is_written_as_code(self):
    # v1's linear learning rate is min(0.005, 1/sqrt(len(columns))), and
    # `columns` is a parameter: the rewrite writes that expression.
    edits = self._edits('estimator_heads.py')
    self.assertEqual([e for e in edits if not e.applied], [])
    (linear,) = [e for e in edits if e.argument == 'linear_optimizer']
    self.assertIn(
        'learning_rate=min(0.005, 1 / math.sqrt(len(columns)))', linear.after
    )
    self.assertTrue(linear.exact)

  @parameterized.named_parameters(
      ('linear_none', 'LinearRegressor(cols, optimizer=None)', 'optimizer'),
      (
          'combined_default',
          'DNNLinearCombinedClassifier(linear_feature_columns=cols,'
          ' dnn_feature_columns=cols, dnn_hidden_units=[4])',
          'linear_optimizer',
      ),
  )
  def test_capped_learning_rate_expression_is_v1s_value(self, call, argument):
    source = f'import tensorflow as tf\ndef build(cols):\n  return tf.estimator.{call}\n'
    new, edits = transformer.rewrite_source(source)
    self.assertIn('import math\n', new)
    (edit,) = [e for e in edits if e.argument == argument]
    for count in (1, 9, 300):
      cols = [tf.feature_column.numeric_column(f'c{i}') for i in range(count)]
      factory = eval(edit.after, {'tf': tf, 'math': math, 'cols': cols})  # noqa: S307
      got = factory().get_config()['learning_rate']
      if argument == 'optimizer':
        want = linear_v1._get_default_optimizer(cols)._learning_rate
      else:
        want = combined_v1._linear_learning_rate(len(cols))
      self.assertEqual(got, want, count)

  def test_columns_that_cannot_be_counted_in_code_are_left(self):
    source = (
        'import tensorflow as tf\n'
        'def build(cols):\n'
        '  return tf.estimator.DNNLinearCombinedClassifier(\n'
        '      linear_feature_columns=(c for c in cols),\n'
        '      dnn_feature_columns=cols, dnn_hidden_units=[4])\n'
    )
    new, edits = transformer.rewrite_source(source)
    self.assertEqual(new, source)
    left = [e for e in edits if not e.applied]
    self.assertLen(left, 1)
    self.assertIn('number of feature columns', left[0].why)

  def test_runtime_translation_is_reported_not_exact(self):
    edits = self._edits('params_kwargs.py', runtime_translate=True)
    self.assertTrue(all(e.applied and not e.exact for e in edits))

  def test_unsupported_optimizer_left_with_the_tables_reason(self):
    edits = self._edits('flags_and_unsupported.py')
    left = [e for e in edits if not e.applied]
    self.assertLen(left, 1)
    self.assertIn(
        optimizers.UNSUPPORTED['ProximalAdagradOptimizer'], left[0].why
    )

  def test_learning_rate_from_flags_is_carried_and_not_exact(self):
    edits = self._edits('flags_and_unsupported.py')
    optimizer = [e for e in edits if e.argument == 'optimizer' and e.applied]
    self.assertLen(optimizer, 1)
    self.assertFalse(optimizer[0].exact)
    self.assertIn('learning_rate=FLAGS.learning_rate', optimizer[0].after)
    self.assertIn('l1_regularization_strength=FLAGS.l1', optimizer[0].after)

  def test_rmsprop_not_exact_unless_asked(self):
    plain = {e.argument: e for e in self._edits('rmsprop_exact.py')}
    exact = {e.argument: e for e in self._edits('rmsprop_exact.py', exact=True)}
    self.assertFalse(plain['optimizer'].exact)
    self.assertTrue(exact['optimizer'].exact)

  def test_invalid_python_names_the_file(self):
    with self.assertRaisesRegex(errors.TranslationError, r'broken\.py'):
      transformer.rewrite_source('def (:\n', 'broken.py')

  @parameterized.named_parameters(
      (
          'tf_estimator_v2_args',
          'import tensorflow as tf\nx = tf.estimator.DNNClassifier([4], c, optimizer=tf.keras.optimizers.legacy.Adam())\n',
      ),
      ('no_estimator', 'import tensorflow as tf\nx = tf.keras.Sequential()\n'),
      ('shadowed_name', 'DNNClassifier = object\nx = DNNClassifier()\n'),
  )
  def test_leaves_other_code_alone(self, source):
    self.assertEqual(transformer.rewrite_source(source), (source, ()))

  def test_to_keras_adds_exits_and_reports_the_rest(self):
    edits = [
        e
        for e in self._edits('to_keras_forms.py', to_keras=True) + self._edits(
            'baseline.py', to_keras=True
        )
        if e.argument == 'to_keras'
    ]
    self.assertEqual(
        [(e.line, e.applied) for e in edits],
        [(9, True), (20, True), (36, False), (7, True), (12, True)],
    )
    self.assertIn('became a name, the exit and a return', edits[1].why)
    self.assertIn('neither bound to a name', edits[2].why)
    self.assertIn(
        'estimator-migrate-export --estimator=LinearRegressor', edits[2].why
    )

  def test_to_keras_reports_a_family_the_exporter_does_not_take(self):
    source = (
        'import tensorflow as tf\n'
        'def build(cols):\n'
        '  head = tf.contrib.estimator.multi_class_head(3)\n'
        '  est = tf.estimator.DNNEstimator(head=head, hidden_units=[4],'
        ' feature_columns=cols)\n'
        '  return est\n'
    )
    new, edits = transformer.rewrite_source(
        source, 'x.py', transformer.Options(to_keras=True)
    )
    (exit_edit,) = [e for e in edits if e.argument == 'to_keras']
    self.assertFalse(exit_edit.applied)
    self.assertIn('DNNEstimator is not exported', exit_edit.why)
    self.assertNotIn('est.to_keras', new)

  def test_to_keras_picks_a_free_name_for_a_returned_estimator(self):
    source = (
        'import tensorflow as tf\n'
        'def build(estimator, cols):\n'
        '  return tf.estimator.LinearRegressor(cols)\n'
    )
    new, _ = transformer.rewrite_source(
        source, 'x.py', transformer.Options(to_keras=True)
    )
    self.assertIn('  estimator_ = tf.estimator.LinearRegressor(', new)
    self.assertIn('model_dir=estimator_.model_dir,', new)
    self.assertIn('  return estimator_\n', new)

  def test_every_hyperparameter_maps_to_a_v1_constructor_argument(self):
    for row in optimizers.OPTIMIZERS.values():
      parameters = inspect.signature(
          getattr(tf.compat.v1.train, row.v1_class).__init__
      ).parameters
      for hyper in row.hypers:
        if hyper.v1_argument:
          self.assertIn(hyper.v1_argument, parameters, row.v1_class)


if __name__ == '__main__':
  absltest.main()
