"""An exported canned estimator fits on a loopback Keras 3 multi-worker cluster.

A v2 DNNLinearCombinedClassifier (image to the linear part and the DNN, a
12-bit code of the image through an embedding) trains a few steps on the
embedded digits in TF 2.15 and is exported (`export.canned_to_keras`). In
the modern environment (TF 2.21, Keras 3) the export `fit`s on chief + 1
worker under `MultiWorkerMirroredStrategy` (`cluster_fit.fit_export`);
the worker is SIGKILLed mid-epoch, the chief fails as the strategy makes it,
both are restarted, `BackupAndRestore` resumes from the last epoch's backup,
and the run ends at the same step, with the accuracy of a single-process
`fit` of the same export on the same batches (within `_ACCURACY_TOLERANCE`).
Figures are in docs/cluster.md.
"""

import json
import os
import subprocess
import tempfile
import textwrap
import time

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate import export
from estimator_migrate.cluster import loopback
from estimator_migrate.cluster import trainers
from estimator_migrate.export import modern
from estimator_migrate.guide import data
from estimator_migrate.keras3 import cluster_fit
from tests import testing

fc = tf.feature_column
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CODE_BITS = 12
_ESTIMATOR_STEPS = 20
_BATCH = 64  # global: 32 per worker
_EPOCHS = 6
_KILL_EPOCH = 2  # the worker dies in the epoch after this many are backed up
_WAIT_SECS = 240
# Synchronous training on the same batches in the same order: the killed
# and resumed run differs from one process only by float summation order
# (all-reduce of two half batches). Measured: equal accuracy, loss within
# 1.4e-4 (relative, ten runs; docs/cluster.md); bounds: 3 of the 360 test
# images, 0.1 %.
_ACCURACY_TOLERANCE = 3 / 360
_LOSS_RTOL = 1e-3


def _code(images: np.ndarray) -> np.ndarray:
  """A 12-bit code of each image: 12 pixels above 0.5 or not."""
  pixels = [(r, c) for r in (7, 12, 17, 21) for c in (8, 14, 20)]
  bits = [
      (images[:, r, c, 0] > 0.5).astype(np.int64) << i
      for i, (r, c) in enumerate(pixels)
  ]
  return np.sum(bits, axis=0)[:, np.newaxis]


def _split(data_dir: str, split: str) -> tuple[dict, np.ndarray]:
  images, labels = next(
      iter(
          data.load(
              split=split,
              data_dir=data_dir,
              batch_size=1 << 16,
              shuffle_buffer=0,
          )
      )
  )
  images = images.numpy()
  return {'image': images, 'code': _code(images)}, labels.numpy()


def _columns() -> dict:
  image = fc.numeric_column('image', shape=(28, 28, 1))
  code = fc.embedding_column(
      fc.categorical_column_with_identity('code', 1 << _CODE_BITS), 8
  )
  return dict(
      linear_feature_columns=[image],
      dnn_feature_columns=[image, code],
      dnn_hidden_units=[32],
      n_classes=10,
  )


class KerasClusterTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value)
    cls.python = modern.find_python()
    data_dir = testing.tfds_dir()
    features, labels = _split(data_dir, 'train')
    test_features, test_labels = _split(data_dir, 'test')
    model_dir = os.path.join(cls.root, 'estimator')
    estimator = tf.estimator.DNNLinearCombinedClassifier(
        model_dir=model_dir, **_columns()
    )
    estimator.train(
        lambda: tf.data.Dataset.from_tensor_slices((features, labels))
        .repeat()
        .batch(32),
        steps=_ESTIMATOR_STEPS,
    )
    cls.export_dir = os.path.join(cls.root, 'keras')
    export.canned_to_keras(
        'DNNLinearCombinedClassifier', model_dir=model_dir, **_columns()
    ).save(cls.export_dir)
    cls.data = os.path.join(cls.root, 'data.npz')
    np.savez(
        cls.data,
        label=labels,
        **features,
        **{f'test/{k}': v for k, v in test_features.items()},
        **{'test/label': test_labels},
    )
    cls.steps_per_epoch = -(-len(labels) // _BATCH)
    with open(os.path.join(cls.export_dir, 'spec.json')) as f:
      cls.exported_step = json.load(f)['optimizers'][0]['iterations']
    began = time.monotonic()
    cls.reference = cls._fit('reference', workers=0)[0]['chief-0']
    cls.reference_secs = time.monotonic() - began

  @classmethod
  def _kwargs(cls, name: str, **overrides) -> dict:
    return {
        **dict(
            export_dir=cls.export_dir,
            data=cls.data,
            out_dir=os.path.join(cls.root, name, 'out'),
            backup_dir=os.path.join(cls.root, name, 'backup'),
            epochs=_EPOCHS,
            batch_size=_BATCH,
        ),
        **overrides,
    }

  @classmethod
  def _results(cls, kwargs: dict, tasks) -> dict:
    return {
        f'{r}-{i}': json.load(
            open(os.path.join(kwargs['out_dir'], f'{r}-{i}.json'))
        )
        for r, i in tasks
    }

  @classmethod
  def _fit(cls, name: str, workers: int) -> tuple[dict, str]:
    kwargs = cls._kwargs(name)
    with loopback.LocalCluster(
        cluster_fit.TARGET,
        kwargs,
        workdir=os.path.join(cls.root, name),
        workers=workers,
        python=cls.python,
    ) as c:
      c.start()
      c.wait_for(
          lambda: all(c.returncode(*t) == 0 for t in c.tasks),
          timeout_secs=_WAIT_SECS,
          what=f'the {name} run to finish',
          fail_if_exited=c.tasks,
      )
      return cls._results(kwargs, c.tasks), c.log('chief')

  def test_backup_directory_made_before_keras_would_make_it(self):
    # Keras' BackupAndRestore checks that backup_dir is absent, then makes
    # it: another task making it in between (the worker's own backup
    # directory lies below it) failed a cluster run with FileExistsError.
    # fit_export makes it first, so Keras' own makedirs is never reached.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {_REPO!r})
        from keras.src.utils import file_utils

        def makedirs(path):
          raise AssertionError(f'Keras made {{path}} itself')

        file_utils.makedirs = makedirs
        from estimator_migrate.keras3 import cluster_fit
        cluster_fit.fit_export(**{self._kwargs('made_first', epochs=1)!r})
        """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    env.pop('PYTHONPATH', None)
    env.pop('TF_CONFIG', None)
    completed = subprocess.run(
        [self.python, '-c', script],
        capture_output=True,
        text=True,
        env=env,
        timeout=_WAIT_SECS,
        check=False,
    )
    self.assertEqual(completed.returncode, 0, completed.stderr[-3000:])
    self.assertTrue(
        os.path.exists(
            os.path.join(
                self.root, 'made_first', 'backup', 'training_metadata.json'
            )
        )
    )

  def test_fit_survives_a_worker_killed_and_matches_one_process(self):
    began = time.monotonic()
    limit_file = os.path.join(self.root, 'step_limit')
    backed_up = self.exported_step + _KILL_EPOCH * self.steps_per_epoch
    # Held mid-epoch, after the chief backed up _KILL_EPOCH epochs.
    trainers.set_step_limit(limit_file, backed_up + self.steps_per_epoch // 2)
    kwargs = self._kwargs('cluster', step_limit_file=limit_file)
    metadata = os.path.join(kwargs['backup_dir'], 'training_metadata.json')

    def held():
      """Both tasks wait at the limit, the backup of _KILL_EPOCH epochs done."""
      if not os.path.exists(metadata):
        return False
      with open(metadata) as f:
        epoch = json.load(f)['epoch']
      steps = [
          max((s for *_, s, _ in trainers.progress(c.log(r))), default=0)
          for r in ('chief', 'worker')
      ]
      return epoch == _KILL_EPOCH and min(steps) > backed_up

    with loopback.LocalCluster(
        cluster_fit.TARGET,
        kwargs,
        workdir=os.path.join(self.root, 'cluster'),
        workers=1,
        python=self.python,
    ) as c:
      c.start()
      c.wait_for(
          held,
          timeout_secs=_WAIT_SECS,
          what='both tasks to train past the backup',
          fail_if_exited=c.tasks,
      )
      killed = c.kill('worker', 0)
      trainers.set_step_limit(limit_file, None)
      # The chief's next collective fails: MultiWorkerMirroredStrategy
      # needs every worker, so the whole job restarts, as a cluster
      # manager restarts failed tasks.
      c.wait_for(
          lambda: c.exited('chief'),
          timeout_secs=_WAIT_SECS,
          what='the chief to notice the lost worker',
      )
      detected = time.time()
      self.assertNotEqual(c.returncode('chief'), 0)
      self.assertIn('UnavailableError', c.log('chief'))
      c.restart('chief')
      c.restart('worker', 0)

      def resumed():
        lines = trainers.progress(c.log('chief', start=2))
        return lines and lines[0]

      first = c.wait_for(
          resumed,
          timeout_secs=_WAIT_SECS,
          what='the restarted chief to train',
          fail_if_exited=c.tasks,
      )
      c.wait_for(
          lambda: all(c.returncode(*t) == 0 for t in c.tasks),
          timeout_secs=_WAIT_SECS,
          what='the restarted cluster to finish',
          fail_if_exited=c.tasks,
      )
      sessions = trainers.progress(
          c.log('chief', start=2), sessions=True
      ) + trainers.progress(c.log('worker', start=2), sessions=True)
      results = self._results(kwargs, c.tasks)

    # Both restarted tasks restored the backup of _KILL_EPOCH epochs.
    self.assertEqual([s for _, _, s, _ in sessions], [backed_up] * 2)
    final = self.exported_step + _EPOCHS * self.steps_per_epoch
    self.assertEqual(self.reference['iterations'], final)
    for result in results.values():
      self.assertEqual(result['iterations'], final)
      self.assertEqual(result['workers'], 2)
    # Synchronous: chief and worker hold the same weights.
    self.assertEqual(
        results['chief-0']['accuracy'], results['worker-0']['accuracy']
    )
    chief = results['chief-0']
    np.testing.assert_allclose(
        chief['accuracy'], self.reference['accuracy'], atol=_ACCURACY_TOLERANCE
    )
    np.testing.assert_allclose(
        chief['loss'], self.reference['loss'], rtol=_LOSS_RTOL
    )
    cluster_secs = time.monotonic() - began
    print(
        'keras cluster figures: reference (1 process)'
        f' {self.reference_secs:.1f} s; cluster run with the kill'
        f' {cluster_secs:.1f} s; kill -> chief failed {detected - killed:.1f}'
        f' s; kill -> training again {first[3] - killed:.1f} s; accuracy'
        f' {chief["accuracy"]:.4f} vs one process'
        f' {self.reference["accuracy"]:.4f}; loss {chief["loss"]:.6f} vs'
        f' {self.reference["loss"]:.6f}'
    )


if __name__ == '__main__':
  absltest.main()
