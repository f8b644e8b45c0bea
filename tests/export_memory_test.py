"""The exit in flat memory: export and load() peak RSS bounded (issue #26).

A wide & deep checkpoint with a 300 MB embedding (plus its 300 MB Adagrad
accumulator and a crossed Ftrl column) is exported with the binary and
loaded on TF 2.21, each in its own process whose peak RSS (`ru_maxrss`) is
compared with the same interpreter's baseline (its imports, nothing read):
- export: at most baseline + 1.2 x the largest tensor + 200 MB;
- load(): at most baseline + 1.2 x the weights the model keeps + 200 MB;
- load(compile=True): at most baseline + 1.2 x (those weights and the
  optimizer slots) + 200 MB.
A regression to reading the checkpoint or weights.npz whole, or to
assigning a slot whole, fails here.
"""

import os
import sys
import tempfile

from absl import logging
from absl.testing import absltest

from tests import scale_checkpoints as scale

_EMBEDDING_MB = 300
_SHARE = 0.9  # of the checkpoint: the embedding and its accumulator
_SLACK_MB = 200
_FACTOR = 1.2


class MemoryTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    directory = tempfile.mkdtemp(dir=absltest.TEST_TMPDIR.value)
    gigabytes = 2 * _EMBEDDING_MB * 1e6 / _SHARE / 1e9
    cls.case = scale.build(os.path.join(directory, 'case'), gigabytes, _SHARE)
    cls.target = os.path.join(directory, 'keras')

  def test_export_and_load_stay_within_the_bounds(self):
    self.assertIsNotNone(self.case, 'the checkpoint could not be built')
    self.assertGreater(self.case.largest, 0.95 * _EMBEDDING_MB * 1e6)
    _, baseline, _, _ = scale.run([sys.executable, '-c', scale.EXPORT_BASELINE])
    _, peak, code = scale.export(self.case, self.target)
    self.assertEqual(code, 0)
    largest = self.case.largest / 2**20
    bound = baseline + _FACTOR * largest + _SLACK_MB
    logging.info(
        'export: peak %.0f MB, baseline %.0f MB, largest tensor %.0f MB,'
        ' bound %.0f MB',
        peak,
        baseline,
        largest,
        bound,
    )
    self.assertLessEqual(peak, bound)

    python = scale.modern_python()
    modern_baseline, code, _ = scale.load(python, self.target, 'baseline')
    self.assertEqual(code, 0)
    peak, code, measured = scale.load(python, self.target, 'plain')
    self.assertEqual(code, 0)
    kept = measured['kept'] * 1e6 / 2**20
    bound = modern_baseline + _FACTOR * kept + _SLACK_MB
    logging.info(
        'load(): peak %.0f MB, baseline %.0f MB, weights kept %.0f MB,'
        ' bound %.0f MB',
        peak,
        modern_baseline,
        kept,
        bound,
    )
    self.assertLessEqual(peak, bound)

    peak, code, measured = scale.load(python, self.target, 'compile')
    self.assertEqual(code, 0)
    state = (measured['kept'] + measured['slots']) * 1e6 / 2**20
    self.assertGreater(measured['slots'], 0.95 * _EMBEDDING_MB)  # Adagrad's
    bound = modern_baseline + _FACTOR * state + _SLACK_MB
    logging.info(
        'load(compile=True): peak %.0f MB, baseline %.0f MB, weights and'
        ' slots %.0f MB, bound %.0f MB',
        peak,
        modern_baseline,
        state,
        bound,
    )
    self.assertLessEqual(peak, bound)


if __name__ == '__main__':
  absltest.main()
