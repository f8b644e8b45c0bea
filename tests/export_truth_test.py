"""The export carries what the checkpoint records, not what the config says.

Tiny estimators trained on TF 2.15 (a v2 DNNClassifier with loss_reduction
SUM and Adagrad epsilon 1e-30, a v1 DNNClassifier with v1's defaults, a v2
DNNLinearCombinedClassifier with two optimizers), exported by the real
`estimator-migrate-export` binary with config kwargs that match the
checkpoint, omit what it records, or contradict it.
"""

import json
import os

from absl import logging
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate.export import parity
from tests import fault_harness
from tests import testing

_BINARY = 'estimator_migrate/cli/export.py'
_CONFIG = """
import tensorflow as tf

fc = tf.feature_column
_X = fc.numeric_column('x', shape=(2,))
_WORD = fc.categorical_column_with_vocabulary_list('word', ['a', 'b'])


def visible():
  # What the user's source shows: no reduction, no optimizer.
  return dict(hidden_units=[3], feature_columns=[_X])


def matching():
  return dict(
      visible(),
      loss_reduction=tf.keras.losses.Reduction.SUM,
      optimizer=tf.keras.optimizers.legacy.Adagrad(0.1, epsilon=1e-30),
  )


def averaged():
  return dict(visible(), loss_reduction='sum_over_batch_size')


def adam():
  return dict(visible(), optimizer='Adam')


def other_rate():
  return dict(
      visible(),
      optimizer=tf.keras.optimizers.legacy.Adagrad(0.2, epsilon=1e-30),
  )


def keras_epsilon():
  return dict(visible(), optimizer=tf.keras.optimizers.legacy.Adagrad(0.1))


def three_classes():
  return dict(matching(), n_classes=3)


def weighted():
  return dict(matching(), weight_column='w')


def v1_matching():
  return dict(
      visible(),
      loss_reduction=tf.compat.v1.losses.Reduction.SUM,
      optimizer=tf.compat.v1.train.AdagradOptimizer(0.05),
  )


def v1_averaged():
  return dict(
      visible(),
      loss_reduction=tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE,
  )


def v1_other_rate():
  return dict(visible(), optimizer=tf.compat.v1.train.AdagradOptimizer(0.1))


def wide_deep_visible():
  return dict(
      dnn_hidden_units=[3],
      dnn_feature_columns=[_X],
      linear_feature_columns=[_WORD],
  )


def wide_deep_matching():
  return dict(
      wide_deep_visible(),
      loss_reduction='sum',
      dnn_optimizer=tf.keras.optimizers.legacy.Adam(0.01, epsilon=1e-6),
      linear_optimizer=tf.keras.optimizers.legacy.Ftrl(
          0.05, l1_regularization_strength=0.01
      ),
  )


def wide_deep_linear_rate():
  return dict(
      wide_deep_matching(),
      linear_optimizer=tf.keras.optimizers.legacy.Ftrl(
          0.5, l1_regularization_strength=0.01
      ),
  )


def wide_deep_dnn_class():
  return dict(wide_deep_matching(), dnn_optimizer='Adagrad')
"""

_MORE = 3  # steps trained on after the export
_DNN_WEIGHTS = (
    'dnn/hiddenlayer_0/kernel',
    'dnn/hiddenlayer_0/bias',
    'dnn/logits/kernel',
    'dnn/logits/bias',
)
_FEATURES = {
    'x': np.array([[1, 2], [3, 1], [0, 1], [2, 2]], np.float32),
    'word': np.array([['a'], ['b'], [''], ['c']]),
}


def _input_fn():
  dataset = tf.data.Dataset.from_tensor_slices((_FEATURES, [0, 1, 0, 1]))
  return dataset.batch(4).repeat()


class ExportTruthTest(fault_harness.SourceCopies):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = os.path.join(cls.root, 'config.py')
    with open(cls.config, 'w') as f:
      f.write(_CONFIG)
    config = {}
    exec(_CONFIG, config)  # noqa: S102 (the test's own config)
    run_config = tf.estimator.RunConfig(tf_random_seed=0)
    cls.model_dirs = {
        name: os.path.join(cls.root, name) for name in ('v2', 'v1', 'wd')
    }
    tf.estimator.DNNClassifier(
        model_dir=cls.model_dirs['v2'],
        config=run_config,
        **config['matching'](),
    ).train(_input_fn, steps=2)
    tf.compat.v1.estimator.DNNClassifier(
        model_dir=cls.model_dirs['v1'], config=run_config, **config['visible']()
    ).train(_input_fn, steps=2)
    tf.estimator.DNNLinearCombinedClassifier(
        model_dir=cls.model_dirs['wd'],
        config=run_config,
        **config['wide_deep_matching'](),
    ).train(_input_fn, steps=2)
    cls.digests = {
        name: fault_harness.digests(d) for name, d in cls.model_dirs.items()
    }

  def tearDown(self):
    for name, directory in self.model_dirs.items():
      self.assertEqual(
          fault_harness.digests(directory), self.digests[name], directory
      )
    super().tearDown()

  def export(self, model: str, config: str, model_dir: str | None = None):
    target = os.path.join(self.work, 'keras')
    estimator = (
        'DNNLinearCombinedClassifier' if model == 'wd' else 'DNNClassifier'
    )
    result = testing.run_binary(
        _BINARY,
        f'--estimator={estimator}',
        f'--model_dir={model_dir or self.model_dirs[model]}',
        f'--config={self.config}:{config}',
        f'--target={target}',
    )
    return result, target

  def exported(
      self, model: str, config: str, model_dir: str | None = None
  ) -> tuple[dict, dict]:
    """Exports; returns spec.json and report.md's settings by name."""
    result, target = self.export(model, config, model_dir)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(os.path.join(target, 'spec.json')) as f:
      spec = json.load(f)
    with open(os.path.join(target, 'report.md')) as f:
      report = f.read()
    self.assertIn('## Training settings', report)
    section = report.split('## Training settings', 1)[1].split('\n## ', 1)[0]
    rows = {}
    for line in section.splitlines():
      cells = [c.strip() for c in line.strip().strip('|').split('|')]
      if len(cells) == 3 and cells[0] not in ('setting', '---'):
        rows[cells[0]] = (cells[1], cells[2])
    return spec, rows

  def assert_setting(self, rows, name, value, source_pattern):
    self.assertIn(name, rows, rows)
    self.assertEqual(rows[name][0], value, rows[name])
    self.assertRegex(rows[name][1], source_pattern)

  # (a) kwargs matching the checkpoint: exit 0, every setting and its source.
  # (b) kwargs omitting what it records: the checkpoint's values carried.

  @parameterized.named_parameters(
      ('matching', 'matching', 'kwargs|checkpoint graph'),
      ('omitted', 'visible', 'checkpoint graph'),
  )
  def test_v2_sum_and_epsilon_carried(self, config, epsilon_source):
    spec, rows = self.exported('v2', config)
    self.assertEqual(spec['loss_reduction'], 'sum')
    (entry,) = spec['optimizers']
    self.assertEqual(entry['class'], 'Adagrad')
    self.assertEqual(np.float32(entry['config']['epsilon']), np.float32(1e-30))
    self.assertEqual(
        np.float32(entry['config']['learning_rate']), np.float32(0.1)
    )
    self.assert_setting(
        rows, 'loss_reduction', 'sum', r'^checkpoint graph \(`head/losses/'
    )
    self.assert_setting(
        rows, 'head', 'binary', r'checkpoint agrees \(`dnn/logits/bias`: 1'
    )
    self.assert_setting(rows, 'n_classes', '2', 'default')
    self.assert_setting(rows, 'weight_column', 'none', '^checkpoint graph$')
    self.assert_setting(rows, 'dnn optimizer', 'Adagrad', '^checkpoint')
    self.assert_setting(
        rows, 'dnn optimizer: learning_rate', '0.1', '^checkpoint$'
    )
    self.assert_setting(
        rows, 'dnn optimizer: epsilon', '1e-30', f'^({epsilon_source})$'
    )
    self.assert_setting(rows, 'dnn optimizer: iterations', '2', 'checkpoint')

  @parameterized.named_parameters(
      ('matching', 'v1_matching'), ('omitted', 'visible')
  )
  def test_v1_default_sum_carried(self, config):
    spec, rows = self.exported('v1', config)
    # An estimator given by name is taken as v2 (sum_over_batch_size) where
    # nothing records the reduction; the v1 graph records SUM.
    self.assertEqual(spec['loss_reduction'], 'sum')
    self.assert_setting(
        rows, 'loss_reduction', 'sum', r'^checkpoint graph \(`dnn/head/'
    )
    self.assert_setting(rows, 'dnn optimizer', 'Adagrad', 'v1 optimizer')
    self.assert_setting(
        rows, 'dnn optimizer: learning_rate', '0.05', 'v1 optimizer'
    )
    self.assert_setting(rows, 'dnn optimizer: epsilon', '1e-30', 'v1')

  def test_two_optimizers_carried(self):
    spec, rows = self.exported('wd', 'wide_deep_visible')
    self.assertEqual(spec['loss_reduction'], 'sum')
    classes = {e['class']: e['config'] for e in spec['optimizers']}
    self.assertEqual(sorted(classes), ['Adam', 'Ftrl'])
    self.assertEqual(np.float32(classes['Adam']['epsilon']), np.float32(1e-6))
    self.assert_setting(rows, 'loss_reduction', 'sum', '^checkpoint graph')
    self.assert_setting(rows, 'dnn optimizer', 'Adam', '^checkpoint')
    self.assert_setting(rows, 'dnn optimizer: epsilon', '1e-06', 'graph')
    self.assert_setting(rows, 'dnn optimizer: amsgrad', 'False', 'graph')
    self.assert_setting(
        rows, 'dnn optimizer: learning_rate', '0.01', '^checkpoint$'
    )
    self.assert_setting(rows, 'linear optimizer', 'Ftrl', '^checkpoint')
    self.assert_setting(
        rows, 'linear optimizer: learning_rate', '0.05', '^checkpoint$'
    )
    self.assert_setting(
        rows,
        'linear optimizer: l1_regularization_strength',
        '0.01',
        '^checkpoint$',
    )
    self.assert_setting(
        rows,
        'linear optimizer: l2_shrinkage_regularization_strength',
        '0.0',
        'graph',
    )

  def test_keras3_fit_continues_the_estimator(self):
    # The case: exported with the kwargs the user's source shows,
    # Keras 3's fit must continue training as the estimator does (SUM and
    # epsilon 1e-30 carried), not as a sum_over_batch_size / 1e-7 model.
    model_dir = self.copy_source(self.model_dirs['v2'], 'v2')
    target = os.path.join(self.work, 'keras')
    result = testing.run_binary(
        _BINARY,
        '--estimator=DNNClassifier',
        f'--model_dir={model_dir}',
        f'--config={self.config}:visible',
        f'--target={target}',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    config = {}
    exec(_CONFIG, config)  # noqa: S102 (the test's own config)
    del self.before[model_dir]  # trained on below
    tf.estimator.DNNClassifier(
        model_dir=model_dir,
        config=tf.estimator.RunConfig(tf_random_seed=0),
        **config['matching'](),
    ).train(_input_fn, steps=_MORE)
    reader = tf.train.load_checkpoint(model_dir)
    repeated = {k: np.concatenate([v] * _MORE) for k, v in _FEATURES.items()}
    labels = np.array([[0], [1], [0], [1]] * _MORE, np.float32)
    (fit,) = parity.modern_fit(
        [(target, repeated, {'logits': labels}, 4)], record_losses=False
    )
    with np.load(os.path.join(target, 'weights.npz')) as exported:
      start = {n: exported[n] for n in _DNN_WEIGHTS}
    gap = max(
        float(np.max(np.abs(fit.weights[n] - reader.get_tensor(n))))
        for n in _DNN_WEIGHTS
    )
    moved = max(
        float(np.max(np.abs(reader.get_tensor(n) - start[n])))
        for n in _DNN_WEIGHTS
    )
    logging.info('fit vs estimator: max gap %.3g, moved %.3g', gap, moved)
    self.assertLess(gap, 1e-6)
    self.assertGreater(moved, 1e-3)  # training moved far beyond the bound

  # Without a graph: the kwargs or defaults decide, and report.md says so.

  @parameterized.named_parameters(
      ('kwargs', 'matching', 'sum', '1e-30', '^kwargs'),
      ('defaults', 'visible', 'sum_over_batch_size', '1e-07', 'default'),
  )
  def test_without_graph_kwargs_decide(
      self, config, reduction, epsilon, source
  ):
    def no_graph(directory):
      for name in os.listdir(directory):
        if name.endswith('.meta') or name == 'graph.pbtxt':
          os.remove(os.path.join(directory, name))

    model_dir = self.copy_source(self.model_dirs['v2'], 'v2', no_graph)
    spec, rows = self.exported('v2', config, model_dir)
    self.assertEqual(spec['loss_reduction'], reduction)
    self.assert_setting(
        rows, 'loss_reduction', reduction, f'{source}.*no graph beside'
    )
    self.assert_setting(rows, 'dnn optimizer: epsilon', epsilon, source)
    self.assert_setting(rows, 'weight_column', 'none', 'default')

  def test_corrupt_v2_graph_is_refused(self):
    def corrupt(directory):
      (meta,) = [n for n in os.listdir(directory) if n.endswith('-2.meta')]
      fault_harness.overwrite(os.path.join(directory, meta), 0, b'\xff' * 64)

    model_dir = self.copy_source(self.model_dirs['v2'], 'v2', corrupt)
    result, target = self.export('v2', 'visible', model_dir)
    self.assert_refused(
        result,
        r'^export\.py: error: cannot parse graph .*\.meta',
        'from a backup',
    )
    self.assertFalse(os.path.exists(target))

  # (c) kwargs that contradict the checkpoint: refused, nothing written.

  @parameterized.named_parameters(
      (
          'v2_reduction',
          'v2',
          'averaged',
          r"loss_reduction='sum_over_batch_size'",
          r"records loss_reduction='sum'",
      ),
      ('v2_class', 'v2', 'adam', r"optimizer='Adam'", 'class Adagrad'),
      (
          'v2_weight_column',
          'v2',
          'weighted',
          r"weight_column='w'",
          r'records no weight column',
      ),
      (
          'v2_head',
          'v2',
          'three_classes',
          r'n_classes=3 contradicts',
          r'records n_classes=2',
      ),
      (
          'v2_learning_rate',
          'v2',
          'other_rate',
          r'optimizer\.learning_rate=0\.2',
          r'learning_rate=0\.1 ',
      ),
      (
          'v2_epsilon',
          'v2',
          'keras_epsilon',
          r'optimizer\.epsilon=1e-07',
          r'epsilon=1e-30 \(graph ',
      ),
      (
          'v1_reduction',
          'v1',
          'v1_averaged',
          r"loss_reduction='weighted_sum_over_batch_size'",
          r"records loss_reduction='sum'",
      ),
      (
          'v1_learning_rate',
          'v1',
          'v1_other_rate',
          r'optimizer\.learning_rate=0\.1',
          r'learning_rate=0\.05',
      ),
      (
          'combined_linear_rate',
          'wd',
          'wide_deep_linear_rate',
          r'linear_optimizer\.learning_rate=0\.5',
          r'learning_rate=0\.05',
      ),
      (
          'combined_dnn_class',
          'wd',
          'wide_deep_dnn_class',
          r"dnn_optimizer='Adagrad'",
          'class Adam',
      ),
  )
  def test_contradiction_is_refused(self, model, config, given, recorded):
    result, target = self.export(model, config)
    self.assert_refused(
        result,
        r'^export\.py: error: --config kwarg ',
        given,
        recorded,
        'contradicts the checkpoint',
        '(Remove|Give) ',
    )
    self.assertFalse(os.path.exists(target))
    self.assertEqual(os.listdir(self.work), [])
