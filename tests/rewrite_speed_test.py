"""A whole-tree rewrite: the prefilter is safe, and jobs change nothing.

The prefilter lets a file skip libcst only when the full rewrite would leave
it unchanged: checked here on real files it filters out (installed packages)
against the toolkit's transform and TensorFlow's own upgrader engine. The
upgrader's run without pasta (`upgrader.unchanged_notes`) gives what its
full run gives, and a module skips the toolkit's libcst pass only when that
pass would change nothing. Worker processes give byte-identical files and
reports to one process.
"""

import ast
from concurrent import futures
import glob
import os
import shutil
import stat
import subprocess
import sys
import time
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
from pasta.base import annotate
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2

from estimator_migrate.rewrite import files
from estimator_migrate.rewrite import prefilter
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import transformer
from estimator_migrate.rewrite import upgrader as upgrader_lib

CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SITE = os.path.dirname(os.path.dirname(tf.__file__))
# Trees of real code with files the prefilter drops: TensorFlow-free
# libraries, and tensorflow_estimator's own package (its __init__ files).
_SAMPLE_TREES = ('absl', 'tensorflow_estimator/python/estimator')
_SAMPLE_SIZE = 12
_SLOW_SECONDS = 1.5
# Real TF 1.x modules the upgrader warns about, changes, or leaves alone.
_UPGRADER_SAMPLE = (
    'tensorflow_estimator/python/estimator/canned/v1/dnn_testing_utils_v1.py',
    'tensorflow_estimator/python/estimator/canned/dnn.py',
    'tensorflow_estimator/python/estimator/estimator.py',
    'tensorflow_estimator/python/estimator/keras_lib.py',
    'tensorflow_estimator/python/estimator/model_fn.py',
    'tensorflow_estimator/python/estimator/run_config.py',
    'tensorflow_estimator/python/estimator/head/base_head.py',
)


def _read(path: str) -> str:
  with open(path, encoding='utf-8') as f:
    return f.read()


def _filtered_out_sample() -> list[str]:
  found = []
  for tree in _SAMPLE_TREES:
    for path in sorted(
        glob.glob(os.path.join(_SITE, tree, '**', '*.py'), recursive=True)
    ):
      if not prefilter.may_change(_read(path)):
        found.append(path)
  # Every other one, up to the sample size: spread over both trees.
  step = max(1, len(found) // _SAMPLE_SIZE)
  return found[::step][:_SAMPLE_SIZE]


def _tree_bytes(root: str) -> dict[str, bytes]:
  out = {}
  for path in sorted(glob.glob(os.path.join(root, '**'), recursive=True)):
    if os.path.isfile(path):
      with open(path, 'rb') as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


class PrefilterTest(parameterized.TestCase):

  def test_filtered_out_files_are_left_unchanged_by_the_full_rewrite(self):
    sample = _filtered_out_sample()
    self.assertGreaterEqual(len(sample), _SAMPLE_SIZE // 2)
    upgrader = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
    for path in sample:
      with self.subTest(path=os.path.relpath(path, _SITE)):
        text = _read(path)
        for options in (
            transformer.Options(),
            transformer.Options(to_keras=True, runtime_translate=True),
        ):
          self.assertEqual(
              transformer.rewrite_source(text, path, options), (text, ())
          )
        try:
          _, new, logs, errors = upgrader.update_string_pasta(text, path)
        except annotate.AnnotationError:
          continue  # pasta predates `match`: the upgrader cannot read it
        self.assertEqual((new, logs, errors), (text, [], []))

  def test_names_cover_every_key_of_the_upgrader_tables(self):
    names = prefilter.names()
    spec = tf_upgrade_v2.TFAPIChangeSpec(import_rename=True)
    keys = [
        key
        for table in vars(spec).values()
        if isinstance(table, (dict, set))
        for key in table
        if isinstance(key, str)
    ]
    self.assertGreater(len(keys), 1000)
    for key in keys:
      head, _, rest = key.partition('.')
      self.assertIn(rest.split('.')[-1] if head == '*' else head, names)
    self.assertIn('tensorflow', names)

  def test_a_catch_all_key_turns_the_filter_off(self):
    self.assertIsNone(prefilter.spec_names([{'tf.a': 1}, {'*': 2}]))
    self.assertEqual(
        prefilter.spec_names([{'tf.a.b': 1, '*.save': 2}, {'x'}, 3]),
        frozenset({'tf', 'save', 'x'}),
    )

  @parameterized.named_parameters(
      ('import', 'import tensorflow as tf\n'),
      ('from_estimator', 'from tensorflow_estimator import estimator\n'),
      ('tf_unimported', 'def f(tf):\n  return tf.ConfigProto()\n'),
      ('tf_spaced', 'x = tf .gfile\n'),
      ('tf_continued', 'x = (tf\n     .logging)\n'),
      ('any_method_glob', 'it = dataset.make_one_shot_iterator()\n'),
      ('save_warning', 'model.save(path)\n'),
      ('slim', 'r = slim.l2_regularizer(0.1)\n'),
      ('nfkc_identifier', 'x = \uff54f.gfile.Open\n'),
      ('invalid_python', 'def broken(:\n'),
  )
  def test_may_change(self, text):
    self.assertTrue(prefilter.may_change(text))

  @parameterized.named_parameters(
      ('plain', 'import os\nprint(os.sep)\n'),
      ('utf', '# -*- coding: utf-8 -*-\nstuff = "utf-8"\n'),
      ('longer_words', 'tfx_model = tensorflowish = my_estimator_x = 1\n'),
      ('non_ascii_comment', '# caf\u00e9\nx = 1\n'),
  )
  def test_cannot_change(self, text):
    self.assertFalse(prefilter.may_change(text))
    self.assertEqual(transformer.rewrite_source(text), (text, ()))


def _full_upgrade(text: str, path: str) -> upgrader_lib.Upgrade:
  return upgrader_lib.upgrade(text, path, check_unchanged=False)


class UpgraderWithoutPastaTest(parameterized.TestCase):

  def test_real_modules_kept_with_the_full_runs_notes(self):
    corpus = sorted(glob.glob(os.path.join(CORPUS, 'before', '*.py')))
    kept = 0
    for path in [os.path.join(_SITE, p) for p in _UPGRADER_SAMPLE] + corpus:
      with self.subTest(path=os.path.basename(path)):
        text = _read(path)
        notes = upgrader_lib.unchanged_notes(ast.parse(text), path)
        full = _full_upgrade(text, path)
        if notes is None:
          self.assertNotEqual(full.text, text)
          continue
        kept += 1
        self.assertEqual((text, notes), (full.text, full.notes))
    self.assertGreaterEqual(kept, 3)

  def test_follows_this_tensorflows_visitor(self):
    # Else its own visit_Attribute is used (slower, the same notes).
    self.assertTrue(upgrader_lib._follows_visit_attribute())

  def test_the_same_with_tensorflows_own_visit_attribute(self):
    path = os.path.join(_SITE, _UPGRADER_SAMPLE[0])
    text = _read(path)
    follows = upgrader_lib.unchanged_notes(ast.parse(text), path)
    with mock.patch.object(
        upgrader_lib, '_follows_visit_attribute', return_value=False
    ):
      own = upgrader_lib.unchanged_notes(ast.parse(text), path)
      deprecated = 'import tensorflow as tf\nf = tf.contrib.foo\n'
      self.assertIsNone(
          upgrader_lib.unchanged_notes(ast.parse(deprecated), 'x')
      )
    self.assertEqual(own, follows)
    self.assertTrue(own)

  @parameterized.named_parameters(
      ('nothing', 'import tensorflow as tf\nx = tf.constant(1)\n', 0),
      ('save_warning', 'import tensorflow as tf\nmodel.save(p)\n', 1),
      (
          'compat_v1_import',
          'import tensorflow.compat.v1 as tf\nx = tf.Session()\n',
          1,
      ),
      ('names_only', 'def f(tf):\n  return tf\n', 0),
  )
  def test_kept(self, text, count):
    notes = upgrader_lib.unchanged_notes(ast.parse(text), 'x.py')
    self.assertLen(notes, count)
    self.assertEqual(
        _full_upgrade(text, 'x.py'), upgrader_lib.Upgrade(text, notes)
    )
    self.assertEqual(
        upgrader_lib.upgrade(text, 'x.py'), _full_upgrade(text, 'x.py')
    )

  @parameterized.named_parameters(
      ('rename', 'import tensorflow as tf\nc = tf.ConfigProto()\n'),
      ('transformer', 'import tensorflow as tf\ny = tf.nn.dropout(x, 0.5)\n'),
      ('method', 'it = dataset.make_one_shot_iterator()\n'),
      # Its log line prints the source with pasta: left to the full run.
      ('deprecated_module', 'import tensorflow as tf\nf = tf.contrib.foo\n'),
  )
  def test_left_to_the_full_run(self, text):
    self.assertIsNone(upgrader_lib.unchanged_notes(ast.parse(text), 'x.py'))
    self.assertEqual(
        upgrader_lib.upgrade(text, 'x.py'), _full_upgrade(text, 'x.py')
    )


class MayActTest(parameterized.TestCase):
  """A module skips libcst only when the toolkit's pass changes nothing."""

  def _check(self, text: str, acts: bool) -> None:
    self.assertEqual(transformer._may_act(ast.parse(text)), acts)
    with mock.patch.object(transformer, '_may_act', return_value=True):
      full = transformer.rewrite_source(text, 'x.py')
    self.assertEqual(transformer.rewrite_source(text, 'x.py'), full)
    if not acts:
      self.assertEqual(full[0], text)

  @parameterized.named_parameters(
      (
          'tensorflow_estimator_module',
          'from tensorflow_estimator.python.estimator.canned import linear\n'
          'est = linear.LinearClassifier(feature_columns=[])\n',
      ),
      ('not_imported', 'est = DNNClassifier(hidden_units=[1])\n'),
      (
          'relative',
          'from . import estimator\nest = estimator.DNNClassifier([1], [])\n',
      ),
      (
          'not_called',
          'import tensorflow as tf\nc = tf.estimator.DNNClassifier\n',
      ),
  )
  def test_left_alone(self, text):
    self._check(text, False)

  @parameterized.named_parameters(
      (
          'tf',
          'import tensorflow as tf\n'
          'est = tf.estimator.DNNClassifier(hidden_units=[1],'
          ' feature_columns=[])\n',
      ),
      (
          'compat_v1',
          'import tensorflow.compat.v1 as tf\n'
          'est = tf.estimator.LinearRegressor(feature_columns=[])\n',
      ),
      (
          'from_alias',
          'from tensorflow.estimator import DNNRegressor as R\n'
          'est = R(hidden_units=[1], feature_columns=[])\n',
      ),
      (
          'imported_in_a_function',
          'def f():\n  import tensorflow as tf\n'
          '  return tf.estimator.LinearClassifier(feature_columns=[])\n',
      ),
      ('export', 'est.export_savedmodel(d, fn)\n'),
      ('no_root_name', 'est = make().DNNClassifier(hidden_units=[1])\n'),
  )
  def test_acted_on(self, text):
    self._check(text, True)


class JobsTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    # The corpus is small: use workers anyway, and slow this process down
    # so that the worker, once started, gets files (it runs the real one).
    self.enter_context(mock.patch.object(files, '_PARALLEL_MIN_BYTES', 0))
    self.enter_context(mock.patch.object(files, '_WORKER_START_CPU_SECONDS', 0))
    real = self.real = transformer.rewrite_source
    self.here = 0

    def slow(*args, **kwargs):
      self.here += 1
      time.sleep(_SLOW_SECONDS)
      return real(*args, **kwargs)

    self.enter_context(
        mock.patch.object(transformer, 'rewrite_source', side_effect=slow)
    )

  def _rewrite(
      self, tree: str, transformed: int, **kwargs
  ) -> report.RewriteReport:
    """A rewrite with jobs=2, checked to have used the worker.

    `transformed` files go through the transform; the rest are filtered.
    """
    self.here = 0
    result = files.rewrite_paths([tree], jobs=2, **kwargs)
    self.assertLess(self.here, transformed)  # the worker rewrote some
    return result

  def _copy(self, source: str) -> str:
    tree = os.path.join(self.create_tempdir().full_path, 'tree')
    shutil.copytree(source, tree)
    # A file the prefilter drops, among the others.
    with open(os.path.join(tree, 'zz_plain.py'), 'w') as f:
      f.write('import os\n\nprint(os.sep)\n')
    return tree

  @parameterized.named_parameters(
      ('default', 'after', transformer.Options()),
      ('to_keras', 'after_to_keras', transformer.Options(to_keras=True)),
  )
  def test_two_jobs_write_and_report_as_one(self, golden, options):
    before = os.path.join(CORPUS, 'before')
    one_tree, two_tree = self._copy(before), self._copy(before)
    with mock.patch.object(transformer, 'rewrite_source', self.real):
      one = files.rewrite_paths(
          [one_tree], in_place=True, options=options, jobs=1
      )
    two = self._rewrite(
        two_tree, len(os.listdir(before)), in_place=True, options=options
    )
    self.assertEqual(_tree_bytes(one_tree), _tree_bytes(two_tree))
    for name in os.listdir(os.path.join(CORPUS, golden)):
      self.assertEqual(
          _read(os.path.join(two_tree, name)),
          _read(os.path.join(CORPUS, golden, name)),
      )
    self.assertEqual(one.failures, two.failures)
    self.assertEqual(
        one.markdown().replace(one_tree, 'T'),
        two.markdown().replace(two_tree, 'T'),
    )
    self.assertEqual(
        files.diff(one).replace(one_tree, 'T'),
        files.diff(two).replace(two_tree, 'T'),
    )
    self.assertEqual(len(two.files), len(os.listdir(before)) + 1)
    self.assertEqual(
        [f.changed for f in one.files], [f.changed for f in two.files]
    )

  def test_a_failing_file_in_a_worker_is_one_line_and_the_rest_rewritten(self):
    tree = self._copy(os.path.join(CORPUS, 'before'))
    broken = os.path.join(tree, 'broken.py')
    with open(broken, 'w') as f:
      f.write('import tensorflow as tf\ndef (:\n')
    locked = os.path.join(tree, 'baseline.py')
    os.chmod(locked, 0o444)
    locked_before = _read(locked)
    result = self._rewrite(
        tree, len(os.listdir(os.path.join(CORPUS, 'before'))) + 1, in_place=True
    )
    self.assertEqual([f.path for f in result.failures], [locked, broken])
    for failure in result.failures:
      self.assertNotIn('\n', failure.message)
    self.assertIn('not valid Python', result.failures[1].message)
    self.assertIn('read-only', result.failures[0].message)
    self.assertEqual(_read(locked), locked_before)
    self.assertEqual(stat.S_IMODE(os.stat(locked).st_mode), 0o444)
    for name in os.listdir(os.path.join(CORPUS, 'after')):
      if name != 'baseline.py':
        self.assertEqual(
            _read(os.path.join(tree, name)),
            _read(os.path.join(CORPUS, 'after', name)),
        )

  def test_workers_start_only_when_the_work_left_pays_for_them(self):
    start = files._WORKER_START_CPU_SECONDS
    self.assertTrue(files._worth_workers(1, 0, 0.0))  # patched to 0 here
    with mock.patch.object(files, '_WORKER_START_CPU_SECONDS', 3.0):
      self.assertFalse(files._worth_workers(10**6, 0, 0.0))  # no pace yet
      self.assertFalse(files._worth_workers(10**6, 10**6, 5.9))
      self.assertTrue(files._worth_workers(10**6, 10**6, 6.0))
    self.assertEqual(start, 0)

  def test_a_tree_not_worth_a_worker_is_done_here(self):
    tree = self._copy(os.path.join(CORPUS, 'before'))
    with (
        mock.patch.object(transformer, 'rewrite_source', self.real),
        mock.patch.object(files, '_WORKER_START_CPU_SECONDS', 1e9),
        mock.patch.object(
            futures, 'ProcessPoolExecutor', side_effect=AssertionError
        ),
    ):
      two = files.rewrite_paths([tree], jobs=2)
      one = files.rewrite_paths([tree], jobs=1)
    self.assertEqual(two.markdown(), one.markdown())
    self.assertEqual(files.diff(two), files.diff(one))

  def test_jobs_below_one_is_refused(self):
    with self.assertRaisesRegex(Exception, 'jobs=0'):
      files.rewrite_paths([os.path.join(CORPUS, 'before')], jobs=0)


class JobsFlagTest(absltest.TestCase):

  def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=_ROOT, TF_CPP_MIN_LOG_LEVEL='3')
    return subprocess.run(
        [sys.executable, '-m', 'estimator_migrate.cli.rewrite', *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

  def test_jobs_zero_is_one_error_line(self):
    before = os.path.join(CORPUS, 'before')
    run = self._run(before, '--jobs=0')
    self.assertEqual(run.returncode, 2, run.stderr)
    self.assertNotIn('Traceback', run.stderr)
    lines = run.stderr.strip().splitlines()
    self.assertLen(lines, 1)
    self.assertRegex(lines[0], r'^rewrite(\.py)?: error: .*--jobs')


if __name__ == '__main__':
  absltest.main()
