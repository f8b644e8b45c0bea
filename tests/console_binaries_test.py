"""Every binary speaks the console convention, run as its user runs it.

--help exits 0; a bad flag is one line `<binary>: error: ...` and exit 2,
with nothing of TensorFlow's start-up before it (the binaries run here
without `TF_CPP_MIN_LOG_LEVEL`, so the binary's own default is what is
tested); errors and warnings of export and rewrite use the same form, not
absl log lines; Ctrl-C (SIGINT) is one line and exit 130, whether it comes
while TensorFlow loads or while the binary works.
"""

import os
import signal
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized

from tests import testing

# (module, console script, words of its --help)
_BINARIES = (
    (
        'estimator_migrate.cli.convert_checkpoint',
        'estimator-migrate-convert',
        'Converts a TF1 canned-estimator checkpoint',
    ),
    (
        'estimator_migrate.cli.inspect_checkpoint',
        'estimator-migrate-inspect',
        "Lists a checkpoint's variables",
    ),
    (
        'estimator_migrate.cli.export',
        'estimator-migrate-export',
        'Exports a trained estimator',
    ),
    (
        'estimator_migrate.cli.rewrite',
        'estimator-migrate-rewrite',
        'Rewrites v1 canned-estimator code',
    ),
    (
        'estimator_migrate.cli.demo',
        'estimator-migrate-demo',
        'Migrates a TF 1.x project end to end',
    ),
    (
        'estimator_migrate.cli.train_keras',
        'estimator-migrate-train-keras',
        "Trains the migration guide's CNN",
    ),
    (
        'estimator_migrate.cli.canned_migration',
        'estimator-migrate-canned',
        'Trains a v1 canned estimator',
    ),
    (
        'estimator_migrate.cli.train_estimator',
        'estimator-migrate-train-estimator',
        "Trains the guide's CNN as an Estimator",
    ),
)
_NAMED = tuple(
    (module.rsplit('.', 1)[1], module, script, doc)
    for module, script, doc in _BINARIES
)
_EXPORT = 'estimator_migrate/cli/export.py'
_REWRITE = 'estimator_migrate/cli/rewrite.py'
_INSPECT = 'estimator_migrate/cli/inspect_checkpoint.py'
_INSPECT_MODULE = 'estimator_migrate.cli.inspect_checkpoint'
_DEMO = 'estimator_migrate/cli/demo.py'
# TF 1.x-style feature columns: TensorFlow logs deprecation warnings for them.
_DEPRECATED_CONFIG = """
import tensorflow as tf


def kwargs():
  column = tf.feature_column.numeric_column('x', shape=(3,))
  return dict(hidden_units=[4], feature_columns=[column])
"""
_SLOW_CONFIG = """
import os
import time


def kwargs():
  open(os.environ['READY'], 'w').close()
  time.sleep(120)
"""


def _environment(**extra: str) -> dict[str, str]:
  """The caller's environment without TF_CPP_MIN_LOG_LEVEL, plus `extra`."""
  env = dict(os.environ, PYTHONPATH=testing.REPO_ROOT, **extra)
  if 'TF_CPP_MIN_LOG_LEVEL' not in extra:
    env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  return env


def _run(args, **extra: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, *args],
      capture_output=True,
      text=True,
      env=_environment(**extra),
      cwd=testing.REPO_ROOT,
      timeout=600,
      check=False,
  )


def _as_console_script(module: str, script: str, *args: str) -> list[str]:
  """What pip's wrapper runs: argv[0] is the script, `run` is imported."""
  entry = 'run_main' if module.endswith('.demo') else 'run'
  return [
      '-c',
      f'import sys; sys.argv = {[script, *args]!r};'
      f' from {module} import {entry}; {entry}()',
  ]


def _source(module: str) -> str:
  return os.path.join(testing.REPO_ROOT, *module.split('.')) + '.py'


class ConventionTest(parameterized.TestCase):

  @parameterized.named_parameters(*_NAMED)
  def test_help_exits_0(self, module, script, doc):
    result = _run(_as_console_script(module, script, '--help'))
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn(doc, result.stdout)
    self.assertEqual(result.stderr, '')  # no TensorFlow start-up lines

  @parameterized.named_parameters(*_NAMED)
  def test_bad_flag_is_one_line(self, module, script, doc):
    del script, doc
    result = _run([_source(module), '--no_such_flag=1'])
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertEqual(
        result.stderr.splitlines(),
        [
            f'{os.path.basename(_source(module))}: error: Unknown command'
            " line flag 'no_such_flag' (see --help)"
        ],
    )

  def test_a_reader_that_stops_early_ends_it_quietly(self):
    # `estimator-migrate-inspect --source=ckpt | head -1`: the reader is gone
    # before the binary writes (it closes its end at once; the binary takes
    # seconds to load TensorFlow), so the table meets a broken pipe.
    prefix = os.path.join(self.create_tempdir().full_path, 'model.ckpt-1')
    saved = _run(
        [
            '-c',
            'import sys, tensorflow as tf;'
            ' tf.compat.v1.disable_eager_execution();'
            ' w = tf.compat.v1.get_variable("dnn/logits/kernel", [3, 2]);'
            ' s = tf.compat.v1.Session();'
            ' s.run(tf.compat.v1.global_variables_initializer());'
            ' tf.compat.v1.train.Saver().save(s, sys.argv[1])',
            prefix,
        ]
    )
    self.assertEqual(saved.returncode, 0, saved.stderr[-2000:])
    child = subprocess.Popen(
        [sys.executable, _source(_INSPECT_MODULE), f'--source={prefix}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(),
        cwd=testing.REPO_ROOT,
    )
    child.stdout.close()
    _, stderr = child.communicate(timeout=600)
    self.assertEqual(child.returncode, 141, stderr[-2000:])
    self.assertEqual(stderr, b'')

  def test_the_callers_log_level_wins(self):
    result = _run(
        [_source(_BINARIES[1][0]), '--helpshort'], TF_CPP_MIN_LOG_LEVEL='0'
    )
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    # TensorFlow's own C++ log lines: `2024-01-01 00:00:00.0: I tensorflow/...`
    self.assertRegex(result.stderr, r'(?m)^\d{4}-\d\d-\d\d [\d:.]+: [IWE] ')

  def test_export_error_is_one_line_after_a_configs_deprecations(self):
    directory = self.create_tempdir()
    directory.create_file('config.py', _DEPRECATED_CONFIG)
    missing = os.path.join(directory.full_path, 'no_model')
    result = _run(
        [
            os.path.join(testing.REPO_ROOT, _EXPORT),
            '--estimator=DNNClassifier',
            f'--model_dir={missing}',
            f'--config={directory.full_path}/config.py:kwargs',
            f'--target={directory.full_path}/keras',
        ],
    )
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    self.assertLen(lines, 1, result.stderr)
    self.assertRegex(lines[0], rf'^export\.py: error: {missing}\.index')
    self.assertFalse(os.path.exists(f'{directory.full_path}/keras'))

  @parameterized.named_parameters(
      ('no_path', (), r'name at least one PATH'),
      ('missing_path', ('/no/such/file.py',), r'/no/such/file\.py'),
  )
  def test_rewrite_error_is_one_line(self, args, pattern):
    result = _run([os.path.join(testing.REPO_ROOT, _REWRITE), *args])
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    self.assertLen(lines, 1, result.stderr)
    self.assertRegex(lines[0], rf'^rewrite\.py: error: .*{pattern}')

  def test_rewrite_warnings_are_lines_of_the_binary(self):
    corpus = os.path.join(
        testing.REPO_ROOT, 'tests', 'rewrite_corpus', 'before'
    )
    result = _run([os.path.join(testing.REPO_ROOT, _REWRITE), corpus])
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    self.assertNotEmpty(lines)
    for line in lines:
      self.assertRegex(
          line,
          rf'^rewrite\.py: warning: {corpus}/\w+\.py:\d+: .* left unchanged',
      )


class InterruptTest(absltest.TestCase):
  """SIGINT sent to a running binary."""

  def assert_interrupted(self, process: subprocess.Popen, name: str) -> None:
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    self.assertEqual(process.returncode, 130, stderr[-2000:])
    self.assertEqual(stderr.splitlines(), [f'{name}: interrupted'])

  def start(self, relative_path: str, *args: str, **extra: str):
    return subprocess.Popen(
        [sys.executable, os.path.join(testing.REPO_ROOT, relative_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(**extra),
        cwd=testing.REPO_ROOT,
    )

  def test_while_working(self):
    directory = self.create_tempdir()
    directory.create_file('slow.py', _SLOW_CONFIG)
    ready = os.path.join(directory.full_path, 'ready')
    target = os.path.join(directory.full_path, 'keras')
    process = self.start(
        _EXPORT,
        '--estimator=DNNClassifier',
        f'--model_dir={directory.full_path}',
        f'--config={directory.full_path}/slow.py:kwargs',
        f'--target={target}',
        READY=ready,
    )
    testing.wait_until(
        lambda: os.path.exists(ready) or process.poll() is not None,
        timeout=300,
        what='the export to start working (its READY file)',
    )
    self.assert_interrupted(process, 'export.py')
    self.assertFalse(os.path.exists(target))

  def test_while_tensorflow_loads(self):
    process = self.start(_INSPECT, '--source=/no/such/model_dir')
    maps = f'/proc/{process.pid}/maps'

    # TensorFlow's library is mapped: its import has begun, and our module,
    # imported first, has set up the handling.
    def tensorflow_mapped():
      self.assertIsNone(process.poll(), 'exited before TensorFlow loaded')
      with open(maps) as f:
        return 'libtensorflow_framework' in f.read()

    testing.wait_until(
        tensorflow_mapped,
        timeout=300,
        what="TensorFlow's library to be mapped",
        interval=0.01,
    )
    self.assert_interrupted(process, 'inspect_checkpoint.py')

  def test_demo_while_training_leaves_only_its_marker(self):
    workdir = os.path.join(self.create_tempdir().full_path, 'demo')
    process = self.start(_DEMO, f'--workdir={workdir}', '--steps=200')
    line = process.stdout.readline()  # its first progress line: it works
    self.assertIn('s] ', line)
    self.assert_interrupted(process, 'demo.py')
    self.assertEqual(os.listdir(workdir), ['.estimator_migrate_demo'])


if __name__ == '__main__':
  absltest.main()
