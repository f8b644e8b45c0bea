"""What every fault-injection test shares: digests, wrappers, refusals.

A refused run exits 2 with one line on stderr (never a traceback); the
source is byte-identical before and after (`digests`). Permission cases run
the binary in a user namespace when the tests run as root (`unprivileged`),
disk-full cases on a small tmpfs in a private mount namespace
(`on_small_filesystem`).
"""

import hashlib
import os
import re
import shutil
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from tests import canned_harness

# What the converter prints to stderr while it works (after its first second).
PROGRESS = re.compile(r'^  [\d.,]+ / [\d.,]+ MB \(\d+%\), [\d,]+ MB/s$')


def train_dnn(model_dir: str, optimizer, hidden_units=(4,)) -> None:
  """Trains a v1 DNNClassifier two steps (canned_harness's dense data)."""
  tf.compat.v1.estimator.DNNClassifier(
      model_dir=model_dir,
      hidden_units=list(hidden_units),
      feature_columns=canned_harness.dense_columns(),
      n_classes=canned_harness.N_CLASSES,
      optimizer=optimizer,
      config=tf.estimator.RunConfig(tf_random_seed=0),
  ).train(canned_harness.make_input_fn('Classifier', True), steps=2)


def digests(directory: str) -> dict[str, str]:
  """sha256 of every file below `directory`, hidden ones included."""
  out = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, directory)] = hashlib.sha256(
            f.read()
        ).hexdigest()
  return out


def unprivileged() -> tuple[str, ...]:
  """A wrapper under which file modes apply (root ignores them)."""
  return ('unshare', '-U') if os.geteuid() == 0 else ()


def on_small_filesystem(directory: str, size: str) -> tuple[str, ...]:
  """Runs the command with a `size` tmpfs at `directory`, then lists it.

  The listing follows a line `LEFT:` on stdout; exit code 99 means the
  tmpfs could not be mounted.
  """
  script = (
      'mount -t tmpfs -o size="$1" tmpfs "$0" || exit 99; shift;'
      ' "$@"; code=$?; echo LEFT:; ls -A "$0"; exit $code'
  )
  return ('unshare', '-Urm', 'sh', '-c', script, directory, size)


def overwrite(path: str, at: int, data: bytes) -> None:
  """Writes `data` over the bytes of `path` from offset `at`."""
  with open(path, 'r+b') as f:
    f.seek(at)
    f.write(data)


class Refusals(parameterized.TestCase):
  """What every refused run must look like."""

  def assert_refused(self, result, *patterns: str, also: str = '') -> str:
    """Exit 2, one error line matching every pattern; returns it.

    Progress lines of a conversion that ran for a while may precede it, and
    lines matching `also` (a warning the case expects).
    """
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip()
        and not PROGRESS.match(line)
        and not (also and re.search(also, line))
    ]
    self.assertEqual(result.returncode, 2, result.stderr[-3000:])
    self.assertNotIn('Traceback', result.stderr)
    self.assertLen(lines, 1, result.stderr[-3000:])
    for pattern in patterns:
      self.assertRegex(lines[0], pattern)
    return lines[0]


class SourceCopies(Refusals):
  """Cases on private copies of sources, which must not lose a byte.

  `cls.root` holds what the class builds once; each case works in
  `self.work`, and every copy made by `copy_source` is compared by sha256
  with what it was when the case ends.
  """

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    test_tmpdir = absltest.get_default_test_tmpdir()
    os.makedirs(test_tmpdir, exist_ok=True)
    cls.root = tempfile.mkdtemp(dir=test_tmpdir)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def setUp(self):
    super().setUp()
    self.work = self.create_tempdir().full_path
    self.before = {}

  def tearDown(self):
    # Whatever the case, no source lost a byte.
    for directory, before in self.before.items():
      self.assertEqual(digests(directory), before, directory)
    super().tearDown()

  def copy_source(self, original: str, as_name: str = 'v1', mutate=None) -> str:
    """A private copy of `original` in `self.work`, changed by `mutate`."""
    directory = os.path.join(self.work, as_name)
    shutil.copytree(original, directory)
    if mutate:
      mutate(directory)
    self.before[directory] = digests(directory)
    return directory
